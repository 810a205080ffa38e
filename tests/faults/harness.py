"""How a fault scenario runs: data in, `colog worker` + `colog beat` on the suite's private
servers, the fault in the middle of the pass, then wait until every document is final and
compare every verdict with a clean pass over the same data.

A row per scenario:
- documents: ingested;
- lost: documents of the clean pass missing from the scenario's index afterwards;
- conflicting: documents whose final verdict (label, context label, anomaly type, score to
  1e-4) differs from the clean pass's, or whose final status does (e.g. `failed` where the clean
  pass enriched it). Writes are guarded by sequence numbers, so a second writer cannot
  overwrite a first; a verdict that differs is what a double enrichment with another result
  would leave behind;
- rewritten: documents written more than once after ingest (`_version` > 2), informative;
- write retries / unwritten: the running workers' `colog_write_outcomes_total` (retried write
  items, items given up and left pending), read from their metrics endpoints;
- final: counts by `colog.status` after recovery; not final: the rest;
- recover s: from the end of the fault (server answering again, block lifted, ...) until every
  document is final, the rest of the pass included (the baseline row, with no fault, is that
  alone); done at fault: documents final when the fault began (0 < it < documents, or the fault
  was not mid-pass).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from colog.core.fields import FINAL_STATUSES
from colog.core.settings import Settings
from tests import synthetic
from tests.fixtures.enrich import colog_env

ROOT = Path(__file__).resolve().parents[2]
STREAMS, PER_STREAM, SEED = 3, 100, 31
RECOVERY_TIMEOUT_S = 150.0
# Small batches: many round trips per stream, so a fault lands in the middle of a pass.
WORKER_ENV = {
    "COLOG_CONTEXT_TIMEOUT_S": 0, "COLOG_BEAT_INTERVAL_S": 1, "COLOG_PARTITION_LOCK_TTL_S": 6,
    "COLOG_INFERENCE_BATCH_SIZE": 8, "COLOG_WRITE_BATCH_SIZE": 8, "COLOG_READ_BATCH_SIZE": 16,
    "COLOG_DRIFT_INTERVAL_S": 0,
}
VERDICT_FIELDS = ("label", "anomaly_type")


def rows() -> list[dict]:
    return synthetic.records(streams=STREAMS, per_stream=PER_STREAM, seed=SEED)


def final_query() -> dict:
    return {"terms": {"colog.status": list(FINAL_STATUSES)}}


@dataclass
class Scenario:
    name: str
    stack: object  # conftest.FaultStack
    index: str
    settings: Settings
    dir: Path
    documents: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)  # processes the scenario killed itself
    metrics_ports: dict[str, int] = field(default_factory=dict)

    # -- OpenSearch -----------------------------------------------------------------------
    def client(self):
        from colog.core.engine import connect

        return connect(self.settings)

    def final_count(self) -> int | None:
        """Documents with a final status now; None while OpenSearch does not answer."""
        client = self.client()
        try:
            client.refresh(self.index)
            return client.count(self.index, final_query())
        except Exception:  # noqa: BLE001 - OpenSearch restarting, blocked, ...
            return None
        finally:
            client.close()

    # -- worker and beat ------------------------------------------------------------------
    def env(self, **extra) -> dict[str, str]:
        extra = {**WORKER_ENV, "COLOG_HEARTBEAT_FILE": self.dir / f"heartbeat-{time.time_ns()}",
                 **extra}
        env = {**os.environ, **colog_env(self.settings, **extra)}
        env["COLOG_CACHE_DIR"] = str(self.dir / "cache")  # beat's schedule file
        env["COLOG_INCIDENTS_INDEX"] = self.settings.incidents_index
        env["COLOG_MODELS_INDEX"] = self.settings.models_index
        return env

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """`colog <args>` from this checkout, its output in `<dir>/<name>.log`."""
        from colog.app.stack.process import free_port

        self.metrics_ports[name] = free_port()
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "colog.app.cli", *args],
                                env=self.env(COLOG_METRICS_PORT=self.metrics_ports[name]),
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes[name] = proc
        return proc

    def worker_metric(self, series: str) -> float:
        """The sum of one Prometheus series over the workers still running (e.g.
        `colog_write_outcomes_total{outcome="retries"}`); 0 when none exposes it."""
        import urllib.request

        total = 0.0
        for name, proc in self.processes.items():
            if not name.startswith("worker") or proc.poll() is not None:
                continue
            url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
            try:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError:
                continue
            total += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                         if line.startswith(series + " "))
        return total

    def start_workers(self, workers: int = 1, concurrency: int = 2) -> None:
        for n in range(workers):
            self.start(f"worker{n + 1}", "worker", "--concurrency", str(concurrency))
        self.start("beat", "beat")

    def log(self, name: str) -> str:
        try:
            return (self.dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def logs_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {name}.log\n{self.log(name)[-chars:]}" for name in self.processes)

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def dead(self, *names: str) -> list[str]:
        """Processes that exited though nobody stopped them (a test-killed one is named in
        `names` and not counted)."""
        return [n for n, p in self.processes.items() if n not in names and p.poll() is not None]

    # -- waiting --------------------------------------------------------------------------
    def wait_progress(self, at_least: int, timeout: float = 60.0) -> int:
        """Block until `at_least` documents are final; the count then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.final_count()
            if done is not None and done >= at_least:
                return done
            assert not self.dead(), f"{self.dead()} exited before the fault:\n{self.logs_tail()}"
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: fewer than {at_least} documents final after "
                             f"{timeout:.0f}s:\n{self.logs_tail()}")

    def wait_all_final(self, timeout: float = RECOVERY_TIMEOUT_S) -> float | None:
        """Seconds until every document is final (None: not within `timeout`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.final_count() == self.documents:
                return time.monotonic() - started
            time.sleep(0.25)
        return None


def prepare(stack, name: str) -> Scenario:
    """A fresh index with the suite's data, its own Drain state, an empty broker."""
    import redis

    from colog.core.engine import connect
    from colog.services.enrich.ingest import ingest_file
    from colog.services.enrich.setup import run_setup

    slug = name.split(" ")[0]
    directory = stack.root / slug
    directory.mkdir(parents=True, exist_ok=True)
    index = f"faults-{slug}-1"
    settings = stack.settings.model_copy(update={
        "index_pattern": f"faults-{slug}-*", "drain_state_key": f"colog:faults:{slug}:drain"})
    redis_client = redis.Redis.from_url(settings.redis_url)
    redis_client.flushall()  # the suite's own Redis: no task or lease of an earlier scenario
    redis_client.close()
    data = rows()
    client = connect(settings)
    try:
        client.delete_index(index)
        run_setup(client, settings)
        path = directory / "data.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
        report = ingest_file(client, path, index)
        assert report.indexed == len(data), report
    finally:
        client.close()
    return Scenario(name, stack, index, settings, directory, len(data))


