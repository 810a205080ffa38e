"""End-to-end enrichment throughput (`colog bench`): documents per second through the real
OpenSearch, Redis and Triton on this machine.

Scenarios, all in one run and one process:
- `demo data`: the five bundled Loghub samples (10,000 lines);
- `synthetic`: N documents (default 100,000) generated from the Loghub `*_templates.csv` event
  templates of the same samples, spread over 20 streams, `<*>` filled with random values;
- each with the Redis embedding cache on (cold at start) and off;
- a baseline in the same process: the same pass with a constant scorer (no embeddings, no
  model), i.e. the cost of reading, parsing, windowing and writing alone.
The reference is the paper's inference cost, 0.00343 s per sample on an A100 (CoLog, Table 12),
i.e. ~292 samples/s for the model alone.
"""

from __future__ import annotations

import csv
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from opensearchpy.helpers import streaming_bulk

from colog.settings import PROJECT_ROOT, Settings

PAPER_SECONDS_PER_SAMPLE = 0.00343
LOGHUB = Path("/work/shared/datasets/loghub")
TEMPLATE_SOURCES = ("HDFS", "Hadoop", "Zookeeper", "OpenSSH", "Apache")


@dataclass
class BenchResult:
    scenario: str
    documents: int
    seconds: float
    cache_hit_ratio: float | None

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


class ConstantScorer:
    """Baseline: answers instantly, so the pass measures everything but the model."""

    def __init__(self, spec):
        self.spec = spec

    def predict(self, modalities):
        n, k = modalities.sequence_mask.shape
        probs = np.zeros((n, len(self.spec.classes)), np.float32)
        probs[:, 0] = 1.0
        return {"probs": probs, "modality_weights": np.full((n, 2), 0.5, np.float32),
                "context_attention": modalities.sequence_mask / modalities.sequence_mask.sum(
                    axis=1, keepdims=True),
                "token_attention": (modalities.tokens > 0).astype(np.float32)}, "baseline"

    def embed(self, texts):
        return np.zeros((len(texts), 384), np.float32)


def template_files() -> list[Path]:
    bundled = PROJECT_ROOT / "samples" / "loghub"
    found = [LOGHUB / f"{name}_2k.log_templates.csv" for name in TEMPLATE_SOURCES]
    missing = [p for p in found if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"Loghub template files not found: {missing} (bundled samples "
                                f"are in {bundled}; templates come from the shared datasets)")
    return found


def _fill(template: str, rng: random.Random) -> str:
    parts = template.split("<*>")
    out = [parts[0]]
    for part in parts[1:]:
        choice = rng.random()
        if choice < 0.5:
            value = str(rng.randint(0, 99999))
        elif choice < 0.75:
            value = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        else:
            value = rng.choice(["alpha", "beta", "gamma", "delta", "node", "user", "task"])
        out.append(value + part)
    return "".join(out)


def synthetic_documents(n: int, index: str, seed: int = 1):
    rng = random.Random(seed)
    templates = []
    for path in template_files():
        with path.open(newline="", encoding="utf-8") as handle:
            templates += [row["EventTemplate"] for row in csv.DictReader(handle)]
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for i in range(n):
        stream = i % 20
        yield {"_op_type": "create", "_index": index, "_id": f"syn-{i}", "_source": {
            "@timestamp": (start + timedelta(milliseconds=i * 50)).isoformat().replace(
                "+00:00", "Z"),
            "message": _fill(rng.choice(templates), rng),
            "host": {"name": f"host-{stream % 5}"}, "log": {"file": {"path": f"/var/log/s{stream}.log"}},
            "event": {"sequence": i}}}


def load_synthetic(client, index: str, n: int) -> float:
    client.indices.delete(index=index, params={"ignore_unavailable": "true"})
    started = time.perf_counter()
    for ok, item in streaming_bulk(client, synthetic_documents(n, index), chunk_size=2000,
                                   raise_on_error=True):
        pass
    client.indices.refresh(index=index)
    return time.perf_counter() - started


