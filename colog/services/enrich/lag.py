"""The lag gauges: how many documents are pending and the age of the oldest one.

They describe the whole index pattern, not one worker, so exactly one process exports them:
beat (colog/app/worker/beat.py), on its own metrics port (COLOG_BEAT_METRICS_PORT). Were every worker
to set them when it dispatched, each would report a value as old as its last dispatch, and
the autoscaler's `colog_pending_documents` would be whichever worker Prometheus scraped.
"""

from __future__ import annotations

import time

from colog.core.engine.reader import count_pending, pending_query
from colog.core.records import parse_timestamp


def oldest_pending_age(client, index: str) -> float:
    body = {"size": 1, "query": pending_query(), "_source": ["event.ingested", "@timestamp"],
            "sort": [{"event.ingested": {"order": "asc", "unmapped_type": "date"}}]}
    hits = client.search(body, index, lenient=True)
    hits = hits["hits"]["hits"]
    if not hits:
        return 0.0
    source = hits[0]["_source"]
    stamp = (source.get("event") or {}).get("ingested") or source.get("@timestamp")
    try:
        return max(0.0, time.time() - parse_timestamp(stamp).timestamp())
    except (ValueError, TypeError):
        return 0.0


class LagMetrics:
    """The two gauges, registered once per process (only beat creates them)."""

    _instance: "LagMetrics | None" = None

    def __new__(cls):
        if cls._instance is None:
            from prometheus_client import Gauge

            self = super().__new__(cls)
            self.pending = Gauge("colog_pending_documents", "Documents waiting for a verdict")
            self.lag_seconds = Gauge("colog_lag_seconds", "Age of the oldest pending document")
            cls._instance = self
        return cls._instance


def refresh_lag(client, settings, metrics: LagMetrics | None = None) -> tuple[int, float]:
    """Measure and set both gauges; returns (pending, lag seconds)."""
    metrics = metrics or LagMetrics()
    index = settings.index_pattern
    pending = count_pending(client, index)
    lag = oldest_pending_age(client, index)
    metrics.pending.set(pending)
    metrics.lag_seconds.set(lag)
    return pending, lag