def verdicts(settings: Settings, index: str) -> dict[tuple, dict]:
    """(stream, sequence) -> {"colog": ..., "version": _version} for every document."""
    from colog.core.engine import connect

    client = connect(settings)
    try:
        client.refresh(index)
        hits = client.search({"size": 10000, "version": True,
                              "sort": [{"event.sequence": "asc"}],
                              "_source": ["colog", "log.file.path", "event.sequence"]},
                             index)["hits"]["hits"]
    finally:
        client.close()
    return {(h["_source"]["log"]["file"]["path"], h["_source"]["event"]["sequence"]):
            {"colog": h["_source"].get("colog", {}), "version": h.get("_version", 0)}
            for h in hits}


def reference_pass(stack) -> dict[tuple, dict]:
    """A clean `colog enrich`-style pass (in process, no fault) over the same data."""
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    scenario = prepare(stack, "reference")
    summary = run_pass(build_context(scenario.settings), flush=True, progress=False)
    assert summary.still_pending == 0, summary
    found = verdicts(scenario.settings, scenario.index)
    assert len(found) == scenario.documents
    assert {v["colog"].get("status") for v in found.values()} == {"enriched"}
    return found


def _same_verdict(want: dict, got: dict) -> bool:
    if want.get("status") != got.get("status"):
        return False
    if want.get("status") != "enriched":
        return True
    if any(want.get(name) != got.get(name) for name in VERDICT_FIELDS):
        return False
    if (want.get("context") or {}).get("label") != (got.get("context") or {}).get("label"):
        return False
    return abs(float(want.get("score", 0)) - float(got.get("score", -1))) <= 1e-4


def measure(scenario: Scenario, reference: dict, recover_s: float | None, fault_s: float,
            done_at_fault: int, **extra) -> dict:
    """The scenario's row (see the module docstring)."""
    found = verdicts(scenario.settings, scenario.index)
    lost = [key for key in reference if key not in found]
    conflicting = [key for key, want in reference.items()
                   if key in found and not _same_verdict(want["colog"], found[key]["colog"])]
    states = Counter(v["colog"].get("status") or "none" for v in found.values())
    not_final = sum(n for status, n in states.items() if status not in FINAL_STATUSES)
    row = {
        "scenario": scenario.name, "documents": scenario.documents, "lost": len(lost),
        "conflicting": len(conflicting),
        "rewritten": sum(1 for v in found.values() if v["version"] > 2),
        "final": dict(sorted((s, n) for s, n in states.items() if s in FINAL_STATUSES)),
        "not_final": not_final,
        "recover_s": None if recover_s is None else round(recover_s, 1),
        "fault_s": round(fault_s, 1), "done_at_fault": done_at_fault,
        "notes": "; ".join(scenario.notes),
        **extra,
    }
    row["examples"] = {"lost": [list(k) for k in lost[:3]],
                       "conflicting": [[list(k), reference[k]["colog"].get("label"),
                                        found[k]["colog"].get("label"),
                                        found[k]["colog"].get("status")]
                                       for k in conflicting[:3]]}
    return row


