"""Liveness for probes: a heartbeat file written only while the worker really works.

`celery inspect ping` goes through the broker and fails on a busy worker (docs/design.md §9), so the
probe (`colog health`) reads the age of a file instead. What writes the file decides what the
probe proves, so it is written by a check that runs on the Celery consumer's own event loop
(:class:`LivenessStep`, a consumer bootstep on the consumer's timer), and only when

- the consumer's broker connection is up and Redis answers a PING, and
- every running task has moved (read a document or written a batch, :data:`PROGRESS`) within
  `progress_stall_s`: a task stuck in a call that never returns stops the heartbeat.

A hung consumer loop never runs the check, so the file ages and the probe fails; an idle worker
with a healthy broker connection stays healthy. Beat's probe reads the file its scheduler
touches after every tick (colog/app/worker/beat.py).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

PROBE_TIMEOUT_S = 2.0  # a liveness probe answers fast or not at all

log = logging.getLogger(__name__)


def touch_heartbeat(settings, path: Path | None = None) -> None:
    path = Path(path or settings.heartbeat_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(str(time.time()), encoding="utf-8")
    tmp.replace(path)


def heartbeat_age(settings, path: Path | None = None) -> float | None:
    path = Path(path or settings.heartbeat_file)
    try:
        return time.time() - float(path.read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        return None


class Progress:
    """Running tasks and when any of them last moved (thread-safe: the worker runs Celery's
    threads pool)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._last = clock()

    def task_started(self, task_id: str) -> None:
        with self._lock:
            self._running.add(task_id)
            self._last = self._clock()

    def task_finished(self, task_id: str) -> None:
        with self._lock:
            self._running.discard(task_id)
            self._last = self._clock()

    def mark(self) -> None:
        with self._lock:
            self._last = self._clock()

    def stalled_for(self) -> float:
        """Seconds since anything moved while tasks run; 0 when none runs."""
        with self._lock:
            return self._clock() - self._last if self._running else 0.0


PROGRESS = Progress()


def liveness(broker_ok: bool, broker_detail: str, stalled_s: float, stall_limit_s: float
             ) -> tuple[bool, str]:
    """Whether the worker is alive, and why not."""
    if not broker_ok:
        return False, f"broker unreachable ({broker_detail})"
    if stalled_s > stall_limit_s:
        return False, (f"no running task moved for {stalled_s:.0f}s "
                       f"(limit {stall_limit_s:.0f}s)")
    return True, "ok"


def broker_status(consumer, settings) -> tuple[bool, str]:
    """The consumer's broker connection is up and Redis answers a PING (2 s timeouts)."""
    import redis

    from colog.core.redis_client import state_redis

    connection = getattr(consumer, "connection", None)
    if connection is None or not connection.connected:
        return False, "the consumer has no broker connection"
    client = state_redis(settings, timeout_s=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return False, str(exc)
    finally:
        client.close()
    return True, "ok"


def check_and_touch(consumer, settings) -> bool:
    ok, why = liveness(*broker_status(consumer, settings), PROGRESS.stalled_for(),
                       settings.progress_stall_s)
    if ok:
        touch_heartbeat(settings)
    else:
        log.warning("liveness: not writing the heartbeat: %s", why)
    return ok


def liveness_step():
    """The consumer bootstep (built lazily: importing celery only where a worker runs)."""
    from celery import bootsteps

    class LivenessStep(bootsteps.StartStopStep):
        requires = {"celery.worker.consumer.tasks:Tasks"}

        def __init__(self, parent, **kwargs):
            super().__init__(parent, **kwargs)
            self.timer_ref = None

        def start(self, consumer):
            from colog.core.settings import get_settings

            settings = get_settings()
            check_and_touch(consumer, settings)
            self.timer_ref = consumer.timer.call_repeatedly(
                settings.heartbeat_interval_s, check_and_touch, (consumer, settings))

        def stop(self, consumer):
            if self.timer_ref is not None:
                self.timer_ref.cancel()
                self.timer_ref = None

        shutdown = stop

    return LivenessStep
