# Triton image for CoLog: NVIDIA's Triton server plus the colog package, which the Python backend
# models (triton_models/colog, triton_models/colog_embedder) import together with torch.
# Build from the repository root:
#   docker build -f deploy/docker/triton.Dockerfile -t colog-triton:0.1.0 .
#   docker build -f deploy/docker/triton.Dockerfile --build-arg MODEL_REPOSITORY=dist/models ...
#
# MODEL_REPOSITORY is baked at /opt/colog/model-repository. The chart's init container copies it
# into a writable volume (and switches KIND_CPU to KIND_GPU on GPU nodes); with
# triton.modelRepository.source=pvc the baked copy is ignored and the PVC is served instead.
# Bake a *live* repository (config.pbtxt plus numbered versions, as `colog serve`/`colog publish`
# write it), not only the templates under triton_models/, or Triton has no version to load.
#
# Triton's Python backend runs model.py with the image's own python3 (3.12 in the Ubuntu 24.04
# based 25.xx images, 3.10 in 23.xx/24.xx), because its backend stub is built against it. The
# package is installed into that interpreter with the worker image's dependency set.
# KNOWN BLOCKER: pyproject.toml says requires-python ">=3.11,<3.12", which no NVIDIA Triton image
# satisfies; the pip step below fails until that range includes 3.12 (see docs/operations.md).
ARG TRITON_VERSION=25.01
FROM nvcr.io/nvidia/tritonserver:${TRITON_VERSION}-py3

ARG MODEL_REPOSITORY=triton_models
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp

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

COPY ${MODEL_REPOSITORY} /opt/colog/model-repository
# A writable mount point owned by the server user (docker compose's named volume inherits it).
RUN mkdir -p /models && chown 1000:1000 /models
WORKDIR /
# triton-server (uid 1000) exists in NVIDIA's image; the chart overrides the uid anyway.
USER 1000
EXPOSE 8000 8001 8002
ENTRYPOINT ["tritonserver"]
CMD ["--model-repository=/opt/colog/model-repository", "--model-control-mode=explicit", "--load-model=*"]
