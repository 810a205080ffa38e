"""End-to-end enrichment throughput (`colog bench`): documents per second through the real
OpenSearch, Redis and Triton on this machine.

Scenarios, all in one run and one process:
- `demo data`: the five bundled Loghub samples (10,000 lines);
- `synthetic`: N documents (default 100,000) generated from the Loghub `*_templates.csv` event
  templates of the same samples, spread over 20 streams, `<*>` filled with random values;
- demo data with: the model and cold caches (embeddings and verdicts flushed first; the
  headline), a rerun with the caches warm, the model without verdict reuse (the path before
  reuse existed), no model at all (a constant scorer: reading, parsing, windowing and writing
  alone), and the naive per-document path on the first documents (`naive_pass`);
- synthetic data with the model (cold caches) and without a model.
Each row prints per-stage seconds (read, parse, embed, infer, write), the embedding-cache hit
ratio, the share of model rows answered by reuse, and the bench process's peak memory.
The reference is the paper's inference cost, 0.00343 s per sample on an A100 (CoLog, Table 12),
i.e. ~292 samples/s for the model alone.
"""

from __future__ import annotations

import csv
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from opensearchpy.helpers import streaming_bulk

from colog.core.settings import PROJECT_ROOT, Settings

PAPER_SECONDS_PER_SAMPLE = 0.00343
LOGHUB = Path("/work/shared/datasets/loghub")
TEMPLATE_SOURCES = ("HDFS", "Hadoop", "Zookeeper", "OpenSSH", "Apache")


@dataclass
class BenchResult:
    scenario: str
    documents: int
    seconds: float
    cache_hit_ratio: float | None = None   # embeddings served by the cache
    reuse_ratio: float | None = None       # model rows answered without the model
    stages: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0               # the bench process (it is the worker) so far

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


class ConstantScorer:
    """Baseline: answers instantly, so the pass measures everything but the model."""

    def __init__(self, served):
        self.spec, self.classes = served.spec, served.classes

    def current_version(self):
        return "baseline"

    def thresholds(self, version):
        from colog.core.verdict import Thresholds

        return Thresholds()

    def remember_version(self, version):
        return None

    def forget_version(self):
        return None

    def predict(self, modalities, version=None):
        n, k = modalities.sequence_mask.shape
        probs = np.zeros((n, len(self.classes)), np.float32)
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
    from colog.app.demo import DEMO_LOGS, SAMPLES
    from colog.services.enrich.ingest import ingest_file

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


def flush_caches(redis_client) -> None:
    """Cold start: no embedding and no verdict from an earlier pass."""
    from colog.services.enrich.embedding_cache import PREFIX as EMBEDDINGS
    from colog.services.enrich.verdict_reuse import PREFIX as VERDICTS

    for prefix in (EMBEDDINGS, VERDICTS):
        keys = list(redis_client.scan_iter(match=prefix + "*", count=5000))
        for start in range(0, len(keys), 5000):
            redis_client.delete(*keys[start:start + 5000])


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


@dataclass(frozen=True)
class Variant:
    label: str
    reuse: bool = True          # verdict reuse (in-batch deduplication + verdict cache)
    embedding_cache: bool = True
    cold: bool = True           # flush both caches before the pass
    baseline: bool = False      # constant scorer: no embeddings, no model


FULL = Variant("model, cold caches")
WARM = Variant("model, warm caches (rerun)", cold=False)
NO_REUSE = Variant("model, no verdict reuse, cold embedding cache", reuse=False)
NO_MODEL = Variant("no model (read, parse, window, write)", baseline=True)


def measure(settings: Settings, index: str, scenario: str, variant: Variant) -> BenchResult:
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    local = settings.model_copy(update={"index_pattern": index,
                                        "verdict_reuse": variant.reuse})
    scorer = None
    if variant.baseline:
        from colog.core.serving.client import get_client
        from colog.services.enrich.verdict_sources import TritonScorer

        scorer = ConstantScorer(TritonScorer(get_client(local)))
    ctx = build_context(local, scorer=scorer, use_cache=variant.embedding_cache)
    reset_status(ctx.client.native, index)
    if variant.cold:
        from colog.core.cache_redis import cache_redis

        flush_caches(cache_redis(local))
    summary = run_pass(ctx, flush=True, progress=True)
    hits, misses = ctx.embedder.hits, ctx.embedder.misses
    embedded = (hits / (hits + misses)) if (hits + misses) and not variant.baseline else None
    reuse = ctx.verdicts.counts.reused_ratio if ctx.verdicts is not None \
        and not variant.baseline else None
    return BenchResult(f"{scenario}, {variant.label}", summary.scored + summary.rejected,
                       summary.seconds, embedded, reuse, ctx.stages.snapshot(), peak_rss_mb())