def assert_targets(row: dict, scenario: Scenario) -> None:
    """The issue's target for every row: 0 lost, 0 conflicting, every document final, and the
    fault really happened in the middle of the pass."""
    where = f"{row['scenario']}: {json.dumps(row)}\n{scenario.logs_tail()}"
    assert 0 < row["done_at_fault"] < row["documents"], f"the fault was not mid-pass. {where}"
    assert row["recover_s"] is not None, f"not every document final in time. {where}"
    assert row["lost"] == 0, f"documents lost. {where}"
    assert row["conflicting"] == 0, f"verdicts differ from the clean pass. {where}"
    assert row["not_final"] == 0, f"documents not final. {where}"


def run(stack, reference: dict, record, name: str, fault, *, workers: int = 1,
        concurrency: int = 2, start_at: float = 0.1) -> tuple[dict, Scenario]:
    """Prepare, start worker(s) and beat, run `fault(scenario)` once `start_at` of the
    documents are final (it returns when the fault is over), wait for every document to be
    final, record the row and check the targets."""
    began = time.monotonic()
    stack.ensure_up()
    scenario = prepare(stack, name)
    try:
        scenario.start_workers(workers, concurrency)
        workers_started = time.monotonic()
        done_at_fault = scenario.wait_progress(max(1, int(scenario.documents * start_at)))
        started = time.monotonic()
        fault(scenario)
        fault_s = time.monotonic() - started
        recover_s = scenario.wait_all_final()
        # Workers must have lived through the fault (unless the scenario killed one itself).
        died = scenario.dead(*scenario.killed)
        if died:
            scenario.notes.append(f"exited: {', '.join(died)}")
        outcome = 'colog_write_outcomes_total{outcome="%s"}'
        row = measure(scenario, reference, recover_s, fault_s, done_at_fault,
                      to_fault_s=round(started - workers_started, 1),
                      write_retries=int(scenario.worker_metric(outcome % "retries")),
                      unwritten=int(scenario.worker_metric(outcome % "unwritten")))
    finally:
        scenario.stop_all()
    row["wall_s"] = round(time.monotonic() - began, 1)
    record(row)
    assert not died, f"{died} exited during the fault:\n{scenario.logs_tail()}"
    assert_targets(row, scenario)
    return row, scenario


# --- the table --------------------------------------------------------------------------------


def render_table(rows_: list[dict]) -> str:
    lines = ["| scenario | documents | lost | conflicting verdicts | final states | not final "
             "| write retries | fault s | time to recover s | notes |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for r in rows_:
        final = ", ".join(f"{s} {n}" for s, n in r["final"].items()) or "none"
        recover = "—" if r["recover_s"] is None else f"{r['recover_s']:.1f}"
        lines.append(f"| {r['scenario']} | {r['documents']} | {r['lost']} | {r['conflicting']} "
                     f"| {final} | {r['not_final']} | {r.get('write_retries', '—')} "
                     f"| {r['fault_s']:.1f} | {recover} "
                     f"| {r['notes']} |")
    return "\n".join(lines)


def results_section(run_: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run_["started"]))
    return (
        "`COLOG_RECORD_FAULTS=1 .venv/bin/python -m pytest tests/faults` (also part of the "
        "README's `make test`). Each scenario ingests 300 documents (3 synthetic streams) into "
        "the suite's private OpenSearch node, runs `colog worker` and `colog beat` against the "
        "suite's private OpenSearch, Redis and Triton, causes the fault once a tenth of the "
        "documents are final, and waits until every document is final. Lost: documents of a "
        "clean pass over the same data missing afterwards; conflicting: documents whose final "
        "status or verdict (label, context label, anomaly type, score to 1e-4) differs from "
        "the clean pass's; write retries: write items the workers retried (their "
        "`colog_write_outcomes_total`); fault s: how long the fault lasted; time to recover: "
        "from the end of the fault until every document was final, with nothing done by hand "
        "(it includes the rest of the pass itself: the baseline row is that alone). "
        "The workers run with `COLOG_BEAT_INTERVAL_S=1` and `COLOG_PARTITION_LOCK_TTL_S=6` "
        "(defaults 10 s and 120 s: in production a recovery waits up to that much longer for "
        "the next dispatch or, after a killed worker, for its lease). What each scenario does "
        "and what an operator does: docs/operations.md, section 11.\n\n"
        f"{render_table(run_['rows'])}\n\n"
        f"Run {when} on {run_['machine']} (shared with other jobs); the pytest session that "
        f"ran it took {run_['seconds']:.0f} s (with `pytest tests/faults` alone: the module, "
        "including the private servers' start-up)."
    )
