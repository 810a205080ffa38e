"""End-to-end enrichment throughput (`colog bench`): a user's day, in documents per second
through the real search engine (OpenSearch or Elasticsearch, through colog.core.engine), Redis
and Triton on this machine.

Data sets, each loaded into its own index before its passes (loading is not timed):
- `demo data`: the five bundled Loghub samples (10,000 lines), as `colog demo` ingests them;
- `real syslog`: samples/syslog/syslog_ecs.ndjson, two Loghub syslog samples as a syslog
  shipper writes them (ECS documents: `host.name`, `process.name`, ...);
- `synthetic N`: N documents from the Loghub template lists shipped in benchmarks/data/loghub
  (`*_templates.csv` of the demo's five samples), over 20 streams, `<*>` filled with random
  values.

Scenarios:
- *new logs*: what a user meets first: an empty Drain state for the streams (a key of its own),
  empty embedding and verdict caches, and the model versions just loaded again in Triton (first
  calls on a new version): the demo's first pass;
- *steady*: the same documents again (the index loaded anew: every document pending), with the
  Drain state, the caches and the models as the first pass left them;
- *no model*: the same documents with a constant scorer (no embeddings, no inference) and an
  empty Drain state: reading, parsing, windows, writing;
- *naive*: the per-document path on the first documents (each document's window read, embedded
  and inferred on its own, one update each): the reference of issue 11.

Each row gives per-stage seconds (colog/services/enrich/stages.py) and `other`, the wall time
no stage accounts for, so the columns add up to the pass's seconds. The reference is the paper's
inference cost, 0.00343 s per sample on an A100 (CoLog, Table 12), ~292 samples/s for the model
alone.
"""

from __future__ import annotations

import csv
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from colog.core.settings import PROJECT_ROOT, Settings

PAPER_SECONDS_PER_SAMPLE = 0.00343
TEMPLATES = PROJECT_ROOT / "benchmarks" / "data" / "loghub"  # shipped with the Loghub licence
TEMPLATE_SOURCES = ("HDFS", "Hadoop", "Zookeeper", "OpenSSH", "Apache")
SYSLOG_SAMPLE = PROJECT_ROOT / "samples" / "syslog" / "syslog_ecs.ndjson"
STREAMS = 20  # synthetic streams


@dataclass
class BenchResult:
    scenario: str
    documents: int
    seconds: float
    cache_hit_ratio: float | None = None   # embeddings served by the cache
    reuse_ratio: float | None = None       # model rows answered without the model
    stages: dict[str, float] = field(default_factory=dict)
    drain_snapshots: int = 0               # whole Drain states written to Redis in the pass
    peak_rss_mb: float = 0.0               # the bench process (it is the worker) so far

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    @property
    def other_seconds(self) -> float:
        return self.seconds - sum(self.stages.values())


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
        from colog.core.features.embedding import EMBEDDING_DIM

        return np.zeros((len(texts), EMBEDDING_DIM), np.float32)


# --- data sets -----------------------------------------------------------------------------

@dataclass
class DataSet:
    name: str
    index: str
    documents: Callable[[], Iterator[dict]]  # `_source`s in stream order, made on demand


def template_files(folder: Path = TEMPLATES) -> list[Path]:
    found = [folder / f"{name}_2k.log_templates.csv" for name in TEMPLATE_SOURCES]
    missing = [p.name for p in found if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"template lists missing from {folder}: {', '.join(missing)} "
                                "(they ship with the project, benchmarks/data/loghub)")
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


def synthetic_documents(n: int, seed: int = 1) -> Iterator[dict]:
    rng = random.Random(seed)
    templates = []
    for path in template_files():
        with path.open(newline="", encoding="utf-8") as handle:
            templates += [row["EventTemplate"] for row in csv.DictReader(handle)]
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for i in range(n):
        stream = i % STREAMS
        yield {"@timestamp": (start + timedelta(milliseconds=i * 50)).isoformat().replace(
                   "+00:00", "Z"),
               "message": _fill(rng.choice(templates), rng),
               "host": {"name": f"host-{stream % 5}"},
               "log": {"file": {"path": f"/var/log/s{stream}.log"}},
               "event": {"sequence": i}}


