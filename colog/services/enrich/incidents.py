"""Collective incidents: one document per burst of anomalous context in a stream (docs/design.md §5).

Consecutive events of one stream whose `colog.context.label` is `anomaly` merge into one incident
in `settings.incidents_index`. An incident closes once the stream shows an event more than the
quiet period after the incident's last anomalous event (a gap, or a run of normal-context
events that long). Closing is decided from event time only, never from the wall clock, so a
replay of old logs gives the same incidents as the live run did.

Idempotence: an incident's id is a hash of its stream and first event id, and every incident
remembers the last event it counted (`last_event_at` plus the ids at that instant). Events at or
before that watermark were already merged, so re-processing a batch changes nothing, and an
incident that grows across batches is updated in place, never split.

Pure part: `merge_incidents`. IO part: `update_incidents` (called by the enricher after each
batch's write-back) and `ensure_incidents_index`.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from colog.core.engine.errors import Conflict, EngineError
from colog.core.fields import STATUS_ENRICHED, get_path
from colog.core.records import parse_timestamp

OPEN = "open"
CLOSED = "closed"
TOP_TEMPLATES = 5
# Kept per incident so the top 5 stay exact when an incident grows across batches; bounded so
# a pathological incident (thousands of distinct templates) cannot grow without limit.
MAX_TEMPLATE_COUNTS = 200
MAX_TAIL_IDS = 1000

INCIDENT_MAPPING: dict = {
    "dynamic": False,
    "properties": {
        "incident_id": {"type": "keyword"},
        "stream": {"type": "keyword"},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "log": {"properties": {"file": {"properties": {"path": {"type": "keyword"}}}}},
        "status": {"type": "keyword"},
        "@timestamp": {"type": "date"},
        "start": {"type": "date"},
        "end": {"type": "date"},
        "closed_at": {"type": "date"},
        "created_at": {"type": "date"},
        "updated_at": {"type": "date"},
        "event_count": {"type": "long"},
        "point_count": {"type": "long"},
        "max_score": {"type": "float"},
        "mean_score": {"type": "float"},
        "score_sum": {"type": "double"},
        "top_templates": {"properties": {
            "id": {"type": "keyword"},
            "text": {"type": "keyword", "ignore_above": 1024},
            "count": {"type": "long"},
        }},
        "model_version": {"type": "keyword"},
        "first_event_id": {"type": "keyword"},
        "last_event_id": {"type": "keyword"},
        "last_event_at": {"type": "date"},
        "tail_event_ids": {"type": "keyword", "index": False, "doc_values": False},
        "template_counts": {"type": "object", "enabled": False},
    },
}


class IncidentInputError(ValueError):
    """An event or stored incident cannot be merged; the message names it and says why."""


# --- pure part ------------------------------------------------------------------------------


def incident_id(stream: str, first_event_id: str) -> str:
    """Deterministic, so a replay of the same burst overwrites instead of duplicating."""
    digest = hashlib.sha1(f"{stream}\x00{first_event_id}".encode("utf-8")).hexdigest()
    return digest[:24]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _number(value: Any, what: str, event_id: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IncidentInputError(f"event {event_id}: {what} is {value!r}, not a number")
    return float(value)


def _event_view(event: Any, position: int) -> dict | None:
    """The fields merging needs, or None for an event without a verdict (not enriched)."""
    if not isinstance(event, dict) or not isinstance(event.get("_source"), dict):
        raise IncidentInputError(
            f"event #{position} is not a search hit with `_id` and `_source`: {event!r:.200}")
    event_id = event.get("_id")
    if not isinstance(event_id, str) or not event_id:
        raise IncidentInputError(f"event #{position} has no `_id`")
    source = event["_source"]
    if get_path(source, "colog.status") != STATUS_ENRICHED:
        return None
    try:
        moment = parse_timestamp(source.get("@timestamp"))
    except (ValueError, TypeError) as error:
        raise IncidentInputError(f"event {event_id}: {error}") from error
    return {
        "id": event_id,
        "at": moment,
        "context_anomaly": get_path(source, "colog.context.label") == "anomaly",
        "point_anomaly": get_path(source, "colog.label") == "anomaly",
        "context_score": _number(get_path(source, "colog.context.score"), "colog.context.score",
                                 event_id),
        "template_id": get_path(source, "colog.template.id"),
        "template_text": get_path(source, "colog.template.text"),
        "model_version": get_path(source, "colog.model.version"),
        "host": get_path(source, "host.name"),
        "path": get_path(source, "log.file.path"),
    }


class _Draft:
    """One incident being built; starts from a stored document or from its first event."""

    def __init__(self, stream: str, stored: dict | None = None, first: dict | None = None,
                 now: datetime | None = None):
        if stored is not None:
            self.doc = copy.deepcopy(stored)
            try:
                self.end = parse_timestamp(stored["end"])
            except (KeyError, ValueError, TypeError) as error:
                raise IncidentInputError(
                    f"stored incident {stored.get('incident_id')!r} has no usable `end`: "
                    f"{error}") from error
            self.templates = {
                str(entry[0]): [entry[1], int(entry[2])]
                for entry in stored.get("template_counts") or []
            }
            return
        assert first is not None and now is not None
        self.end = first["at"]
        self.templates = {}
        self.doc = {
            "incident_id": incident_id(stream, first["id"]),
            "stream": stream,
            "host": {"name": first["host"]},
            "log": {"file": {"path": first["path"]}},
            "status": OPEN,
            "@timestamp": _iso(first["at"]),
            "start": _iso(first["at"]),
            "end": _iso(first["at"]),
            "created_at": _iso(now),
            "event_count": 0,
            "point_count": 0,
            "max_score": 0.0,
            "score_sum": 0.0,
            "first_event_id": first["id"],
            "tail_event_ids": [],
        }

    def add(self, event: dict) -> None:
        doc = self.doc
        if event["at"] > self.end or not doc.get("last_event_at"):
            doc["tail_event_ids"] = []
        self.end = max(self.end, event["at"])
        doc["end"] = doc["last_event_at"] = _iso(self.end)
        doc["last_event_id"] = event["id"]
        tail = doc["tail_event_ids"]
        if len(tail) < MAX_TAIL_IDS:
            tail.append(event["id"])
        doc["event_count"] = int(doc.get("event_count", 0)) + 1
        doc["point_count"] = int(doc.get("point_count", 0)) + int(event["point_anomaly"])
        doc["max_score"] = max(float(doc.get("max_score", 0.0)), event["context_score"])
        doc["score_sum"] = float(doc.get("score_sum", 0.0)) + event["context_score"]
        if event["model_version"] is not None:
            doc["model_version"] = str(event["model_version"])
        if not (doc.get("host") or {}).get("name") and event["host"]:
            doc["host"] = {"name": event["host"]}
        key = event["template_id"]
        if key is not None:
            key = str(key)
            if key in self.templates:
                self.templates[key][1] += 1
            elif len(self.templates) < MAX_TEMPLATE_COUNTS:
                self.templates[key] = [event["template_text"], 1]

    def close(self, evidence_at: datetime) -> None:
        self.doc["status"] = CLOSED
        self.doc["closed_at"] = _iso(evidence_at)

    def finish(self, now: datetime) -> dict:
        doc = self.doc
        ranked = sorted(self.templates.items(), key=lambda item: (-item[1][1], item[0]))
        doc["template_counts"] = [[key, text, count] for key, (text, count) in ranked]
        doc["top_templates"] = [{"id": key, "text": text, "count": count}
                                for key, (text, count) in ranked[:TOP_TEMPLATES]]
        count = int(doc.get("event_count", 0))
        doc["mean_score"] = float(doc["score_sum"]) / count if count else 0.0
        doc["updated_at"] = _iso(now)
        return doc


def _already_merged(event: dict, watermark: datetime | None, tail_ids: set[str]) -> bool:
    if watermark is None:
        return False
    if event["at"] < watermark:
        return True
    return event["at"] == watermark and event["id"] in tail_ids


def merge_incidents(latest: dict | None, events: Iterable[dict], quiet_period_s: float,
                    stream: str | None = None, now: datetime | None = None) -> list[dict]:
    """Merge a stream's events (search hits, in stream order) into its incidents.

    `latest` is the stream's most recent stored incident, or None. When it is open it may
    grow; either way its watermark (`last_event_at`, `tail_event_ids`) marks events already
    merged, which are skipped. Events that are not `enriched` carry no verdict and are ignored.
    Returns every incident created or changed (the open one last, if any); nothing when the
    events change nothing.
    """
    if quiet_period_s < 0:
        raise IncidentInputError(f"quiet period must be >= 0 s, got {quiet_period_s}")
    now = now or datetime.now(timezone.utc)
    quiet = timedelta(seconds=quiet_period_s)
    if latest is not None and stream is None:
        stream = latest.get("stream")
    if not stream:
        raise IncidentInputError("no stream given and no stored incident to take it from")

    watermark, tail_ids = None, set()
    if latest is not None and latest.get("last_event_at"):
        watermark = parse_timestamp(latest["last_event_at"])
        tail_ids = set(latest.get("tail_event_ids") or [])
    current = _Draft(stream, stored=latest) if latest and latest.get("status") == OPEN else None
    changed = False

    views = [view for position, event in enumerate(events)
             if (view := _event_view(event, position)) is not None]
    views.sort(key=lambda view: view["at"])  # stable: keeps the caller's tie order

    results: list[dict] = []
    for view in views:
        if _already_merged(view, watermark, tail_ids):
            continue
        if current is not None and view["at"] - current.end > quiet:
            current.close(view["at"])
            results.append(current.finish(now))
            current, changed = None, False
        if not view["context_anomaly"]:
            continue
        if current is None:
            current = _Draft(stream, first=view, now=now)
        current.add(view)
        changed = True
    if current is not None and changed:
        results.append(current.finish(now))
    return results


# --- IO part ---------------------------------------------------------------------------------


def ensure_incidents_index(client: Any, index: str) -> None:
    """Create the incidents index with its mapping unless it exists (safe to race)."""
    if client.index_exists(index):
        return
    try:
        client.create_index(index, {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": INCIDENT_MAPPING,
        })
    except EngineError as error:  # another worker created it first
        if error.error_type != "resource_already_exists_exception":
            raise


def latest_incident(client: Any, index: str, stream: str) -> dict | None:
    """The stream's most recent incident (by end), or None."""
    response = client.search({
        "size": 1,
        "query": {"term": {"stream": stream}},
        "sort": [{"end": {"order": "desc"}}, {"incident_id": {"order": "desc"}}],
    }, index)
    hits = response["hits"]["hits"]
    return hits[0]["_source"] if hits else None


