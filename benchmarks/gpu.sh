#!/usr/bin/env bash
# GPU throughput of the served models, for a lent GPU host (H100/H200 class). Prints and writes:
#   - model-only: `colog` rows/s and `colog_embedder` sentences/s through Triton at batch sizes
#     1 to 512 (benchmarks/triton_throughput.py, tritonclient; perf_analyzer too when on PATH);
#   - end to end: `colog bench --synthetic 0` (demo data) with Triton on the GPU.
# Needs: the project installed (`make install`), a model directory (MODEL_DIR, default: train the
# demo's model), and a tritonserver with the onnxruntime backend (TRITONSERVER, default: the one
# on PATH, e.g. an NGC Triton image; nvidia-pytriton's wheel carries the Python backend only,
# which serves `colog` on the GPU but not the onnxruntime embedder ensemble).
#   bash benchmarks/gpu.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-benchmarks/gpu-results}}
mkdir -p "$OUT"
PY=.venv/bin/python
TRITONSERVER=${TRITONSERVER:-$(command -v tritonserver || true)}
export COLOG_TRITON_INSTANCE_KIND=KIND_GPU
export COLOG_CACHE_DIR=${COLOG_CACHE_DIR:-$PWD/.cache/gpu-bench}
REPO=$COLOG_CACHE_DIR/triton/models

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >"$OUT/gpu.txt" 2>&1; then
  echo "gpu.sh: no GPU here (nvidia-smi found none): nothing measured" >&2
  exit 2
fi
cat "$OUT/gpu.txt"
if [[ -z "$TRITONSERVER" ]]; then
  echo "gpu.sh: no tritonserver with the onnxruntime backend on PATH; set TRITONSERVER" >&2
  exit 2
fi

if [[ -z "${MODEL_DIR:-}" ]]; then  # the demo's own model (trained once into the cache dir)
  MODEL_DIR=$($PY -c "from rich.console import Console; from colog.core.settings import Settings
from colog.app.demo import ensure_model; print(ensure_model(Settings(), Console(stderr=True)))")
fi
$PY - <<PYEOF
from pathlib import Path
from colog.core.serving import repository
repo = repository.assemble(Path("$REPO"), "KIND_GPU")
print("placed version", repository.place_version(repo, Path("$MODEL_DIR"), "KIND_GPU"))
PYEOF

"$TRITONSERVER" --model-repository="$REPO" --model-control-mode=explicit \
  --load-model=colog --load-model=colog_embedder --model-config-name=gpu \
  --http-port=8000 --grpc-port=8001 --metrics-port=8002 >"$OUT/tritonserver.log" 2>&1 &
TRITON_PID=$!
trap 'kill $TRITON_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf localhost:8000/v2/health/ready >/dev/null && break
  sleep 2
done
curl -sf localhost:8000/v2/health/ready >/dev/null || { tail -50 "$OUT/tritonserver.log"; exit 1; }

$PY benchmarks/triton_throughput.py --url 127.0.0.1:8001 --concurrency 8 \
  --json "$OUT/model_only.json" | tee "$OUT/model_only.txt"
if command -v perf_analyzer >/dev/null; then
  for b in 1 64 512; do
    perf_analyzer -m colog_embedder -b "$b" --input-data=random --shape text:1 \
      --concurrency-range 8 -i grpc -u localhost:8001 | tee -a "$OUT/perf_analyzer.txt"
  done
fi
COLOG_TRITON_URL=127.0.0.1:8001 COLOG_TRITON_HTTP_URL=127.0.0.1:8000 \
  .venv/bin/colog stack up --only engine,redis
COLOG_TRITON_URL=127.0.0.1:8001 COLOG_TRITON_HTTP_URL=127.0.0.1:8000 \
  .venv/bin/colog bench --synthetic 0 | tee "$OUT/end_to_end.txt"
echo "gpu.sh: results in $OUT"
