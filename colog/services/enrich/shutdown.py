"""A worker asked to stop (SIGTERM: Celery's warm shutdown) ends its partition passes at the next
batch boundary instead of running them to the end.

Celery's warm shutdown waits for running tasks, and a partition pass can take longer than the
pod's grace period; killed at the end of it, the pass would hold its lease until the TTL runs
out. Instead the signal sets a flag that the pass checks before each batch (colog/services/enrich/batching.py)
and between streams (colog/services/enrich/partitions.py). Stopping there loses nothing: every batch written
so far is complete, the events read but not yet scored stay `pending` in OpenSearch (the state
of record), the lease is released at once, and beat dispatches the partition again.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


class ShutdownRequested(Exception):
    """The worker is shutting down: stop this pass at the batch boundary."""


def request_stop() -> None:
    _requested.set()


def clear() -> None:
    """For a process that goes on after a stop (tests, `colog enrich` after an interrupted run)."""
    _requested.clear()



def check_stop() -> None:
    if _requested.is_set():
        raise ShutdownRequested("worker shutting down: stopping the pass at a batch boundary")