def update_incidents(client: Any, settings: Any, stream: Any, events: list[dict],
                     now: datetime | None = None) -> list[dict]:
    """Merge a batch's enriched events of one stream into `settings.incidents_index`.

    `stream` is the stream key (or anything with a `.key`). Writes the changed incidents under
    their deterministic ids in one bulk request with one refresh, so the next batch of the stream
    sees them (one refresh per incident made this hook most of a first pass's unaccounted time:
    benchmarks/RESULTS.md, issue 23). Returns the incidents written; an incident the engine
    refused raises EngineError.
    """
    key = getattr(stream, "key", stream)
    if not isinstance(key, str) or not key:
        raise IncidentInputError(f"stream must be a non-empty key, got {stream!r}")
    index = settings.incidents_index
    quiet = float(settings.incident_quiet_period_s)
    ensure_incidents_index(client, index)
    latest = latest_incident(client, index, key)
    incidents = merge_incidents(latest, events, quiet, stream=key, now=now)
    if incidents:
        # refresh: the stream's next batch must read these incidents back (a low-volume index,
        # so the small segment this makes is cheap).
        operations = [line for doc in incidents for line in (
            {"index": {"_index": index, "_id": doc["incident_id"]}}, doc)]
        answer = client.bulk(operations, refresh=True)
        if answer.get("errors"):
            failed = [item.get("index", {}) for item in answer.get("items", [])
                      if item.get("index", {}).get("error")]
            error = failed[0].get("error", {}) if failed else {}
            raise EngineError(f"{len(failed)} of {len(incidents)} incidents of stream {key!r} "
                              f"not written: {error.get('type', '')}: {error.get('reason', '')}",
                              status_code=failed[0].get("status") if failed else None,
                              error_type=error.get("type", ""), reason=error.get("reason", ""))
    return incidents


