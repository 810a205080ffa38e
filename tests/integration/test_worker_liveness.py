"""The worker's liveness follows its consumer, not a timer: with a real `colog worker` on a
Redis of its own, the heartbeat `colog health` reads stops while the broker is gone (the probe
fails, the log says why) and resumes once Redis is back and Celery reconnected."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from colog.core.settings import Settings
from tests.fixtures.processes import stop_child

pytestmark = pytest.mark.integration
COLOG = str(Path(sys.executable).with_name("colog"))
ROOT = Path(__file__).resolve().parents[2]


def _health(env) -> subprocess.CompletedProcess:
    return subprocess.run([COLOG, "health"], env=env, capture_output=True, text=True, timeout=60)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_heartbeat_stops_without_the_broker_and_resumes_with_it(tmp_path):
    from colog.app.stack import process
    from colog.app.stack import redis as redis_stack

    settings = Settings(cache_dir=tmp_path / "cache",
                        redis_url=f"redis://127.0.0.1:{process.free_port()}/0")
    redis_stack.start(settings)
    heartbeat = tmp_path / "worker.hb"
    env = {**os.environ, "COLOG_REDIS_URL": settings.redis_url,
           "COLOG_CACHE_DIR": str(settings.cache_dir), "COLOG_HEARTBEAT_FILE": str(heartbeat),
           "COLOG_HEARTBEAT_INTERVAL_S": "1", "COLOG_HEARTBEAT_MAX_AGE_S": "4",
           "COLOG_METRICS_PORT": str(process.free_port())}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 — closed below
    worker = subprocess.Popen([COLOG, "worker", "--concurrency", "1"], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: _health(env).returncode == 0, 90), \
            (tmp_path / "worker.log").read_text()[-3000:]
        redis_stack.stop(settings)
        assert _wait(lambda: _health(env).returncode == 1, 30), "healthy without a broker"
        assert "unhealthy: heartbeat" in _health(env).stderr
        assert worker.poll() is None  # alive but unhealthy: the probe, not the process, says so
        redis_stack.start(settings)
        assert _wait(lambda: _health(env).returncode == 0, 60), \
            "the heartbeat did not resume after Redis came back:\n" \
            + (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_child(worker)
        log.close()
        redis_stack.stop(settings)
