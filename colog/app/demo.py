"""`colog demo`: the whole job on bundled sample logs, on this machine, with the real servers.

1. train a default model from the samples (weak labels: ERROR-and-above levels and failure
   phrases, each flagged event counted by its rule) unless one was trained before; 2. place it
   in the Triton repository; 3. start OpenSearch, Redis and Triton; 4. `colog setup`; 5. ingest
   the samples; 6. enrich until nothing is pending; 7. print what an analyst would look at
   first; 8. play an analyst: label the false alarms of a few templates normal with
   `colog label`, retrain with `colog train --from-opensearch` (gate, publish), re-enrich, and
   print before/after by template.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from colog.core.settings import PROJECT_ROOT, Settings

SAMPLES = PROJECT_ROOT / "samples" / "loghub"
# (file, format name): several streams, real messages, a mix of levels.
DEMO_LOGS = (("HDFS_2k.log", "HDFS"), ("Hadoop_2k.log", "Hadoop"),
             ("Zookeeper_2k.log", "Zookeeper"), ("OpenSSH_2k.log", "OpenSSH"),
             ("Apache_2k.log", "Apache"))
DEMO_INDEX = "logs-demo"
DEMO_EPOCHS = 4  # the demo trains on 10,000 events on whatever CPU a newcomer has
RETRAIN_EPOCHS = 4
DEMO_ANALYST = "demo-analyst"
# What the demo's analyst knows about these samples: lines the weak rules flag that are routine,
# each with the reason an analyst would write in the ticket.
ANALYST_VERDICTS = (
    ('message:"workerEnv in error state"', "normal",
     "Apache mod_jk logs its worker pool recycling at error level; no request fails"),
    ('message:"POSSIBLE BREAK-IN ATTEMPT"', "normal",
     "sshd's reverse-DNS check: the client's PTR record does not map back; DNS hygiene, "
     "not an attack (the failed passwords around it stay anomalies)"),
    ('message:"Got exception while serving"', "normal",
     "an HDFS client closed a block read early; the DataNode logs it and carries on"),
)


@dataclass
class DemoTimings:
    steps: list[tuple[str, float]] = field(default_factory=list)

    def step(self, name: str, started: float) -> None:
        self.steps.append((name, time.perf_counter() - started))


def demo_records(log_files=DEMO_LOGS):
    """Training records from the samples: the header's level is kept apart from the message."""
    from colog.core.parsing.formats import resolve_format
    from colog.core.parsing.lines import LineError, iter_raw_lines, parse_lines
    from colog.core.records import LogRecord, order_by_stream_time

    records = []
    for name, fmt in log_files:
        path = SAMPLES / name
        for result in parse_lines(iter_raw_lines(path), resolve_format(fmt)):
            if isinstance(result, LineError):
                continue
            stream = f"{result.stream or 'localhost'}|{name}"
            records.append(LogRecord(result.timestamp, result.message, stream, result.level,
                                     line=result.line))
    return order_by_stream_time(records)


def ensure_model(settings: Settings, console: Console) -> Path:
    from colog.services.train.loop import TrainOptions
    from colog.services.train.pipeline import TrainSpec, train_from_records

    model_dir = Path(settings.cache_dir) / "demo" / "model"
    if (model_dir / "config.json").is_file():
        console.print(f"model: reusing {model_dir}")
        return model_dir
    records = demo_records()
    console.print(f"model: training a default model on {len(records)} sample events "
                  f"(weak labels, {DEMO_EPOCHS} epochs)")
    print_weak_labels(records, console)
    spec = TrainSpec(num_classes=4, options=TrainOptions(epochs=DEMO_EPOCHS))
    outcome = train_from_records(records, None, model_dir, spec, console=console)
    console.print(f"model: validation macro F1 {outcome.valid_report['macro_f1']:.3f}")
    return model_dir


