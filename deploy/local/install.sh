#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (Python 3.11, Java 17, Maven):
# Debian packages, the Python environment, and the OpenSearch distribution from Maven Central.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
step() { printf '\n== %s\n' "$*"; }
timed() { local t0=$SECONDS; "$@"; printf '   (%s: %ds)\n' "$1" $((SECONDS - t0)); }

apt_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  if ((${#missing[@]})); then
    step "Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    step "Debian packages: already installed"
  fi
  # The Debian package starts a system redis on 6379; the project runs its own on loopback.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
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
