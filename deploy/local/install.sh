#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (Python 3.11, Java 17, Maven):
# Debian packages, the Python environment, and the engine distributions from Maven Central:
# OpenSearch $OPENSEARCH_2 (the local stack's default, Java 17), and for the test matrix
# OpenSearch $OPENSEARCH_3 and Elasticsearch $ELASTICSEARCH_9 (both need Java 21+).
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
# The engine matrix of `make test` (the Makefile passes its own values).
OPENSEARCH_2=${OPENSEARCH_2:-2.19.1}
OPENSEARCH_3=${OPENSEARCH_3:-3.8.0}
ELASTICSEARCH_9=${ELASTICSEARCH_9:-9.1.0}
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
  # A real log shipper for the shipping tests (tests/integration/test_shipped_logs.py) and for
  # users (deploy/rsyslog/colog.conf). The tests run it in the foreground on their own ports.
  [[ -x /usr/sbin/rsyslogd ]] || missing+=(rsyslog)
  compgen -G "/usr/lib/*/rsyslog/omelasticsearch.so" >/dev/null || missing+=(rsyslog-elasticsearch)
  if ((${#missing[@]})); then
    step "Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    step "Debian packages: already installed"
  fi
  # The Debian package may start a system redis on 6379; the project runs its own on loopback.
  # (A system rsyslog is left alone: the tests run their own on free ports.)
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    as_root systemctl stop redis-server || true
  elif command -v service >/dev/null && service redis-server status >/dev/null 2>&1; then
    as_root service redis-server stop >/dev/null || true
  fi
}

# syslog-ng, the second real shipper of the shipping tests (deploy/syslog-ng/colog.conf).
# Debian's syslog-ng-core conflicts with rsyslog (both provide system-log-daemon: installing one
# removes the other), so its packages are unpacked under .cache/tools/syslog-ng instead of
# installed; their library dependencies are installed as usual. A syslog-ng already on PATH is
# what the tests use.
SYSLOG_NG_DIR=.cache/tools/syslog-ng
SYSLOG_NG_PACKAGES=(syslog-ng-core syslog-ng-mod-http)
syslog_ng() {
  if command -v syslog-ng >/dev/null || compgen -G "$SYSLOG_NG_DIR/usr/lib/syslog-ng/*/libhttp.so" >/dev/null; then
    step "syslog-ng: already there"
    return
  fi
  step "syslog-ng: Debian's ${SYSLOG_NG_PACKAGES[*]}, unpacked under $SYSLOG_NG_DIR"
  local debs
  debs=$(mktemp -d)
  # `apt-get download` needs the package lists, which a fresh machine may not have yet.
  (cd "$debs" && apt-get download -qq "${SYSLOG_NG_PACKAGES[@]}" 2>/dev/null) || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$debs" && apt-get download -qq "${SYSLOG_NG_PACKAGES[@]}")
  }
  # Their dependencies, less the syslog-ng packages themselves: "a (>= 1) | b, c" -> a c.
  local deps missing=()
  deps=$(for deb in "$debs"/*.deb; do dpkg-deb -f "$deb" Depends; done \
    | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/ //g' | grep -v '^syslog-ng' | sort -u)
  for dep in $deps; do dpkg -s "$dep" >/dev/null 2>&1 || missing+=("$dep"); done
  if ((${#missing[@]})); then
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  mkdir -p "$SYSLOG_NG_DIR"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$SYSLOG_NG_DIR"; done
  rm -rf "$debs"
}

python_env() {
  step "Python environment (.venv)"
  if [[ ! -x .venv/bin/python ]]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip uv
  .venv/bin/uv pip install -q --python .venv/bin/python -e ".[dev]"
}

# OpenSearch 3.x and Elasticsearch 9.x need Java 21+. colog.app.stack.java looks in the engine's
# own variable, JAVA_HOME, /usr/lib/jvm and PATH; when none fits, the Debian package is tried
# (it exists from Debian 13 on), else the exact thing to install is said and install fails.
engine_java() {
  step "Java for the engine matrix"
  .venv/bin/python -m colog.app.stack.java opensearch "$OPENSEARCH_2"
  if ! .venv/bin/python -m colog.app.stack.java opensearch "$OPENSEARCH_3" 2>/dev/null; then
    if apt-cache show openjdk-21-jre-headless >/dev/null 2>&1; then
      as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends openjdk-21-jre-headless >/dev/null
    fi
    .venv/bin/python -m colog.app.stack.java opensearch "$OPENSEARCH_3" || {
      echo "install: OpenSearch $OPENSEARCH_3 and Elasticsearch $ELASTICSEARCH_9 need Java 21 or" \
           "newer: install openjdk-21-jre-headless (Debian 13+) or a Temurin 21+ JDK under" \
           "/usr/lib/jvm, or set JAVA_HOME to one, then run this again" >&2
      exit 1
    }
  fi
  .venv/bin/python -m colog.app.stack.java elasticsearch "$ELASTICSEARCH_9"
}

engine_dists() {
  step "Engine distributions (Maven Central)"
  COLOG_OPENSEARCH_VERSION=$OPENSEARCH_2 .venv/bin/python -m colog.app.stack.opensearch fetch
  COLOG_OPENSEARCH_VERSION=$OPENSEARCH_3 .venv/bin/python -m colog.app.stack.opensearch fetch
  COLOG_ELASTICSEARCH_VERSION=$ELASTICSEARCH_9 .venv/bin/python -m colog.app.stack.elasticsearch fetch
}

timed apt_packages
timed syslog_ng
timed python_env
timed engine_java
timed engine_dists
echo
echo "install: done in ${SECONDS}s"