def print_weak_labels(records, console: Console) -> None:
    """What the weak rules flag in the samples, rule by rule (docs/labelling.md says why)."""
    from collections import Counter

    from colog.core.labels import weak_reason

    reasons = Counter(weak_reason(r.message, r.level) for r in records)
    flagged = sum(n for reason, n in reasons.items() if reason)
    table = Table(title=f"weak labels: {flagged} of {len(records)} sample events flagged "
                        f"({flagged / max(1, len(records)):.1%}), by rule")
    table.add_column("rule")
    table.add_column("events", justify="right")
    for reason, n in reasons.most_common():
        if reason:
            table.add_row(reason, str(n))
    console.print(table)


def serve_model(settings: Settings, model_dir: Path, console: Console) -> int:
    """Place the model in the live repository unless the newest version already holds it."""
    import json

    from colog.core.serving.repository import list_versions, live_repository, place_version

    repo = live_repository(settings)
    wanted = json.loads((model_dir / "version.json").read_text())["content_hash"]
    versions = list_versions(repo)
    if versions:
        newest = repo / "colog" / str(versions[-1])
        served = next(newest.rglob("version.json"), None)
        if served and json.loads(served.read_text()).get("content_hash") == wanted:
            console.print(f"triton: version {versions[-1]} already holds this model")
            return versions[-1]
    version = place_version(repo, model_dir)
    console.print(f"triton: placed the model as version {version}")
    return version


def summary(client, console: Console, index: str = DEMO_INDEX) -> dict:
    """Counts by label and anomaly type, top anomalous templates, first anomaly hits."""
    body = {"size": 0, "aggs": {
        "status": {"terms": {"field": "colog.status"}},
        "label": {"terms": {"field": "colog.label"}},
        "type": {"terms": {"field": "colog.anomaly_type"}},
        "templates": {"filter": {"term": {"colog.label": "anomaly"}}, "aggs": {
            "top": {"terms": {"field": "colog.template.id", "size": 8},
                    "aggs": {"text": {"top_hits": {"size": 1,
                                                   "_source": ["colog.template.text"]}},
                             "score": {"avg": {"field": "colog.score"}}}}}}}}
    result = client.search(body, index)
    aggs = result["aggregations"]
    counts = {name: {b["key"]: b["doc_count"] for b in aggs[name]["buckets"]}
              for name in ("status", "label", "type")}
    console.print(f"documents by colog.status: {counts['status']}")
    console.print(f"documents by colog.label: {counts['label']}")
    console.print(f"documents by colog.anomaly_type: {counts['type']}")
    table = Table(title="top anomalous templates")
    for column in ("count", "mean score", "template"):
        table.add_column(column)
    for bucket in aggs["templates"]["top"]["buckets"]:
        text = bucket["text"]["hits"]["hits"][0]["_source"]["colog"]["template"]["text"]
        table.add_row(str(bucket["doc_count"]), f"{bucket['score']['value']:.3f}", text[:90])
    console.print(table)
    # One hit per template, so the table shows five different kinds of anomaly.
    hits = client.search({"size": 5, "query": {"term": {"colog.label": "anomaly"}},
                          "sort": [{"colog.score": {"order": "desc"}}],
                          "_source": ["message", "host.name", "colog"],
                          "collapse": {"field": "colog.template.id"}}, index)
    table = Table(title="first hits of colog.label:anomaly (highest score)")
    for column in ("score", "type", "message", "why (colog.explanation)"):
        table.add_column(column)
    for hit in hits["hits"]["hits"]:
        c = hit["_source"]["colog"]
        table.add_row(f"{c['score']:.3f}", c["anomaly_type"], hit["_source"]["message"][:70],
                      c.get("explanation") or "-")
    console.print(table)
    counts["anomaly_hits"] = hits["hits"]["total"]["value"]
    return counts


