"""Resident memory of a CPU tritonserver serving the embedder and a CoLog model (sizing Triton).

Starts its own tritonserver (free ports, temporary repository: the embedder and a small CoLog
model as version 1), sends one embedding and one inference request so both models have run,
then sums VmRSS over the server and its Python backend stubs (one process per model
instance). Stops the server at the end.

    flock /tmp/colog-heavy.lock .venv/bin/python benchmarks/triton_memory.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures: the tiny model

from colog.app.stack import process  # noqa: E402
from colog.app.stack import triton as stack_triton  # noqa: E402
from colog.core.serving import repository  # noqa: E402
from colog.core.serving.client import TritonClient  # noqa: E402
from colog.core.settings import Settings  # noqa: E402
from tests.fixtures.triton import build_tiny_model, sample_inputs  # noqa: E402


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _group(pgid: int) -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    found[int(entry)] = Path(f"/proc/{entry}/comm").read_text().strip()
            except (OSError, ProcessLookupError):
                continue
    return found


def measure() -> dict:
    with tempfile.TemporaryDirectory(prefix="colog-triton-mem-") as tmp:
        root = Path(tmp)
        http, grpc, metrics = (process.free_port() for _ in range(3))
        settings = Settings(cache_dir=root / "cache", triton_url=f"127.0.0.1:{grpc}",
                            triton_http_url=f"127.0.0.1:{http}", triton_metrics_port=metrics)
        repo = repository.assemble(repository.live_repository(settings), "KIND_CPU")
        repository.place_version(repo, build_tiny_model(root / "model", seed=1))
        stack_triton.start(settings)
        try:
            client = TritonClient(settings)
            client.embed(["disk sda1 is full", "user admin logged in"])
            client.infer(*sample_inputs(4), outputs=("probs",))
            client.close()
            pid = process.running_pid(settings, stack_triton.NAME)
            members = _group(pid)
            rss = {p: _rss_kib(p) for p in members}
            return {"processes": {f"{members[p]}[{p}]": round(kib / 1024, 1) for p, kib in rss.items()},
                    "total_mib": round(sum(rss.values()) / 1024, 1)}
        finally:
            stack_triton.stop(settings)


if __name__ == "__main__":
    print(measure())
