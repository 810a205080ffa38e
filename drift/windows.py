"""The recent and reference windows of every index and stream, counted by the engine.

Windows are in event time (`@timestamp`) and end at the newest event of each index, not at the
wall clock: a replayed or delayed index is judged on its own timeline, and an index that went
quiet is judged on its last hour rather than on nothing. Only enriched events count (they carry
the template id and the score). Two searches per check, whatever the volume: the newest event
per index, then one aggregation of templates and score bins per index, window and stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from colog.fields import STATUS_ENRICHED
from drift.measures import SCORE_BIN, WindowCounts

RECENT, REFERENCE = "recent", "reference"


@dataclass
class Bounds:
    reference_start: datetime
    recent_start: datetime
    end: datetime          # exclusive: just after the newest event

    def as_doc(self) -> dict:
        iso = lambda t: t.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
        return {"reference": {"start": iso(self.reference_start), "end": iso(self.recent_start)},
                "recent": {"start": iso(self.recent_start), "end": iso(self.end)}}


@dataclass
class IndexWindows:
    index: str
    bounds: Bounds
    recent: WindowCounts
    reference: WindowCounts
    model_version: str | None          # the version that scored most recent events
    streams: dict[str, tuple[WindowCounts, WindowCounts]] = field(default_factory=dict)


def _enriched(extra: list[dict] | None = None) -> dict:
    return {"bool": {"filter": [{"term": {"colog.status": STATUS_ENRICHED}}, *(extra or [])]}}


def newest_events(client, pattern: str) -> dict[str, datetime]:
    """Newest enriched event time per concrete index of the pattern."""
    answer = client.search(index=pattern, body={
        "size": 0, "query": _enriched(),
        "aggs": {"indices": {"terms": {"field": "_index", "size": 1000},
                             "aggs": {"newest": {"max": {"field": "@timestamp"}}}}}},
        params={"ignore_unavailable": "true", "allow_no_indices": "true"})
    found = {}
    for bucket in answer.get("aggregations", {}).get("indices", {}).get("buckets", []):
        value = bucket["newest"].get("value")
        if value is not None:
            found[bucket["key"]] = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return found


def bounds_for(newest: datetime, window_s: float, reference_s: float) -> Bounds:
    end = newest + timedelta(milliseconds=1)
    recent_start = end - timedelta(seconds=window_s)
    return Bounds(recent_start - timedelta(seconds=reference_s), recent_start, end)


def _window_aggs(bounds: Bounds, max_templates: int) -> dict:
    ms = lambda t: int(t.timestamp() * 1000)  # noqa: E731
    return {"windows": {
        "range": {"field": "@timestamp", "ranges": [
            {"key": REFERENCE, "from": ms(bounds.reference_start), "to": ms(bounds.recent_start)},
            {"key": RECENT, "from": ms(bounds.recent_start), "to": ms(bounds.end)}]},
        "aggs": {"templates": {"terms": {"field": "colog.template.id", "size": max_templates}},
                 "scores": {"histogram": {"field": "colog.score", "interval": SCORE_BIN,
                                          "min_doc_count": 1}},
                 "versions": {"terms": {"field": "colog.model.version", "size": 1}}}}}


def _counts(bucket: dict) -> WindowCounts:
    templates = {str(b["key"]): float(b["doc_count"]) for b in bucket["templates"]["buckets"]}
    other = bucket["templates"].get("sum_other_doc_count", 0)
    if other:  # templates beyond the aggregation's size: one bucket, so totals stay right
        templates["__other__"] = float(other)
    scores = {round(float(b["key"]), 6): float(b["doc_count"])
              for b in bucket["scores"]["buckets"]}
    return WindowCounts(templates, scores)


def _split(windows: dict) -> tuple[WindowCounts, WindowCounts, str | None]:
    by_key = {b["key"]: b for b in windows["buckets"]}
    recent, reference = _counts(by_key[RECENT]), _counts(by_key[REFERENCE])
    versions = by_key[RECENT]["versions"]["buckets"]
    return recent, reference, (str(versions[0]["key"]) if versions else None)


def read_windows(client, index: str, bounds: Bounds, max_streams: int,
                 max_templates: int) -> IndexWindows:
    aggs = _window_aggs(bounds, max_templates)
    answer = client.search(index=index, body={
        "size": 0,
        "query": _enriched([{"range": {"@timestamp": {
            "gte": int(bounds.reference_start.timestamp() * 1000),
            "lt": int(bounds.end.timestamp() * 1000), "format": "epoch_millis"}}}]),
        "aggs": {**aggs, "streams": {"terms": {"field": "colog.stream", "size": max_streams},
                                     "aggs": aggs}}})
    result = answer["aggregations"]
    recent, reference, version = _split(result["windows"])
    windows = IndexWindows(index, bounds, recent, reference, version)
    for bucket in result["streams"]["buckets"]:
        stream_recent, stream_reference, _ = _split(bucket["windows"])
        windows.streams[str(bucket["key"])] = (stream_recent, stream_reference)
    return windows