def explain_cost(client, ctx, scored: int, console: Console, index: str = DEMO_INDEX) -> None:
    """What the explanations of this pass cost (the `explain` stage: occlusion rows, their
    embeddings and model calls), per anomaly and per scored document."""
    client.refresh(index)
    explained = client.count(index, {"exists": {"field": "colog.explanation"}})
    anomalies = client.count(index, {"bool": {"minimum_should_match": 1, "should": [
        {"term": {"colog.label": "anomaly"}}, {"term": {"colog.context.label": "anomaly"}}]}})
    seconds = ctx.stages.seconds.get("explain", 0.0)
    console.print(f"explanations: {explained} of {anomalies} anomalous verdicts explained in "
                  f"{seconds:.1f}s ({1000 * seconds / max(1, anomalies):.1f} ms per anomaly, "
                  f"{1000 * seconds / max(1, scored):.2f} ms per scored document)")


def verdicts_by_id(client, index: str = DEMO_INDEX) -> dict[str, tuple[str, str]]:
    """(colog.label, template text) of every document, through a point-in-time scan."""
    from colog.core.engine.reader import point_in_time
    from colog.services.train.export import scan

    client.refresh(index)
    found = {}
    with point_in_time(client, index) as pit_id:
        for hit in scan(client, pit_id, {"match_all": {}}, 1000):
            colog = hit["_source"].get("colog", {})
            found[hit["_id"]] = (colog.get("label", "-"),
                                 colog.get("template", {}).get("text", "-"))
    return found


def colog_command(console: Console, *args: str) -> int:
    """Run a `colog` command as an analyst would type it, echoing it and its output."""
    import subprocess
    import sys

    console.print(f"[bold]$ colog {' '.join(_quote(a) for a in args)}[/]", highlight=False)
    done = subprocess.run([str(Path(sys.executable).with_name("colog")), *args],
                          capture_output=True, text=True)
    for line in (done.stdout + done.stderr).strip().splitlines()[-25:]:
        console.print(f"  {line}", highlight=False, markup=False)
    return done.returncode


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in ' "*:') else arg


def play_analyst(settings: Settings, client, console: Console, timings: "DemoTimings") -> dict:
    """Label false alarms, retrain from the labels (gate, publish), re-enrich, compare."""
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    console.rule("the feedback loop: an analyst corrects false alarms")
    before = verdicts_by_id(client)
    t = time.perf_counter()
    for query, label, why in ANALYST_VERDICTS:
        console.print(f"analyst: {query} is {label}: {why}")
        code = colog_command(console, "label", "--query", query, "--label", label,
                             "--index", DEMO_INDEX, "--by", DEMO_ANALYST, "--yes")
        if code != 0:
            raise RuntimeError(f"colog label failed (exit {code})")
    retrained = colog_command(console, "train", "--from-opensearch",
                              "--epochs", str(RETRAIN_EPOCHS))
    if retrained not in (0, 4):  # 4 = the gate refused: the live model stays, the demo goes on
        raise RuntimeError(f"colog train --from-opensearch failed (exit {retrained})")
    code = colog_command(console, "reenrich", "--query", "*", "--index", DEMO_INDEX, "--yes")
    if code != 0:
        raise RuntimeError(f"colog reenrich failed (exit {code})")
    timings.step("label + retrain", t)
    t = time.perf_counter()
    result = run_pass(build_context(settings), flush=True, progress=True)
    timings.step("re-enrich", t)
    after = verdicts_by_id(client)
    return compare(before, after, console) | {"retrain_exit": retrained,
                                              "still_pending": result.still_pending,
                                              "model_versions": sorted(result.model_versions)}


