#!/usr/bin/env bash
# Builds the pinned helm v3 binary into <repo>/.cache/tools/helm from the Go module proxy.
#
# Why build instead of downloading a release tarball: CI reaches only package registries (PyPI,
# Maven Central, npm, the Go module proxy, Debian), and get.helm.sh is none of them.
# When no usable `go` is installed, the Go toolchain itself is fetched from the Go module proxy
# (module golang.org/toolchain), checked against a pinned SHA-256, and unpacked under .cache/tools.
# Reused when .cache/tools/helm is already the pinned version. Prints how long each step took.
#
# Env: HELM_VERSION (default below), GO (a go binary to use), GOPROXY (default proxy.golang.org).
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
# The Kubernetes version helm assumes without a cluster (.Capabilities.KubeVersion, kubeVersion
# checks, lint deprecations). helm's Makefile derives it from its client-go (v0.36 -> 1.36); a plain
# `go install` would leave the 1.20 fallback, which fails any chart with a newer kubeVersion floor.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-36}"
# helm v3.21's go.mod says `go 1.26.0`; older local toolchains switch to this one by themselves
# (GOTOOLCHAIN=auto, again via the module proxy), so it is needed only when there is no go at all.
GO_TOOLCHAIN_VERSION="1.26.8"
GO_TOOLCHAIN_SHA256_amd64="30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7"
GO_TOOLCHAIN_SHA256_arm64=""   # not pinned yet: on arm64 install Go or set GO
PROXY="${GOPROXY:-https://proxy.golang.org}"
PROXY="${PROXY%%,*}"

cd "$(dirname "$0")/../.."
TOOLS="$(pwd)/.cache/tools"
HELM="$TOOLS/helm"
die() { echo "install_helm.sh: $*" >&2; exit 2; }

LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  LDFLAGS+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
RECIPE="$HELM_VERSION $LDFLAGS"

# Reuse only a binary built by this exact recipe (.recipe is written after a successful build).
if [[ -x "$HELM" && -f "$HELM.recipe" && "$(cat "$HELM.recipe")" == "$RECIPE" ]] \
   && "$HELM" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "helm $HELM_VERSION: already at $HELM"
  exit 0
fi
mkdir -p "$TOOLS"

find_go() {
  if [[ -n "${GO:-}" ]]; then echo "$GO"; return; fi
  if command -v go >/dev/null; then command -v go; return; fi
  for candidate in /usr/local/go/bin/go "$TOOLS/go/bin/go"; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 0
}

fetch_go() {
  local arch zip sha want url
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no Go toolchain for $(uname -m); install Go >= 1.21 or put helm $HELM_VERSION at $HELM" ;;
  esac
  want="GO_TOOLCHAIN_SHA256_$arch"; want="${!want}"
  url="$PROXY/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch.zip"
  zip="$TOOLS/go-toolchain.zip"
  local t0=$SECONDS
  echo "go: not installed; fetching go$GO_TOOLCHAIN_VERSION from $url" >&2
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$zip" "$url" || die "could not download $url (is the Go module proxy reachable?)"
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$zip" \
      || die "could not download $url (is the Go module proxy reachable?)"
  fi
  sha="$(sha256sum "$zip" | cut -d' ' -f1)"
  [[ -n "$want" ]] || { rm -f "$zip"; die "no pinned checksum for the $arch toolchain; install Go or set GO"; }
  if [[ "$sha" != "$want" ]]; then
    rm -f "$zip"; die "go toolchain checksum mismatch: got $sha, want $want"
  fi
  rm -rf "$TOOLS/go" "$TOOLS/go-unpack"
  mkdir -p "$TOOLS/go-unpack"
  # The module zip holds golang.org/toolchain@<version>/{bin,pkg,src,...}.
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$TOOLS/go-unpack"
  else
    python3 -m zipfile -e "$zip" "$TOOLS/go-unpack"
    # Python's zipfile drops the executable bits.
    find "$TOOLS/go-unpack" \( -path '*/bin/*' -o -path '*/pkg/tool/*' \) -type f -exec chmod +x {} +
  fi
  mv "$TOOLS/go-unpack"/golang.org/toolchain@*/ "$TOOLS/go"
  rm -rf "$TOOLS/go-unpack" "$zip"
  echo "go: go$GO_TOOLCHAIN_VERSION unpacked in $((SECONDS - t0))s" >&2
  echo "$TOOLS/go/bin/go"
}

GO_BIN="$(find_go)"
[[ -n "$GO_BIN" ]] || GO_BIN="$(fetch_go)"
"$GO_BIN" version >/dev/null 2>&1 || die "$GO_BIN does not run"

t0=$SECONDS
echo "helm $HELM_VERSION: building with $("$GO_BIN" version | cut -d' ' -f3) into $TOOLS ..."
# CGO off: a static binary with no C toolchain needed. -s -w: no debug info (smaller, faster link).
# -modcacherw: module cache files stay deletable by a plain rm -rf.
if ! GOBIN="$TOOLS" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -modcacherw" \
  "$GO_BIN" install -trimpath -ldflags "$LDFLAGS" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; then
  die "building helm $HELM_VERSION failed (see the go output above)"
fi
printf '%s' "$RECIPE" > "$HELM.recipe"
echo "helm $HELM_VERSION: built in $((SECONDS - t0))s -> $("$HELM" version --short)"