def demo_documents() -> Iterator[dict]:
    """The demo's documents, as `colog ingest` makes them from the bundled samples."""
    from colog.app.demo import DEMO_LOGS, SAMPLES
    from colog.services.enrich.ingest import raw_documents

    for name, fmt in DEMO_LOGS:
        for number, doc, _ in raw_documents(SAMPLES / name, fmt, "localhost"):
            if doc is not None:
                doc.setdefault("event", {})["sequence"] = number
                yield doc


def syslog_documents(path: Path = SYSLOG_SAMPLE) -> Iterator[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"the syslog sample is missing: {path} (samples/syslog)")
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load(engine, data: DataSet) -> tuple[int, float]:
    """The data set into a new index (every document pending); (documents, seconds)."""
    engine.delete_index(data.index)
    started = time.perf_counter()
    actions = ({"_op_type": "create", "_index": data.index, "_id": f"{data.name}-{i}",
                "_source": doc} for i, doc in enumerate(data.documents()))
    count = 0
    for ok, _ in engine.stream_bulk(actions, chunk_size=2000, max_retries=5,
                                       raise_on_error=True):
        count += ok
    engine.refresh(data.index, lenient=False)
    return count, time.perf_counter() - started


def copy_demo_data(client, index: str) -> float:
    """The demo's documents into `index` (benchmarks/shadow_overhead.py); seconds taken."""
    from colog.core.engine import as_engine

    _, seconds = load(as_engine(client), DataSet("demo data", index, demo_documents))
    return seconds


def reset_status(client, index: str) -> None:
    """Back to pending: drop every colog field of `index` (tests and benchmarks that rerun a
    pass on the same documents). A painless update_by_query on the engine's native client: the
    engine interface has none, which is why `colog bench` loads a new index instead."""
    native = getattr(client, "native", client)
    native.update_by_query(index=index, body={
        "query": {"exists": {"field": "colog"}},
        "script": {"source": "ctx._source.remove('colog')", "lang": "painless"}},
        params={"refresh": "true", "conflicts": "proceed", "wait_for_completion": "true"})


# --- one pass ------------------------------------------------------------------------------

def flush_caches(redis_client) -> None:
    """No embedding and no verdict from an earlier pass."""
    from colog.services.enrich.embedding_cache import PREFIX as EMBEDDINGS
    from colog.services.enrich.verdict_reuse import PREFIX as VERDICTS

    for prefix in (EMBEDDINGS, VERDICTS):
        keys = list(redis_client.scan_iter(match=prefix + "*", count=5000))
        for start in range(0, len(keys), 5000):
            redis_client.delete(*keys[start:start + 5000])


def reload_models(settings: Settings) -> None:
    """The served models loaded again: the pass makes the first calls on fresh instances."""
    from colog.core.serving.client import get_client

    client = get_client(settings)
    for model in (client.embedder_model, client.model):
        client.unload_model(model)
        deadline = time.monotonic() + 60
        while client.is_model_ready(model) and time.monotonic() < deadline:
            time.sleep(0.1)
        client.load_model(model=model)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def drain_key(data: DataSet, run: str) -> str:
    return f"colog:bench:{run}:{data.name}:drain"