def compare(before: dict, after: dict, console: Console) -> dict:
    """Anomaly share before and after, verdicts changed, and the templates that changed most."""
    from collections import Counter

    ids = sorted(before.keys() & after.keys())
    share = lambda v: sum(v[i][0] == "anomaly" for i in ids) / max(1, len(ids))  # noqa: E731
    changed = [i for i in ids if before[i][0] != after[i][0]]
    flips: dict[str, Counter] = {}  # template -> (label before, label after) -> events
    for i in ids:
        flips.setdefault(after[i][1], Counter())[(before[i][0], after[i][0])] += 1
    console.print(f"anomaly share: before {share(before):.1%}, after {share(after):.1%}; "
                  f"{len(changed)} of {len(ids)} verdicts changed")
    table = Table(title="verdicts by template, before -> after (templates that changed)")
    for column in ("events", "anomaly before", "anomaly after", "template"):
        table.add_column(column, justify="left" if column == "template" else "right")
    moved = sorted((t for t in flips if any(b != a for b, a in flips[t])),
                   key=lambda t: -sum(n for (b, a), n in flips[t].items() if b != a))
    for template in moved[:10]:
        counts = flips[template]
        was = sum(n for (b, _), n in counts.items() if b == "anomaly")
        now = sum(n for (_, a), n in counts.items() if a == "anomaly")
        table.add_row(str(sum(counts.values())), str(was), str(now), template[:80])
    console.print(table)
    return {"anomaly_share_before": share(before), "anomaly_share_after": share(after),
            "changed": len(changed), "documents": len(ids)}


def run_demo(settings: Settings, console: Console | None = None,
             feedback_loop: bool = True) -> dict:
    from colog.app.stack import manager
    from colog.core.engine import connect
    from colog.services.enrich.context import build_context
    from colog.services.enrich.ingest import ingest_file
    from colog.services.enrich.one_pass import run_pass
    from colog.services.enrich.setup import run_setup

    console = console or Console()
    timings = DemoTimings()
    started_all = time.perf_counter()

    t = time.perf_counter()
    model_dir = ensure_model(settings, console)
    version = serve_model(settings, model_dir, console)
    timings.step("model", t)

    t = time.perf_counter()
    manager.up(settings)
    client = connect(settings)
    from colog.core.serving.client import get_client

    get_client(settings).load_model()  # explicit control: serve the newest version now
    timings.step("stack up", t)

    t = time.perf_counter()
    report = run_setup(client, settings)
    for note in report.notes:
        console.print(f"setup note: {note}")
    for name, fmt in DEMO_LOGS:
        result = ingest_file(client, SAMPLES / name, DEMO_INDEX, fmt=fmt, host="localhost")
        console.print(f"ingest {name}: indexed {result.indexed}, already present "
                      f"{result.duplicates}, rejected {len(result.rejected)}")
    timings.step("setup + ingest", t)

    t = time.perf_counter()
    ctx = build_context(settings)
    result = run_pass(ctx, flush=True, progress=True)
    console.print(f"enrich: {result.scored} scored, {result.rejected} skipped/failed, "
                  f"{result.still_pending} still pending, {result.docs_per_second:.1f} docs/s, "
                  f"model version(s) {sorted(result.model_versions) or [version]}")
    stages = ctx.stages.snapshot()
    console.print("enrich (first pass) seconds by stage: " + ", ".join(
        f"{name} {seconds:.1f}" for name, seconds in stages.items())
        + f", other {result.seconds - sum(stages.values()):.1f}")
    timings.step("enrich", t)
    explain_cost(client, ctx, result.scored, console)

    counts = summary(client, console)
    if feedback_loop:
        counts["feedback"] = play_analyst(settings, client, console, timings)
        counts["still_pending"] = counts["feedback"]["still_pending"]
    for name, seconds in timings.steps:
        console.print(f"  {name:<16} {seconds:6.1f}s")
    console.print(f"demo finished in {time.perf_counter() - started_all:.0f}s. Look at the "
                  f"results: curl '{settings.opensearch_hosts[0]}/{DEMO_INDEX}/_search?"
                  "q=colog.label:anomaly&pretty' (or point OpenSearch Dashboards at it and "
                  "`colog setup --dashboards URL`); stop the servers with `colog stack down`.")
    counts.setdefault("still_pending", result.still_pending)
    return counts
