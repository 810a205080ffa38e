"""The recent and reference windows of every index and stream, counted by the engine.

Windows are in event time (`@timestamp`) and end at the newest enriched event of each stream
(of each index, for the index as a whole), not at the wall clock: a replayed, backfilled or
delayed stream, or one whose host clock is off, is judged on its own timeline, and a stream that
went quiet is judged on its last hour rather than on nothing. Only enriched events count (they
carry the template id and the score). The engine does the counting: one search for the newest
events, then one per index and per `STREAMS_PER_SEARCH` streams, whatever the volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from colog.core.fields import STATUS_ENRICHED
from colog.services.drift.measures import SCORE_BIN, WindowCounts

RECENT, REFERENCE = "recent", "reference"
STREAMS_PER_SEARCH = 20  # keeps one answer far below the engine's bucket limit


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
    stream_bounds: dict[str, Bounds] = field(default_factory=dict)

    def bounds_of(self, stream: str | None) -> Bounds:
        return self.bounds if stream is None else self.stream_bounds[stream]


def _enriched(extra: list[dict] | None = None) -> dict:
    return {"bool": {"filter": [{"term": {"colog.status": STATUS_ENRICHED}}, *(extra or [])]}}


def _time(value_ms: float) -> datetime:
    return datetime.fromtimestamp(value_ms / 1000, tz=timezone.utc)


@dataclass
class Newest:
    index: datetime
    streams: dict[str, datetime]


def newest_events(client, pattern: str, max_streams: int) -> dict[str, Newest]:
    """Newest enriched event time per concrete index of the pattern, and per stream in it."""
    newest = {"newest": {"max": {"field": "@timestamp"}}}
    answer = client.search({
        "size": 0, "query": _enriched(),
        "aggs": {"indices": {"terms": {"field": "_index", "size": 1000}, "aggs": {
            **newest, "streams": {"terms": {"field": "colog.stream", "size": max_streams},
                                  "aggs": newest}}}}}, pattern, lenient=True)
    found = {}
    for bucket in answer.get("aggregations", {}).get("indices", {}).get("buckets", []):
        if bucket["newest"].get("value") is None:
            continue
        streams = {str(b["key"]): _time(b["newest"]["value"])
                   for b in bucket["streams"]["buckets"] if b["newest"].get("value") is not None}
        found[bucket["key"]] = Newest(_time(bucket["newest"]["value"]), streams)
    return found


def bounds_for(newest: datetime, window_s: float, reference_s: float) -> Bounds:
    end = newest + timedelta(milliseconds=1)
    recent_start = end - timedelta(seconds=window_s)
    return Bounds(recent_start - timedelta(seconds=reference_s), recent_start, end)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _window_aggs(bounds: Bounds, max_templates: int) -> dict:
    return {"windows": {
        "range": {"field": "@timestamp", "ranges": [
            {"key": REFERENCE, "from": _ms(bounds.reference_start), "to": _ms(bounds.recent_start)},
            {"key": RECENT, "from": _ms(bounds.recent_start), "to": _ms(bounds.end)}]},
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


def read_windows(client, index: str, newest: Newest, window_s: float, reference_s: float,
                 max_templates: int) -> IndexWindows:
    bounds = bounds_for(newest.index, window_s, reference_s)
    answer = client.search({"size": 0, "query": _enriched(),
                            "aggs": _window_aggs(bounds, max_templates)}, index)
    recent, reference, version = _split(answer["aggregations"]["windows"])
    windows = IndexWindows(index, bounds, recent, reference, version)
    keys = sorted(newest.streams)
    for start in range(0, len(keys), STREAMS_PER_SEARCH):
        chunk = keys[start:start + STREAMS_PER_SEARCH]
        aggs = {}
        for n, stream in enumerate(chunk):
            stream_bounds = bounds_for(newest.streams[stream], window_s, reference_s)
            windows.stream_bounds[stream] = stream_bounds
            aggs[f"s{n}"] = {"filter": {"term": {"colog.stream": stream}},
                             "aggs": _window_aggs(stream_bounds, max_templates)}
        result = client.search({"size": 0, "query": _enriched(), "aggs": aggs},
                               index)["aggregations"]
        for n, stream in enumerate(chunk):
            stream_recent, stream_reference, _ = _split(result[f"s{n}"]["windows"])
            windows.streams[stream] = (stream_recent, stream_reference)
    return windows