def measure(settings: Settings, engine, data: DataSet, label: str, drain_state: str, *,
            model: bool = True, fresh: bool = False) -> BenchResult:
    """One `colog enrich` pass over the data set, loaded anew. `fresh`: empty caches and the
    models just reloaded; `model=False`: the constant scorer."""
    from colog.core.cache_redis import cache_redis
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    # The constant scorer's zero "embeddings" and "baseline" rows must never reach the shared
    # caches, where a later pass with the model would read them.
    local = settings.model_copy(update={"index_pattern": data.index,
                                        "drain_state_key": drain_state,
                                        **({} if model else {"embedding_cache": False,
                                                             "verdict_cache": False})})
    load(engine, data)
    scorer = None
    if not model:
        from colog.core.serving.client import get_client
        from colog.services.enrich.verdict_sources import TritonScorer

        scorer = ConstantScorer(TritonScorer(get_client(local)))
    elif fresh:
        flush_caches(cache_redis(local))
        reload_models(local)
    ctx = build_context(local, scorer=scorer, client=engine)
    summary = run_pass(ctx, flush=True, progress=False)
    hits, misses = ctx.embedder.hits, ctx.embedder.misses
    embedded = hits / (hits + misses) if model and hits + misses else None
    reuse = ctx.verdicts.counts.reused_ratio if model and ctx.verdicts is not None else None
    return BenchResult(f"{data.name}: {label}", summary.scored + summary.rejected,
                       summary.seconds, embedded, reuse, ctx.stages.snapshot(),
                       ctx.templates.snapshots_written, peak_rss_mb())


def naive_pass(settings: Settings, engine, data: DataSet, limit: int) -> BenchResult:
    """What a per-document ingest processor does: for each document on its own, read its
    neighbours, embed its window (no cache), infer one row, write one update. Modalities come
    from the enricher's own builder (colog/services/enrich/batching.py)."""
    from colog.core.engine.reader import iter_stream, pending_streams, point_in_time, preceding
    from colog.core.features.windows import CONTEXT, centre_column
    from colog.core.parsing.masking import mask_message
    from colog.core.verdict import verdicts
    from colog.services.enrich.batching import model_inputs
    from colog.services.enrich.context import build_context

    local = settings.model_copy(update={"index_pattern": data.index, "verdict_reuse": False})
    load(engine, data)
    ctx = build_context(local, use_cache=False, client=engine)
    spec = ctx.scorer.spec
    centre = centre_column(spec.window, spec.sequence_mode)
    started = time.perf_counter()
    done = 0
    with ctx.stages.time("read"):
        streams = pending_streams(engine, data.index, local.stream_fields,
                                  local.stream_fallback_fields)
    with point_in_time(engine, data.index) as pit:
        for stream in streams:
            for hit in iter_stream(engine, pit, stream, None, local.read_batch_size):
                if done >= limit:
                    break
                with ctx.stages.time("read"):
                    before = preceding(engine, pit, stream, hit, spec.window)
                    after = list(_next_hits(engine, pit, stream, hit, spec.window)) \
                        if spec.sequence_mode == CONTEXT else []
                with ctx.stages.time("parse"):
                    window = [None] * (spec.window - len(before)) + before + [hit] + after
                    if spec.sequence_mode == CONTEXT:
                        window += [None] * (spec.window - len(after))
                    masked = tuple(mask_message(h["_source"]["message"]) if h else None
                                   for h in window)
                tokens = ctx.tokenizer.encode([masked[centre]])
                outputs, version = ctx.predict(model_inputs(ctx, tokens, [masked]))
                verdict = verdicts(outputs, list(ctx.scorer.classes), [ctx.tokenizer.tokens_of(tokens[0])],
                                   thresholds=ctx.thresholds_for(version))[0]
                fields = verdict.as_fields()
                fields.update({"status": "enriched", "model": {"version": version}})
                with ctx.stages.time("write"):
                    engine.update(hit["_index"], hit["_id"], {"colog": fields})
                done += 1
            if done >= limit:
                break
    return BenchResult(f"{data.name}: naive per-document path (first {done} documents)", done,
                       time.perf_counter() - started, 0.0, 0.0, ctx.stages.snapshot(), 0,
                       peak_rss_mb())


def _next_hits(engine, pit: str, stream, hit: dict, count: int):
    """The `count` documents of the stream just after `hit`."""
    from colog.core.engine.reader import iter_stream

    for n, found in enumerate(iter_stream(engine, pit, stream, list(hit["sort"]), count)):
        if n >= count:
            return
        yield found


