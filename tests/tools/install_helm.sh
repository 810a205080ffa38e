#!/usr/bin/env bash
# Builds the pinned helm v3 binary into <repo>/.cache/tools/helm with the Go toolchain.
#
# Why build instead of downloading a release tarball: CI reaches only package registries (PyPI,
# Maven Central, npm, the Go module proxy, Debian), and helm's release downloads are none of them.
# Every download goes through the go command, so it uses the module proxy Go is configured with
# (`go env GOPROXY`); this script names no registry itself.
#
# Which go: $GO, else `go` on PATH, else /usr/local/go, else .cache/tools/go, else Debian's
# golang-go (apt). A go too old to build helm (or to switch toolchains itself, < 1.21) downloads
# the module golang.org/toolchain@<pinned> with `go mod download` (checked by the go checksum
# database, and against the pinned SHA-256 of its zip), unpacked under .cache/tools/go.
# Reused when .cache/tools/helm is already the pinned version, or copied from the user's cache
# (~/.cache/colog/tools) where an earlier checkout built it. Prints how long each step took.
#
# Env: HELM_VERSION (default below), GO (a go binary to use).
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
# The Kubernetes version helm assumes without a cluster (.Capabilities.KubeVersion, kubeVersion
# checks, lint deprecations). helm's Makefile derives it from its client-go (v0.36 -> 1.36); a plain
# `go install` would leave the 1.20 fallback, which fails any chart with a newer kubeVersion floor.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-36}"
# helm v3.21's go.mod says `go 1.26.0`: a go >= 1.21 switches to it by itself (GOTOOLCHAIN=auto,
# through the same proxy); an older one gets this toolchain fetched below.
GO_TOOLCHAIN_VERSION="1.26.8"
GO_TOOLCHAIN_SHA256_amd64="30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7"
GO_TOOLCHAIN_SHA256_arm64=""   # not pinned yet: on arm64 install Go >= 1.21 or set GO

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
# A binary of this exact recipe that an earlier checkout built on this machine (the user's cache,
# like Go's own build cache): a fresh clone copies it instead of building again.
SHARED="${XDG_CACHE_HOME:-$HOME/.cache}/colog/tools"
if [[ -x "$SHARED/helm" && -f "$SHARED/helm.recipe" && "$(cat "$SHARED/helm.recipe")" == "$RECIPE" ]] \
   && "$SHARED/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  cp "$SHARED/helm" "$HELM" && cp "$SHARED/helm.recipe" "$HELM.recipe"
  echo "helm $HELM_VERSION: copied from $SHARED"
  exit 0
fi

find_go() {
  if [[ -n "${GO:-}" ]]; then echo "$GO"; return; fi
  if command -v go >/dev/null; then command -v go; return; fi
  for candidate in /usr/local/go/bin/go "$TOOLS/go/bin/go" /usr/lib/go/bin/go; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 0
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "no go installed and no root to install Debian's golang-go; install Go or set GO"
  fi
}

debian_go() {
  command -v apt-get >/dev/null || die "no go installed and no apt-get; install Go >= 1.21 or set GO"
  echo "go: not installed; installing Debian's golang-go" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends golang-go ca-certificates >&2
  command -v go || echo /usr/lib/go/bin/go
}

# "go1.19.8" -> 119; used to decide whether this go can switch toolchains on its own.
go_minor() { "$1" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/'; }

fetch_toolchain() {  # $1: a working (old) go; prints the path of the fetched go
  local old=$1 arch want dir zip sha t0=$SECONDS
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no Go toolchain for $(uname -m); install Go >= 1.21 or put helm $HELM_VERSION at $HELM" ;;
  esac
  want="GO_TOOLCHAIN_SHA256_$arch"; want="${!want}"
  [[ -n "$want" ]] || die "no pinned checksum for the $arch toolchain; install Go >= 1.21 or set GO"
  local module="golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch"
  echo "go: $("$old" env GOVERSION) cannot build helm; fetching $module via $("$old" env GOPROXY)" >&2
  # Outside any module, so no go.mod decides anything; GOFLAGS=-modcacherw keeps it deletable.
  local json
  json="$(cd "$TOOLS" && GOFLAGS=-modcacherw GO111MODULE=on "$old" mod download -json "$module")" \
    || die "go mod download $module failed (is the Go module proxy reachable?)"
  dir="$(printf '%s' "$json" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
  zip="$(printf '%s' "$json" | sed -nE 's/^\s*"Zip": "(.*)",?$/\1/p')"
  [[ -d "$dir" && -f "$zip" ]] || die "go mod download gave no directory for $module: $json"
  sha="$(sha256sum "$zip" | cut -d' ' -f1)"
  [[ "$sha" == "$want" ]] || die "go toolchain checksum mismatch: got $sha, want $want"
  rm -rf "$TOOLS/go"
  cp -R "$dir" "$TOOLS/go"
  chmod -R u+w "$TOOLS/go"
  # Module zips carry no file modes: make the toolchain's programs executable again.
  find "$TOOLS/go" \( -path '*/bin/*' -o -path '*/pkg/tool/*' \) -type f -exec chmod +x {} +
  echo "go: go$GO_TOOLCHAIN_VERSION unpacked in $((SECONDS - t0))s" >&2
  echo "$TOOLS/go/bin/go"
}

GO_BIN="$(find_go)"
[[ -n "$GO_BIN" ]] || GO_BIN="$(debian_go)"
"$GO_BIN" version >/dev/null 2>&1 || die "$GO_BIN does not run"
if (( $(go_minor "$GO_BIN") < 21 )) || [[ -n "${HELM_FETCH_TOOLCHAIN:-}" ]]; then
  GO_BIN="$(fetch_toolchain "$GO_BIN")"
  "$GO_BIN" version >/dev/null 2>&1 || die "$GO_BIN (fetched) does not run"
fi

t0=$SECONDS
echo "helm $HELM_VERSION: building with $("$GO_BIN" version | cut -d' ' -f3) into $TOOLS ..."
# CGO off: a static binary with no C toolchain needed. -s -w: no debug info (smaller, faster link).
# -modcacherw: module cache files stay deletable by a plain rm -rf. GOTOOLCHAIN=auto: a go older
# than helm's go.mod fetches the newer toolchain through its own configured proxy.
if ! GOBIN="$TOOLS" CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:-} -modcacherw" \
  "$GO_BIN" install -trimpath -ldflags "$LDFLAGS" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; then
  die "building helm $HELM_VERSION failed (see the go output above)"
fi
printf '%s' "$RECIPE" > "$HELM.recipe"
mkdir -p "$SHARED" && cp "$HELM" "$SHARED/helm.tmp" && mv "$SHARED/helm.tmp" "$SHARED/helm" \
  && cp "$HELM.recipe" "$SHARED/helm.recipe"
echo "helm $HELM_VERSION: built in $((SECONDS - t0))s -> $("$HELM" version --short)"
