"""Model-only throughput through Triton: `colog` rows/s and `colog_embedder` sentences/s at batch
sizes 1 to 512, with several requests in flight (tritonclient over gRPC, real inputs).

Inputs are the demo data's own rows: the masked messages of the five bundled Loghub samples
for the embedder, and for `colog` token rows and windows built from them (the model's cost
depends on the real token lengths, not on what the values mean).

    .venv/bin/python benchmarks/triton_throughput.py [--url 127.0.0.1:8001] [--seconds 5]
        [--concurrency 4] [--batches 1,8,32,64,128,256,512] [--json OUT]

Run by `benchmarks/gpu.sh` on a GPU host; on the local CPU stack it gives the CPU figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def demo_inputs(max_tokens: int, window_rows: int):
    from colog.app.demo import demo_records
    from colog.core.features.semantic import SemanticTokenizer
    from colog.core.parsing.masking import mask_message

    messages = [mask_message(r.message) for r in demo_records()]
    tokens = SemanticTokenizer(max_tokens=max_tokens).encode(messages)
    rng = np.random.default_rng(0)
    # Unit vectors of the embedding's scale stand in for the windows' embeddings.
    sequence = rng.normal(size=(len(messages), window_rows, 384)).astype(np.float32)
    sequence /= np.linalg.norm(sequence, axis=2, keepdims=True)
    return messages, tokens, sequence, np.ones((len(messages), window_rows), np.float32)


def measure(call, batch: int, total_rows: int, seconds: float, concurrency: int) -> dict:
    """Rows per second with `concurrency` requests of `batch` rows in flight."""
    offsets = iter(range(0, 10**9, batch))
    call(0, batch)  # warm-up (TensorRT builds its engine on the first call of a shape)
    deadline = time.perf_counter() + seconds
    done = [0]
    latencies: list[float] = []

    def loop():
        while time.perf_counter() < deadline:
            start = next(offsets) % max(1, total_rows - batch)
            began = time.perf_counter()
            call(start, batch)
            latencies.append(time.perf_counter() - began)
            done[0] += batch

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(loop) for _ in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - began
    return {"batch": batch, "rows_per_s": done[0] / elapsed,
            "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p99_ms": 1000 * float(np.percentile(latencies, 99))}


def main() -> int:
    from colog.core.serving.client import TritonClient
    from colog.core.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="Triton gRPC host:port (default: settings)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batches", default="1,8,32,64,128,256,512")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    client = TritonClient(settings, url=args.url)
    params = client.model_parameters()
    features = params.features
    messages, tokens, sequence, mask = demo_inputs(features.max_tokens, features.context_length)
    texts = np.array([[m.encode()] for m in messages], dtype=object)
    batches = [int(b) for b in args.batches.split(",")]
    limits = {"colog": client.max_batch_size(), "colog_embedder":
              client.max_batch_size(client.embedder_model)}

    def infer(start, batch):
        client.infer(tokens[start:start + batch], sequence[start:start + batch],
                     mask[start:start + batch], outputs=("probs",))

    def embed(start, batch):
        client._infer(client.embedder_model, [client._tensor("text", texts[start:start + batch],
                                                             "BYTES")], ("embedding",), "")

    results = {"url": client.url, "concurrency": args.concurrency, "colog": [],
               "colog_embedder": []}
    for name, call in (("colog", infer), ("colog_embedder", embed)):
        for batch in batches:
            if batch > limits[name]:
                print(f"{name}: batch {batch} is above its max_batch_size {limits[name]}: skipped")
                continue
            row = measure(call, batch, len(messages), args.seconds, args.concurrency)
            results[name].append(row)
            print(f"{name:15s} batch {batch:4d}: {row['rows_per_s']:10.1f} rows/s  "
                  f"p50 {row['p50_ms']:8.1f} ms  p99 {row['p99_ms']:8.1f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
