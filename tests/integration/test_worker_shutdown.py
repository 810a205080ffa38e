"""SIGTERM to a real `colog worker` in the middle of a partition pass (what Kubernetes sends on
scale-in or a rollout): the pass stops at its next batch boundary instead of running to the end
of the grace period, its lease is released at once, and a rerun leaves every document with the
verdict a clean pass gives, each written once. Beat, meanwhile, exports the pending count."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request

import pytest

from colog.services.enrich.context import build_context
from colog.services.enrich.lease import LOCK_KEY
from colog.services.enrich.one_pass import run_pass
from tests import synthetic
from tests.fixtures.processes import stop_child
from tests.integration.test_enrichment import COLOG, ROOT, _env, load

pytestmark = pytest.mark.integration
INDEX, CLEAN = "logs-term-1", "logs-termclean-1"


def _docs(client, index: str) -> dict:
    client.refresh(index)
    hits = client.search({"size": 10000, "version": True,
                          "sort": [{"event.sequence": "asc"}]}, index)["hits"]["hits"]
    return {(h["_source"]["log"]["file"]["path"], h["_source"]["event"]["sequence"]):
            (h["_version"], h["_source"].get("colog", {})) for h in hits}


def _final(client, index: str) -> int:
    client.refresh(index)
    return client.count(index, {"term": {"colog.status": "enriched"}})


def _gauge(port: int, name: str) -> float | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    return values[0] if values else None


def test_sigterm_mid_pass_stops_at_a_batch_boundary_and_loses_nothing(
        enrich_env, opensearch, redis_server, tmp_path):
    from colog.app.stack.process import free_port
    from colog.app.worker.celery_app import QUEUE

    rows = synthetic.records(streams=3, per_stream=120, seed=23)
    load(enrich_env, opensearch, tmp_path, CLEAN, rows)
    load(enrich_env, opensearch, tmp_path, INDEX, rows)
    run_pass(build_context(enrich_env.settings("logs-termclean-*")), flush=True, progress=False)
    lock = LOCK_KEY.format(0)
    redis_server.delete(lock)

    worker_port, beat_port = free_port(), free_port()
    # One partition: one task holds every stream. Small batches: many boundaries per stream.
    # A long lease TTL: a lease the worker did not release would outlive the check below.
    common = dict(COLOG_PARTITIONS=1, COLOG_CONTEXT_TIMEOUT_S=0, COLOG_BEAT_INTERVAL_S=1,
                  COLOG_INFERENCE_BATCH_SIZE=2, COLOG_WRITE_BATCH_SIZE=2,
                  COLOG_READ_BATCH_SIZE=4, COLOG_PARTITION_LOCK_TTL_S=120,
                  COLOG_DRIFT_INTERVAL_S=0, COLOG_HEARTBEAT_FILE=tmp_path / "worker.hb",
                  COLOG_BEAT_HEARTBEAT_FILE=tmp_path / "beat.hb")
    settings = enrich_env.settings("logs-term-*")
    worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 — closed below
    worker = subprocess.Popen([COLOG, "worker", "--concurrency", "1"], cwd=ROOT,
                              env=_env(settings, COLOG_METRICS_PORT=worker_port, **common),
                              stdout=worker_log, stderr=subprocess.STDOUT)
    beat = subprocess.Popen([COLOG, "beat"], cwd=ROOT,
                            env=_env(settings, COLOG_METRICS_PORT=worker_port,
                                     COLOG_BEAT_METRICS_PORT=beat_port, **common),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        done, deadline = 0, time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            done = _final(opensearch, INDEX)
            if 0 < done < len(rows) // 3:
                break
            time.sleep(0.05)
        assert 0 < done < len(rows) // 3, f"never caught the pass mid-way ({done} done):\n" \
                                          + (tmp_path / "worker.log").read_text()[-3000:]
        health = subprocess.run([COLOG, "health"], capture_output=True, text=True,
                                env=_env(settings, **common))
        assert health.returncode == 0, health.stderr  # the consumer's check wrote it
        terminated = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        took = time.monotonic() - terminated
        at_exit = _final(opensearch, INDEX)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert at_exit < len(rows), f"the pass ran to its end ({at_exit} of {len(rows)})"
        assert "stopped at a batch boundary" in log, log[-3000:]
        assert took < 30, f"warm shutdown took {took:.1f}s"
        assert not redis_server.exists(lock), "the lease outlived the worker"

        # Beat (not a worker) reports what is left, for the autoscaler.
        pending, wait_until = None, time.monotonic() + 15
        while time.monotonic() < wait_until:
            pending = _gauge(beat_port, "colog_pending_documents")
            if pending == len(rows) - at_exit:
                break
            time.sleep(0.5)
        assert pending == len(rows) - at_exit
        beat_health = subprocess.run([COLOG, "health", "--beat"], capture_output=True,
                                     text=True, env=_env(settings, **common))
        assert beat_health.returncode == 0, beat_health.stderr
    finally:
        stop_child(worker)
        stop_child(beat)
        worker_log.close()
        redis_server.delete(QUEUE, "colog:lock:dispatch", *redis_server.scan_iter("colog:queued:*"))

    rerun = subprocess.run([COLOG, "enrich", "--no-progress"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env=_env(settings, **common))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    clean, stopped = _docs(opensearch, CLEAN), _docs(opensearch, INDEX)
    assert clean.keys() == stopped.keys() and len(stopped) == len(rows)
    for key, (version, want) in clean.items():
        got_version, got = stopped[key]
        assert got["status"] == want["status"] == "enriched", key
        assert got_version == version, f"{key} written {got_version - 1} times, clean {version - 1}"
        for name in ("label", "anomaly_type"):
            assert got[name] == want[name], (key, name)
        assert got["context"]["label"] == want["context"]["label"], key
        assert got["score"] == pytest.approx(want["score"], abs=1e-4), key
