#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (Python 3.11, Java 17, Maven):
# Debian packages, the Python environment, and the OpenSearch distribution from Maven Central.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
step() { printf '\n== %s\n' "$*"; }
timed() { local t0=$SECONDS; "$@"; printf '   (%s: %ds)\n' "$1" $((SECONDS - t0)); }

# Root runs apt-get directly; anyone else needs sudo (and is told so when it is missing).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install: need root for: $* (no sudo here); run that as root, then this again" >&2; exit 1
  fi
}

apt_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  if ((${#missing[@]})); then
    step "Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    step "Debian packages: already installed"
  fi
  # The Debian package may start a system redis on 6379; the project runs its own on loopback.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    as_root systemctl stop redis-server || true
  elif command -v service >/dev/null && service redis-server status >/dev/null 2>&1; then
    as_root service redis-server stop >/dev/null || true
  fi
}

python_env() {
  step "Python environment (.venv)"
  if [[ ! -x .venv/bin/python ]]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip uv
  .venv/bin/uv pip install -q --python .venv/bin/python -e ".[dev]"
}

opensearch_dist() {
  step "OpenSearch distribution (Maven Central)"
  .venv/bin/python -m colog.stack.opensearch fetch
}

timed apt_packages
timed python_env
timed opensearch_dist
echo
echo "install: done in ${SECONDS}s"