def run_bench(settings: Settings, synthetic: int, console, naive: int = 300,
              syslog: bool = True) -> list[BenchResult]:
    from colog.core.engine import connect

    engine = connect(settings)
    # The engine first: a bench against a node that does not answer says so (exit 10) before any
    # Redis or Triton call, and every scenario needs the node.
    engine.version()
    run = uuid.uuid4().hex[:8]  # Drain state keys of this run: every "new logs" pass starts empty
    results: list[BenchResult] = []

    def done(result: BenchResult) -> None:
        results.append(result)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.stages.items())
        console.print(f"{result.scenario}: {result.documents} docs in {result.seconds:.1f}s = "
                      f"{result.docs_per_second:.0f} docs/s ({stages}, other "
                      f"{result.other_seconds:.1f}s; Drain snapshots {result.drain_snapshots})")

    sets = [DataSet("demo data", "logs-bench-demo", demo_documents)]
    if syslog:
        sets.append(DataSet("real syslog", "logs-bench-syslog", syslog_documents))
    if synthetic:
        sets.append(DataSet(f"synthetic {synthetic}", "logs-bench-synthetic",
                            lambda: synthetic_documents(synthetic)))
    try:
        for data in sets:
            key = drain_key(data, run)
            done(measure(settings, engine, data, NEW_LOGS, key, fresh=True))
            if data.name == "demo data":
                done(measure(settings, engine, data, STEADY, key))
            done(measure(settings, engine, data, NO_MODEL, key + ":baseline", model=False))
            if naive and data.name == "demo data":
                done(naive_pass(settings, engine, data, naive))
    finally:
        _forget_run(settings, run)
        for data in sets:
            engine.delete_index(data.index)
        engine.close()
    return results


def _forget_run(settings: Settings, run: str) -> None:
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(match=f"colog:bench:{run}:*"):
        client.delete(key)
    client.close()


NEW_LOGS = "new logs (empty Drain state and caches, models just loaded)"
STEADY = "steady (same documents again)"
NO_MODEL = "no model (read, parse, window, write)"
SECTION = "## End-to-end throughput (colog bench)"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def results_markdown(results: list[BenchResult], machine: str, engine: str = "") -> str:
    from colog.services.enrich.stages import STAGES

    paper = 1 / PAPER_SECONDS_PER_SAMPLE
    lines = [f"Machine: {machine}. Real {engine or 'search engine'}, Redis and Triton (CPU, ONNX "
             "Runtime) on the same machine; documents per second from the first read to the last "
             "write-back. Stage seconds are summed over the pass; `other` is the rest of the wall "
             "time (tokens, windows, reuse keys, verdict decisions, incidents), so a row's stages "
             "add up to its seconds.", "",
             "| scenario | documents | seconds | docs/s | embedding cache hits | rows reused | "
             + " | ".join(f"{s} s" for s in STAGES) + " | other s | Drain snapshots | "
             "peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|---:|---:|"]
    for r in results:
        times = " | ".join(f"{r.stages.get(s, 0.0):.2f}" for s in STAGES)
        lines.append(f"| {r.scenario} | {r.documents} | {r.seconds:.2f} | "
                     f"{r.docs_per_second:.0f} | {_ratio(r.cache_hit_ratio)} | "
                     f"{_ratio(r.reuse_ratio)} | {times} | {r.other_seconds:.2f} | "
                     f"{r.drain_snapshots} | {r.peak_rss_mb:.0f} |")
    by_name = {r.scenario: r for r in results}
    for name in dict.fromkeys(r.scenario.split(":")[0] for r in results):
        first = by_name.get(f"{name}: {NEW_LOGS}")
        base = by_name.get(f"{name}: {NO_MODEL}")
        if first and base and first.docs_per_second:
            lines += ["", f"{name}: new logs at {first.docs_per_second:.0f} docs/s; the no-model "
                      f"pass is {base.docs_per_second / first.docs_per_second:.2f}x that "
                      f"({base.docs_per_second:.0f} docs/s)."]
    lines += ["", f"Reference: the paper's inference cost, {PAPER_SECONDS_PER_SAMPLE} s per sample "
              f"on an A100 (Table 12), is {paper:.0f} samples/s for the model alone (no I/O)."]
    return "\n".join(lines) + "\n"