def copy_demo_data(client, index: str) -> float:
    from enricher.demo import DEMO_LOGS, SAMPLES
    from enricher.ingest import ingest_file

    client.indices.delete(index=index, params={"ignore_unavailable": "true"})
    started = time.perf_counter()
    for name, fmt in DEMO_LOGS:
        ingest_file(client, SAMPLES / name, index, fmt=fmt, refresh=False)
    client.indices.refresh(index=index)
    return time.perf_counter() - started


def reset_status(client, index: str) -> None:
    """Back to pending: drop every colog field (a painless update_by_query)."""
    client.update_by_query(index=index, body={
        "query": {"exists": {"field": "colog"}},
        "script": {"source": "ctx._source.remove('colog')", "lang": "painless"}},
        params={"refresh": "true", "conflicts": "proceed", "wait_for_completion": "true"})


def flush_embedding_cache(redis_client) -> None:
    from enricher.embedding_cache import PREFIX

    keys = list(redis_client.scan_iter(match=PREFIX + "*", count=5000))
    for start in range(0, len(keys), 5000):
        redis_client.delete(*keys[start:start + 5000])


def measure(settings: Settings, index: str, scenario: str, cache: bool,
            baseline: bool = False) -> BenchResult:
    from enricher.context import build_context
    from enricher.one_pass import run_pass

    local = settings.model_copy(update={"index_pattern": index})
    scorer = None
    if baseline:
        from colog.serving.client import get_client
        from enricher.scorers import TritonScorer

        scorer = ConstantScorer(TritonScorer(get_client(local)).spec)
    ctx = build_context(local, scorer=scorer, use_cache=cache)
    reset_status(ctx.client.native, index)
    if cache:
        flush_embedding_cache(ctx.redis)
    summary = run_pass(ctx, flush=True, progress=True)
    hits, misses = ctx.embedder.hits, ctx.embedder.misses
    ratio = hits / (hits + misses) if (hits + misses) and not baseline else None
    return BenchResult(scenario, summary.scored + summary.rejected, summary.seconds, ratio)


def run_bench(settings: Settings, synthetic: int, console) -> list[BenchResult]:
    from colog.opensearch_client import make_client

    client = make_client(settings)
    results = []
    demo_index, syn_index = "logs-bench-demo", "logs-bench-synthetic"
    console.print(f"loading demo data: {copy_demo_data(client, demo_index):.1f}s")
    for label, cache, baseline in (("cache on", True, False), ("cache off", False, False),
                                   ("baseline: no model", True, True)):
        results.append(measure(settings, demo_index, f"demo data, {label}", cache, baseline))
    if synthetic:
        console.print(f"loading {synthetic} synthetic documents: "
                      f"{load_synthetic(client, syn_index, synthetic):.1f}s")
        for label, cache, baseline in (("cache on", True, False), ("cache off", False, False),
                                       ("baseline: no model", True, True)):
            results.append(measure(settings, syn_index, f"synthetic {synthetic}, {label}",
                                   cache, baseline))
    return results


SECTION = "## End-to-end throughput (colog bench)"


def results_markdown(results: list[BenchResult], machine: str) -> str:
    paper = 1 / PAPER_SECONDS_PER_SAMPLE
    lines = [f"Machine: {machine}. Real OpenSearch, Redis and Triton (CPU) on the same machine; "
             "documents per second from the first read to the last write-back.", "",
             "| scenario | documents | seconds | docs/s | embedding cache hit ratio |",
             "|---|---:|---:|---:|---:|"]
    for r in results:
        ratio = "-" if r.cache_hit_ratio is None else f"{r.cache_hit_ratio:.3f}"
        lines.append(f"| {r.scenario} | {r.documents} | {r.seconds:.1f} | "
                     f"{r.docs_per_second:.1f} | {ratio} |")
    lines += ["", f"Reference: the paper's inference cost, {PAPER_SECONDS_PER_SAMPLE} s per sample "
              f"on an A100 (Table 12), is {paper:.0f} samples/s for the model alone (no I/O)."]
    return "\n".join(lines) + "\n"
