"""What shadow scoring costs the live path: the demo data enriched without a shadow, with the
live model's own copy in shadow, and without again, in one run and one process.

The shadow reuses the rows built for the live model, so its cost should be its own inference
calls and nothing else. The figure to read is `extra seconds / shadow inference seconds`:
1.0 means the live path paid exactly the candidate's inference time. The embedding cache is
warmed first, so all three passes read embeddings from Redis alike.

    .venv/bin/python benchmarks/shadow_overhead.py [--write-results]

Needs the local stack with a served model (`make demo` leaves one); changes nothing but its
own index `logs-bench-shadow` and the shadow model, which it stops at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECTION = "## Shadow scoring overhead (benchmarks/shadow_overhead.py)"
INDEX = "logs-bench-shadow"


def _histogram_sum(histogram) -> float:
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                return float(sample.value)
    return 0.0


def one_pass(settings, label: str) -> dict:
    from colog.app.bench import reset_status
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    ctx = build_context(settings)
    reset_status(ctx.client, INDEX)
    live_before = _histogram_sum(ctx.metrics.triton_seconds)
    shadow_before = _histogram_sum(ctx.metrics.shadow_seconds)
    started = time.perf_counter()
    summary = run_pass(ctx, flush=True, progress=False)
    seconds = time.perf_counter() - started
    return {"pass": label, "documents": summary.scored, "seconds": seconds,
            "live_inference_s": _histogram_sum(ctx.metrics.triton_seconds) - live_before,
            "shadow_inference_s": _histogram_sum(ctx.metrics.shadow_seconds) - shadow_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--repeats", type=int, default=2, help="passes with a shadow")
    args = parser.parse_args()

    from colog.app.bench import copy_demo_data
    from colog.core.engine.opensearch_client import make_client
    from colog.core.settings import get_settings
    from colog.services.shadow import deployment
    from colog.services.train.release import live_version

    settings = get_settings().model_copy(update={"index_pattern": INDEX,
                                                 "shadow_check_s": 0.0})
    live = live_version(settings)
    if live is None:
        raise SystemExit("no live model in the Triton repository: run `make demo` first")
    client = make_client(settings)
    print(f"loading demo data into {INDEX}: {copy_demo_data(client, INDEX):.1f}s")
    deployment.stop(settings)
    one_pass(settings, "warm-up (fills the embedding cache)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        import shutil

        candidate = Path(tmp) / "candidate"
        shutil.copytree(live[1], candidate)
        # Alternate, so drift of the machine's speed over the run hits both sides alike.
        for _ in range(args.repeats):
            rows.append(one_pass(settings, "without shadow"))
            deployment.start(settings, candidate)
            try:
                rows.append(one_pass(settings, "with shadow (a copy of the live model)"))
            finally:
                deployment.stop(settings)
        rows.append(one_pass(settings, "without shadow"))
    client.indices.delete(index=INDEX, params={"ignore_unavailable": "true"})

    mean = lambda values: sum(values) / len(values)  # noqa: E731
    plain = [r for r in rows if r["shadow_inference_s"] == 0]
    shadowed = [r for r in rows if r["shadow_inference_s"] > 0]
    without = mean([r["seconds"] for r in plain])
    extra = mean([r["seconds"] for r in shadowed]) - without
    shadow_s = mean([r["shadow_inference_s"] for r in shadowed])
    live_extra = mean([r["live_inference_s"] for r in shadowed]) - mean(
        [r["live_inference_s"] for r in plain])
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}"
    lines = [f"Machine: {machine}. Live model version {live[0]} on the local CPU Triton; demo "
             "data (10,000 documents), embedding cache warm; passes alternate without / with.", "",
             "| pass | documents | seconds | docs/s | live inference s | shadow inference s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['pass']} | {r['documents']} | {r['seconds']:.1f} | "
                     f"{r['documents'] / r['seconds']:.0f} | {r['live_inference_s']:.1f} | "
                     f"{r['shadow_inference_s']:.1f} |")
    ratio = extra / shadow_s if shadow_s else float("nan")
    lines += ["", f"Means: a pass with the shadow took {extra:.1f} s more than one without; "
              f"the shadow's own inference calls took {shadow_s:.1f} s of it: extra / shadow "
              f"inference = {ratio:.2f} (1.0 = the live path paid exactly the candidate's "
              f"inference time). The live model's own inference time changed by "
              f"{live_extra:+.1f} s with the shadow beside it (both models share Triton's CPU)."]
    text = "\n".join(lines) + "\n"
    print("\n" + SECTION + "\n\n" + text)
    if args.write_results:
        from colog.app.reporting import RESULTS, replace_section

        replace_section(RESULTS, SECTION, text)


if __name__ == "__main__":
    main()
