"""The lag gauge: age of the oldest pending document, and how many are pending."""

from __future__ import annotations

import time

from colog.records import parse_timestamp
from colog.reader import count_pending, pending_query


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


def refresh_lag(ctx) -> None:
    index = ctx.settings.index_pattern
    ctx.metrics.pending.set(count_pending(ctx.client, index))
    ctx.metrics.lag_seconds.set(oldest_pending_age(ctx.client, index))