def close_stale_incidents(client: Any, settings: Any, now: datetime | None = None) -> list[str]:
    """Close open incidents of streams that went silent (for beat, optional).

    An incident is stale when both its last anomalous event and its last update are more than
    the quiet period ago, so a replay of old logs (event time far in the past, updates now) is
    not cut short. The close is conditional on the incident's seq_no: if the enricher extends
    the incident at the same moment, the enricher wins and the incident stays open.
    Returns the ids closed.
    """
    index = settings.incidents_index
    quiet = float(settings.incident_quiet_period_s)
    now = now or datetime.now(timezone.utc)
    cutoff = _iso(now - timedelta(seconds=quiet))
    if not client.index_exists(index):
        return []
    answer = client.search({
        "size": 1000, "seq_no_primary_term": True,
        "query": {"bool": {"filter": [
            {"term": {"status": OPEN}},
            {"range": {"end": {"lt": cutoff}}},
            {"range": {"updated_at": {"lt": cutoff}}},
        ]}},
    }, index)
    closed = []
    for hit in answer["hits"]["hits"]:
        doc = {**hit["_source"], "status": CLOSED, "closed_at": _iso(now),
               "updated_at": _iso(now)}
        try:
            client.index(index, doc, hit["_id"], refresh=True,
                         if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        except Conflict:  # the enricher changed it meanwhile; it stays open
            continue
        closed.append(hit["_id"])
    return closed