def naive_pass(settings: Settings, index: str, limit: int) -> BenchResult:
    """What a per-document ingest processor does: for each document on its own, read its
    neighbours, embed its window (no cache), infer one row, write one update."""
    from colog.core.features.semantic import SemanticTokenizer
    from colog.core.features.windows import centre_column
    from colog.core.engine.opensearch_client import make_client
    from colog.core.parsing.masking import mask_message
    from colog.core.serving.client import get_client
    from colog.core.verdict import verdicts
    from colog.core.engine import as_engine
    from colog.core.engine.reader import iter_stream, pending_streams, point_in_time, preceding
    from colog.services.enrich.verdict_sources import TritonScorer
    from colog.services.enrich.stages import StageClock

    client = make_client(settings)
    engine = as_engine(client)
    scorer = TritonScorer(get_client(settings))
    spec = scorer.spec
    tokenizer = SemanticTokenizer(max_tokens=spec.max_tokens)
    clock = StageClock()
    reset_status(client, index)
    started = time.perf_counter()
    done = 0
    streams = pending_streams(engine, index, settings.stream_fields,
                              settings.stream_fallback_fields)
    with point_in_time(engine, index) as pit:
        for stream in streams:
            for hit in iter_stream(engine, pit, stream, None, settings.read_batch_size):
                if done >= limit:
                    break
                with clock.time("read"):
                    before = preceding(engine, pit, stream, hit, spec.window)
                    after = list(next_hits(engine, pit, stream, hit, spec.window))
                window = [None] * (spec.window - len(before)) + before + [hit] + after + \
                    [None] * (spec.window - len(after))
                if spec.sequence_mode != "context":
                    window = window[:spec.window + 1]
                with clock.time("parse"):
                    masked = [mask_message(h["_source"]["message"]) if h else None for h in window]
                with clock.time("embed"):
                    present = [m for m in masked if m is not None]
                    vectors = iter(scorer.embed(present))
                sequence = np.stack([next(vectors) if m is not None else np.zeros(384, np.float32)
                                     for m in masked])[None]
                mask = np.array([[1.0 if m is not None else 0.0 for m in masked]], np.float32)
                tokens = tokenizer.encode([masked[centre_column(spec.window, spec.sequence_mode)]])
                with clock.time("infer"):
                    outputs, version = scorer.client.infer(tokens, sequence, mask)
                verdict = verdicts(outputs, list(scorer.classes), [tokenizer.tokens_of(tokens[0])],
                                   thresholds=scorer.thresholds(version))[0]
                fields = verdict.as_fields()
                fields.update({"status": "enriched", "model": {"version": version}})
                with clock.time("write"):
                    client.update(index=hit["_index"], id=hit["_id"], body={"doc": {"colog": fields}},
                                  params={"if_seq_no": hit["_seq_no"],
                                          "if_primary_term": hit["_primary_term"]})
                done += 1
            if done >= limit:
                break
    return BenchResult(f"naive per-document path (first {done} documents)", done,
                       time.perf_counter() - started, 0.0, 0.0, clock.snapshot(), peak_rss_mb())


def next_hits(client, pit: str, stream, hit: dict, count: int):
    """The `count` documents of the stream just after `hit`."""
    from colog.core.engine.reader import iter_stream

    for n, found in enumerate(iter_stream(client, pit, stream, list(hit["sort"]), count)):
        if n >= count:
            return
        yield found


def run_bench(settings: Settings, synthetic: int, console, naive: int = 300) -> list[BenchResult]:
    from colog.core.engine.opensearch_client import make_client

    client = make_client(settings)
    results: list[BenchResult] = []

    def done(result: BenchResult) -> None:
        results.append(result)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.stages.items())
        console.print(f"{result.scenario}: {result.documents} docs in {result.seconds:.1f}s = "
                      f"{result.docs_per_second:.0f} docs/s ({stages})")

    demo_index, syn_index = "logs-bench-demo", "logs-bench-synthetic"
    console.print(f"loading demo data: {copy_demo_data(client, demo_index):.1f}s")
    for variant in (FULL, WARM, NO_REUSE, NO_MODEL):
        done(measure(settings, demo_index, "demo data", variant))
    if naive:
        done(naive_pass(settings, demo_index, naive))
    if synthetic:
        console.print(f"loading {synthetic} synthetic documents: "
                      f"{load_synthetic(client, syn_index, synthetic):.1f}s")
        for variant in (FULL, NO_MODEL):
            done(measure(settings, syn_index, f"synthetic {synthetic}", variant))
    return results


SECTION = "## End-to-end throughput (colog bench)"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def results_markdown(results: list[BenchResult], machine: str) -> str:
    from colog.services.enrich.stages import STAGES

    paper = 1 / PAPER_SECONDS_PER_SAMPLE
    naive = next((r for r in results if r.scenario.startswith("naive")), None)
    lines = [f"Machine: {machine}. Real OpenSearch, Redis and Triton (CPU, ONNX Runtime unless "
             "noted) on the same machine; documents per second from the first read to the last "
             "write-back. Stage seconds are summed over the pass (the rest is tokens, windows, "
             "reuse keys and verdict decisions).", "",
             "| scenario | documents | seconds | docs/s | x naive | embedding cache hits | "
             "rows reused | " + " | ".join(f"{s} s" for s in STAGES) + " | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|"]
    for r in results:
        times = " | ".join(f"{r.stages.get(s, 0.0):.1f}" for s in STAGES)
        versus = f"{r.docs_per_second / naive.docs_per_second:.1f}" \
            if naive and naive.docs_per_second else "-"
        lines.append(f"| {r.scenario} | {r.documents} | {r.seconds:.1f} | "
                     f"{r.docs_per_second:.1f} | {versus} | {_ratio(r.cache_hit_ratio)} | "
                     f"{_ratio(r.reuse_ratio)} | {times} | {r.peak_rss_mb:.0f} |")
    by_name = {r.scenario: r for r in results}
    for prefix in ("demo data", *{r.scenario.split(",")[0] for r in results
                                  if r.scenario.startswith("synthetic")}):
        full = by_name.get(f"{prefix}, {FULL.label}")
        base = by_name.get(f"{prefix}, {NO_MODEL.label}")
        if full and base and full.docs_per_second:
            lines += ["", f"{prefix}: the no-model pass is {base.docs_per_second / full.docs_per_second:.2f}x "
                      f"the model pass with cold caches ({full.docs_per_second:.0f} vs "
                      f"{base.docs_per_second:.0f} docs/s)."]
    lines += ["", f"Reference: the paper's inference cost, {PAPER_SECONDS_PER_SAMPLE} s per sample "
              f"on an A100 (Table 12), is {paper:.0f} samples/s for the model alone (no I/O)."]
    return "\n".join(lines) + "\n"
