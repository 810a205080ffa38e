"""The enrichment context of the current worker thread, built on first use after the fork.

One context per worker thread (the worker runs Celery's threads pool): clients and the
embedder's counters are not shared between concurrent tasks. Kept apart from the tasks so the
Celery app can drop inherited contexts at process start without importing the tasks.
"""

from __future__ import annotations

import threading

from colog.core.settings import get_settings
from colog.services.enrich.context import EnrichContext, build_context

_local = threading.local()


def reset_context() -> None:
    _local.__dict__.clear()


def context() -> EnrichContext:
    if getattr(_local, "ctx", None) is None:
        _local.ctx = build_context(get_settings())
    return _local.ctx
