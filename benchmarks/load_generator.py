"""Live latency: ingest at a fixed rate while `colog worker` and `colog beat` run, and measure
the time from ingest (`event.ingested`) to verdict (`colog.enriched_at`).

Bounded: each rate runs for `--seconds` of load, then waits at most `--drain` seconds for the
backlog to clear, and the whole run stops by itself. For every rate it prints documents,
latency p50 / p95 / p99 / max, the backlog (pending documents) at the end of the load and its
peak, and the context wait the verdicts include: in `context` mode an event is scored only
once the next event of its stream exists (W = 1), so with S streams at R documents/s the
expected wait is S / R seconds. `--find-max` first tries rising rates for a short while and
keeps the highest one the machine sustains (`sustained`: every document final within 15 s
of the load's end, and the backlog at its end at most 5 s of input plus one waiting event per
stream).

    .venv/bin/python benchmarks/load_generator.py --rates 20 --find-max [--write-results]

Needs the local stack with a served model (`make demo` leaves one). Uses its own index
(`logs-latency`, deleted at the start of each rate) and its own worker and beat processes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INDEX = "logs-latency"
SECTION = "## Live latency (benchmarks/load_generator.py)"
ROOT = Path(__file__).resolve().parents[1]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def templates() -> list[str]:
    from colog.app.bench import template_files

    found = []
    for path in template_files():
        with path.open(newline="", encoding="utf-8") as handle:
            found += [row["EventTemplate"] for row in csv.DictReader(handle)]
    return found


def start_workers(env: dict, log_dir: Path) -> list[subprocess.Popen]:
    colog = str(Path(sys.executable).with_name("colog"))
    procs = []
    for name, args in (("worker", ["worker", "--concurrency", "2"]), ("beat", ["beat"])):
        log = open(log_dir / f"{name}.log", "w")
        procs.append(subprocess.Popen([colog, *args], env=env, stdout=log, stderr=log,
                                      start_new_session=True))
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_rate(client, settings, rate: float, seconds: float, drain: float, streams: int,
             seed: int = 1) -> dict:
    """Ingest `rate` documents/s for `seconds`, then wait for the backlog to clear."""
    from opensearchpy.helpers import bulk

    from colog.app.bench import _fill
    from colog.core.engine import as_engine
    from colog.core.engine.reader import count_pending
    from colog.services.enrich.setup import run_setup

    engine = as_engine(client)  # the core's functions take the engine interface
    client.indices.delete(index=INDEX, params={"ignore_unavailable": "true"})
    run_setup(engine, settings)
    client.indices.create(index=INDEX)
    rng = random.Random(seed)
    pool = templates()
    backlog: list[tuple[float, int]] = []
    sent, tick = 0, 0.25
    started = time.time()
    next_sample = started
    while time.time() - started < seconds:
        due = int(rate * (time.time() - started + tick)) - sent
        now = time.time()
        actions = []
        for n in range(max(0, due)):
            i = sent + n
            actions.append({"_index": INDEX, "_id": f"lat-{i}", "_source": {
                "@timestamp": _iso(now), "message": _fill(rng.choice(pool), rng),
                "host": {"name": f"host-{i % streams}"},
                "log": {"file": {"path": f"/var/log/s{i % streams}.log"}},
                "event": {"sequence": i, "ingested": _iso(now)}}})
        if actions:
            bulk(client, actions, refresh=False)
            sent += len(actions)
        if now >= next_sample:
            client.indices.refresh(index=INDEX)
            backlog.append((now - started, count_pending(engine, INDEX)))
            next_sample = now + 2.0
        time.sleep(max(0.0, tick - (time.time() - now)))
    load_end = time.time()
    client.indices.refresh(index=INDEX)
    at_end = count_pending(engine, INDEX)
    pending = at_end
    while pending and time.time() - load_end < drain:
        time.sleep(1.0)
        client.indices.refresh(index=INDEX)
        pending = count_pending(engine, INDEX)
    drained_s = time.time() - load_end
    latencies = []
    from opensearchpy.helpers import scan

    for hit in scan(client, index=INDEX, query={"query": {"term": {"colog.status": "enriched"}}},
                    _source=["event.ingested", "colog.enriched_at"]):
        source = hit["_source"]
        ingested = datetime.fromisoformat(source["event"]["ingested"].replace("Z", "+00:00"))
        enriched = datetime.fromisoformat(source["colog"]["enriched_at"].replace("Z", "+00:00"))
        latencies.append((enriched - ingested).total_seconds())
    latencies.sort()
    q = (lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))]  # noqa: E731
         if latencies else float("nan"))
    return {"rate": rate, "seconds": seconds, "streams": streams, "sent": sent,
            "enriched": len(latencies), "still_pending": pending,
            "backlog_at_load_end": at_end, "backlog_peak": max([b for _, b in backlog] or [0]),
            "drain_s": round(drained_s, 1), "p50": q(0.50), "p95": q(0.95), "p99": q(0.99),
            "max": latencies[-1] if latencies else float("nan"),
            "mean": statistics.fmean(latencies) if latencies else float("nan"),
            "context_wait_s": streams / rate}


def sustained(row: dict) -> bool:
    """Kept up: everything final soon after the load stops, and the backlog at its end no
    more than 5 s of input plus the one event per stream that waits for its next."""
    return (row["still_pending"] == 0 and row["enriched"] == row["sent"]
            and row["drain_s"] <= 15
            and row["backlog_at_load_end"] <= 5 * row["rate"] + row["streams"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="*", default=[20.0])
    parser.add_argument("--find-max", action="store_true",
                        help="also find the highest sustained rate (short trials) and run it")
    parser.add_argument("--trial-rates", type=float, nargs="+",
                        default=[50, 100, 200, 300, 400, 600])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trial-seconds", type=float, default=25.0)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--beat-interval", type=float, default=1.0)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    from colog.core.engine.opensearch_client import make_client
    from colog.core.settings import get_settings
    from colog.services.train.release import live_version

    base = get_settings()
    if live_version(base) is None:
        raise SystemExit("no live model in the Triton repository: run `make demo` first")
    settings = base.model_copy(update={"index_pattern": INDEX})
    env = {**os.environ, "COLOG_INDEX_PATTERN": INDEX,
           "COLOG_BEAT_INTERVAL_S": str(args.beat_interval), "COLOG_CONTEXT_TIMEOUT_S": "5",
           "COLOG_DRIFT_INTERVAL_S": "0", "COLOG_RETRAIN_INTERVAL_S": "0",
           "COLOG_METRICS_PORT": "0", "COLOG_HEARTBEAT_FILE": str(ROOT / ".cache" / "lat.hb")}
    log_dir = ROOT / ".cache" / "load_generator"
    log_dir.mkdir(parents=True, exist_ok=True)
    client = make_client(settings)
    procs = start_workers(env, log_dir)
    rows, trials = [], []
    try:
        time.sleep(8)  # worker and beat start (model parameters, Drain state)
        for rate in args.rates:
            rows.append(run_rate(client, settings, rate, args.seconds, args.drain, args.streams))
            print(json.dumps(rows[-1]))
        if args.find_max:
            best = None
            for rate in args.trial_rates:
                trial = run_rate(client, settings, rate, args.trial_seconds, args.drain,
                                 args.streams)
                trials.append(trial)
                print("trial", json.dumps(trial))
                if not sustained(trial):
                    break
                best = rate
            if best is not None:
                rows.append(run_rate(client, settings, best, args.seconds, args.drain,
                                     args.streams))
                print(json.dumps(rows[-1]))
    finally:
        stop_workers(procs)
        client.indices.delete(index=INDEX, params={"ignore_unavailable": "true"})

    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}"
    fmt = lambda v: f"{v:.2f}"  # noqa: E731
    lines = [f"Machine: {machine}. `colog worker --concurrency 2` and `colog beat` (dispatch "
             f"every {args.beat_interval:g} s) against the local OpenSearch, Redis and CPU "
             f"Triton; {args.streams} streams, context mode W = 1, load for "
             f"{args.seconds:g} s per rate; latency = colog.enriched_at - event.ingested.", "",
             "| rate (docs/s) | sent | enriched | p50 s | p95 s | p99 s | max s | context wait s "
             "| backlog at load end | peak backlog | drained in s | sustained |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['rate']:g} | {r['sent']} | {r['enriched']} | {fmt(r['p50'])} | "
                     f"{fmt(r['p95'])} | {fmt(r['p99'])} | {fmt(r['max'])} | "
                     f"{fmt(r['context_wait_s'])} | {r['backlog_at_load_end']} | "
                     f"{r['backlog_peak']} | {r['drain_s']} | {'yes' if sustained(r) else 'no'} |")
    if trials:
        lines += ["", "Trials for the highest sustained rate ({:g} s each): ".format(
            args.trial_seconds) + "; ".join(
            f"{t['rate']:g} docs/s: backlog at end {t['backlog_at_load_end']}, p99 "
            f"{fmt(t['p99'])} s, {'sustained' if sustained(t) else 'not sustained'}"
            for t in trials)]
    text = "\n".join(lines) + "\n"
    print("\n" + SECTION + "\n\n" + text)
    (log_dir / "last_run.json").write_text(json.dumps({"rows": rows, "trials": trials},
                                                      indent=2))
    if args.write_results:
        from colog.app.reporting import RESULTS, replace_section

        replace_section(RESULTS, SECTION, text)


if __name__ == "__main__":
    main()
