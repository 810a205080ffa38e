"""gRPC vs HTTP to the local Triton: latency and rows/s of `colog` and `colog_embedder`.

Starts its own tritonserver on free ports (temporary cache directory) with a small CoLog model
on full-size inputs (random weights: the protocol cost does not depend on them), then sends the same
requests over both protocols, alternating, so both see the same machine state.

    .venv/bin/python benchmarks/triton_protocol.py [--requests 60] [--model MODEL_DIR]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colog.app.stack import process  # noqa: E402
from colog.app.stack import triton as stack_triton  # noqa: E402
from colog.core.serving import repository  # noqa: E402
from colog.core.serving.client import TritonClient  # noqa: E402
from colog.core.settings import Settings  # noqa: E402
from tests.fixtures.triton import build_tiny_model, sample_inputs  # noqa: E402


def default_model(out: Path) -> Path:
    # Small network, full-size inputs (60 tokens, 3x384 window): compute stays ~1 ms, so the
    # numbers show what the protocol costs (serialisation, transport), not the model.
    return build_tiny_model(out, seed=0, max_tokens=60)


def measure(fn, requests: int) -> list[float]:
    fn()  # warm-up: connection, first-request allocations
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    # A timeout's SIGTERM must still run the `finally` that stops the server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="colog-bench-triton-"))
    http, grpc, metrics = (process.free_port() for _ in range(3))
    settings = Settings(cache_dir=root, triton_url=f"127.0.0.1:{grpc}",
                                  triton_http_url=f"127.0.0.1:{http}", triton_metrics_port=metrics)
    repo = repository.assemble(repository.live_repository(settings))
    model_dir = args.model or default_model(root / "model")
    repository.place_version(repo, model_dir)
    params = repository.feature_parameters(model_dir)
    started = time.perf_counter()
    stack_triton.start(settings)
    print(f"tritonserver ready in {time.perf_counter() - started:.1f}s")
    try:
        clients = {p: TritonClient(settings, protocol=p) for p in ("grpc", "http")}
        texts = [f"connection from <IP> closed after {i} ms" for i in range(32)]
        cases = []
        for rows in (1, 64):
            inputs = sample_inputs(rows, window=params.features.window,
                                    max_tokens=params.features.max_tokens)
            cases.append((f"colog B={rows}", rows, lambda c, x=inputs: c.infer(*x)))
        cases.append(("embedder B=32", 32, lambda c: c.embed(texts)))
        print(f"{'case':<16}{'protocol':<10}{'p50 ms':>9}{'p95 ms':>9}{'rows/s':>10}")
        for label, rows, call in cases:
            results = {p: [] for p in clients}
            for _ in range(2):  # alternate protocols in two rounds
                for name, client in clients.items():
                    results[name] += measure(lambda c=client, call=call: call(c), args.requests // 2)
            for name, times in results.items():
                p50 = statistics.median(times) * 1000
                p95 = sorted(times)[int(0.95 * (len(times) - 1))] * 1000
                print(f"{label:<16}{name:<10}{p50:>9.2f}{p95:>9.2f}{rows / statistics.mean(times):>10.0f}")
    finally:
        stack_triton.stop(settings)


if __name__ == "__main__":
    main()
