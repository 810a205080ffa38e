# CoLog worker image (CPU): runs `colog worker`, `colog beat`, `colog setup`, `colog health`, and
# the chart's trainer (`colog train --from-opensearch`, `colog rollback`).
# Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t colog:0.1.0 .
#
# The Python install is the same as deploy/local/install.sh's python_env step (tests/deploy checks
# it): upgrade pip and uv, then `uv pip install` the project from the repository root. The image
# installs the project non-editable and without the `dev` extra (no test tools in production).
#
# torch: PyPI's default torch wheel for Linux x86_64 bundles CUDA libraries (several GB). Where
# an index of CPU-only torch wheels is reachable, pass its URL as
#   --build-arg TORCH_INDEX=<index URL>
# to install the CPU-only wheel first (about 200 MB). None is reachable from the machines this
# project is developed on, so the default leaves torch to the configured package index.
FROM python:3.11-slim

ARG TORCH_INDEX=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/colog/venv \
    PATH=/opt/colog/venv/bin:$PATH \
    HOME=/tmp \
    COLOG_CACHE_DIR=/var/cache/colog \
    COLOG_TRITON_TEMPLATES=/opt/colog/triton_models

# Non-root user; the chart runs every pod as this uid (runAsUser 10001).
RUN groupadd --system --gid 10001 colog \
 && useradd --system --uid 10001 --gid colog --home-dir /nonexistent --shell /usr/sbin/nologin colog \
 && mkdir -p /var/cache/colog && chown colog:colog /var/cache/colog

WORKDIR /src
# Dependency metadata first, so code edits do not invalidate the dependency layer.
COPY pyproject.toml README.md* ./
COPY colog ./colog
COPY enricher ./enricher
COPY trainer ./trainer
COPY drift ./drift
COPY shadow ./shadow

RUN python -m venv "$VIRTUAL_ENV" \
 && "$VIRTUAL_ENV/bin/python" -m pip install -q --upgrade pip uv \
 && if [ -n "$TORCH_INDEX" ]; then \
      "$VIRTUAL_ENV/bin/uv" pip install -q --python "$VIRTUAL_ENV/bin/python" --index-url "$TORCH_INDEX" torch; \
    fi \
 && "$VIRTUAL_ENV/bin/uv" pip install -q --python "$VIRTUAL_ENV/bin/python" . \
 && colog --help >/dev/null \
 && rm -rf /src

# The trainer and `colog publish`/`colog rollback` place versions from these templates
# (colog/core/serving/repository.py reads COLOG_TRITON_TEMPLATES).
COPY triton_models /opt/colog/triton_models

WORKDIR /
USER 10001:10001
# Prometheus metrics of `colog worker` (COLOG_METRICS_PORT).
EXPOSE 9108
ENTRYPOINT ["colog"]
CMD ["worker"]
