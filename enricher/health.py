"""Liveness for probes: the worker touches a heartbeat file; `colog health` checks its age.

`celery inspect ping` goes through the broker and fails on a busy worker (OPS-NOTES), so the
probe reads a file the worker writes after every task and on a timer instead.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


def touch_heartbeat(settings) -> None:
    path = Path(settings.heartbeat_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(time.time()), encoding="utf-8")


def heartbeat_age(settings) -> float | None:
    path = Path(settings.heartbeat_file)
    try:
        return time.time() - float(path.read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        return None


def start_heartbeat_thread(settings, interval_s: float = 15.0) -> threading.Thread:
    """Keeps the heartbeat fresh while the worker process is alive, busy or idle."""
    def beat() -> None:
        while True:
            touch_heartbeat(settings)
            time.sleep(interval_s)

    thread = threading.Thread(target=beat, name="colog-heartbeat", daemon=True)
    thread.start()
    return thread
