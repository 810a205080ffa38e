# Triton image for CoLog: NVIDIA's Triton server plus the colog package, which the Python backend
# models (triton_models/colog, triton_models/colog_embedder) import together with torch, and a
# live model repository with a first version.
# Build from the repository root, with a model directory written by `colog train`:
#   colog train --data samples/... --out dist/seed-model
#   docker build -f deploy/docker/triton.Dockerfile -t colog-triton:0.1.0 .
#   docker build -f deploy/docker/triton.Dockerfile --build-arg SEED_MODEL=path/to/model ...
#
# The build step `python3 -m colog.core.serving.seed build` assembles the repository (configs, the
# embedder, `colog` version 1 from SEED_MODEL) at /opt/colog/model-repository: Triton's
# explicit mode with --load-model=colog does not start on a `colog` model without a version, so the
# bare templates under triton_models/ could never be served. In the chart (modelRepository.source
# pvc, the default) an init container seeds the shared volume from it on first install
# (`python3 -m colog.core.serving.seed seed`); with source=image the pod serves a copy of it.
#
# Triton's Python backend runs model.py with the image's own python3 (3.12 in the Ubuntu 24.04
# based 25.xx images, 3.10 in the 23.xx/24.xx ones), because its backend stub is built against
# it. pyproject.toml's requires-python ">=3.11,<3.13" admits 3.12, so the project installs into
# a 25.xx image's interpreter (tests/deploy/test_dockerfiles.py keeps the two in step); a 24.xx
# or older base does not satisfy it. (This replaces an earlier note about ">=3.11,<3.12", which
# no NVIDIA image satisfied.) No image is built in CI here (no Docker engine).
ARG TRITON_VERSION=25.01
FROM nvcr.io/nvidia/tritonserver:${TRITON_VERSION}-py3

ARG SEED_MODEL=dist/seed-model
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp \
    COLOG_TRITON_TEMPLATES=/opt/colog/triton_models

WORKDIR /src
COPY pyproject.toml README.md* ./
COPY colog ./colog
COPY enricher ./enricher
COPY trainer ./trainer
COPY drift ./drift
COPY shadow ./shadow
# The server image already carries CUDA; the default PyPI torch wheel brings its own CUDA runtime.
RUN python3 -m pip install -q --break-system-packages --upgrade pip uv \
 && uv pip install -q --system --break-system-packages . \
 && python3 -c "import colog, torch; print('torch', torch.__version__)" \
 && rm -rf /src

# Model code and config templates (the seed step and `colog.core.serving.repository` read them).
COPY triton_models /opt/colog/triton_models
COPY ${SEED_MODEL} /tmp/seed-model
RUN python3 -m colog.core.serving.seed build --model /tmp/seed-model --out /opt/colog/model-repository \
 && rm -rf /tmp/seed-model
# A writable mount point owned by the server user (docker compose's named volume inherits it).
RUN mkdir -p /models && chown 1000:1000 /models
WORKDIR /
# triton-server (uid 1000) exists in NVIDIA's image; the chart overrides the uid anyway.
USER 1000
EXPOSE 8000 8001 8002
ENTRYPOINT ["tritonserver"]
# The live models by name: the GPU embedder's steps (colog_tokenizer, colog_sentence) load with
# the colog_embedder ensemble under --model-config-name=gpu, never on a CPU-only host.
CMD ["--model-repository=/opt/colog/model-repository", "--model-control-mode=explicit", "--load-model=colog", "--load-model=colog_embedder"]
