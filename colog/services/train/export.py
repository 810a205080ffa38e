"""Training data from the search engine: analyst-labelled documents with their stream neighbours.

Which documents: every stream (colog/core/engine/streams.py: `host.name` + the first present
source field) that holds at least one analyst label (`colog.feedback.label`) inside the data window is read
whole (inside the window) through a point-in-time scan in stream order, because the sequence
modality of a labelled event needs the events around it.

Label precedence, highest first (docs/labelling.md):
  1. analyst feedback `colog.feedback.label` / `colog.feedback.context_label`;
  2. an explicit label shipped with the document (`label` / `context_label` at the top level);
  3. a weak label from `log.level` and negative keywords (`colog.core.labels.weak_label`), applied
     downstream because the record's label stays None.
A feedback value outside the vocabulary (a typo made in Dashboards) is ignored, counted and
reported with the document id: a bad edit never stops a retraining or poisons it.

Holdout: a document is in the holdout when blake2b(document id) maps below `holdout_fraction`:
fixed per document, independent of the run, the data window and the order of the scan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from colog.core.engine import SearchEngine
from colog.core.engine.reader import PIT_KEEP_ALIVE, point_in_time, stream_sort
from colog.core.engine.streams import StreamRef, stream_of_hit
from colog.core.fields import get_path
from colog.core.labels import LabelError, validate_label
from colog.core.records import LogRecord, parse_timestamp

FEEDBACK_LABEL = "colog.feedback.label"
FEEDBACK_CONTEXT = "colog.feedback.context_label"
SOURCE_LABEL = "label"
SOURCE_CONTEXT = "context_label"
ORIGIN_FEEDBACK, ORIGIN_SOURCE, ORIGIN_WEAK = "feedback", "source", "weak"


class NoLabelsError(Exception):
    """No analyst-labelled document in the window: nothing to learn from."""


@dataclass
class Export:
    records: list[LogRecord]
    ids: list[str]
    holdout: np.ndarray                 # bool [N]
    origins: list[str]                  # feedback / source / weak, per record
    labelled: int                       # documents with a valid analyst label
    streams: int
    since: str | None
    first: str | None = None            # timestamps of the oldest and newest exported events
    last: str | None = None
    invalid: list[tuple[str, str]] = field(default_factory=list)   # (id, reason)
    template_ids: list[str | None] = field(default_factory=list)  # colog.template.id per record
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (id, reason): unusable doc

    def split(self) -> tuple[list[LogRecord], list[LogRecord]]:
        train = [r for r, h in zip(self.records, self.holdout) if not h]
        hold = [r for r, h in zip(self.records, self.holdout) if h]
        return train, hold

    def window(self) -> dict:
        return {"since": self.since, "first": self.first, "last": self.last}


def in_holdout(doc_id: str, fraction: float) -> bool:
    """Fixed, reproducible membership: the first 8 bytes of blake2b(id) as a fraction of 2^64."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64 < fraction


def merge_label(source: dict) -> tuple[str | None, str | None, str, str | None]:
    """(label, context_label, origin, problem) of one `_source` by the documented precedence.

    `problem` names an invalid analyst value that was ignored (None when all is well)."""
    problem = None
    feedback = get_path(source, FEEDBACK_LABEL)
    if feedback is not None:
        try:
            label = validate_label(feedback, FEEDBACK_LABEL)
            context = get_path(source, FEEDBACK_CONTEXT)
            try:
                context = None if context is None else validate_label(context, FEEDBACK_CONTEXT)
            except LabelError as exc:
                problem, context = str(exc), None
            return label, context, ORIGIN_FEEDBACK, problem
        except LabelError as exc:
            problem = str(exc)
    explicit = source.get(SOURCE_LABEL)
    if isinstance(explicit, str):
        try:
            label = validate_label(explicit, SOURCE_LABEL)
            context = source.get(SOURCE_CONTEXT)
            context = validate_label(context, SOURCE_CONTEXT) if isinstance(context, str) else None
            return label, context, ORIGIN_SOURCE, problem
        except LabelError:
            pass  # a source field that merely shares the name: fall through to weak labels
    return None, None, ORIGIN_WEAK, problem


def _time_filter(since: str | None) -> list[dict]:
    return [{"range": {"@timestamp": {"gte": since}}}] if since else []


def scan(client: SearchEngine, pit_id: str, query: dict, page_size: int):
    """Every hit of `query` inside the point in time, in stream order, page by page."""
    after = None
    while True:
        body: dict = {"size": page_size, "query": query, "sort": stream_sort(client),
                      "track_total_hits": False,
                      "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}}
        if after is not None:
            body["search_after"] = after
        hits = client.search(body)["hits"]["hits"]
        yield from hits
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]


def labelled_streams(client: SearchEngine, pit_id: str, settings, since: str | None,
                     page_size: int) -> list[StreamRef]:
    query = {"bool": {"filter": [{"exists": {"field": FEEDBACK_LABEL}}, *_time_filter(since)]}}
    found: dict[str, StreamRef] = {}
    for hit in scan(client, pit_id, query, page_size):
        ref = stream_of_hit(hit, settings.stream_fields, settings.stream_fallback_fields)
        found.setdefault(ref.key, ref)
    return sorted(found.values(), key=lambda r: r.key)


def _record(hit: dict, stream: str, line: int) -> tuple[LogRecord | None, str, str | None]:
    source = hit.get("_source", {})
    message = source.get("message")
    if not isinstance(message, str) or not message.strip():
        return None, ORIGIN_WEAK, "no usable message"
    try:
        timestamp = parse_timestamp(source.get("@timestamp"))
    except ValueError as exc:
        return None, ORIGIN_WEAK, str(exc)
    label, context, origin, problem = merge_label(source)
    level = get_path(source, "log.level")
    record = LogRecord(timestamp, message, stream, level if isinstance(level, str) else None,
                       label, context, line)
    return record, origin, problem


def export_labelled(client: SearchEngine, settings, since: str | None = None,
                    page_size: int = 500) -> Export:
    """Labelled streams of `settings.index_pattern` (from `since`, ISO-8601) as LogRecords."""
    if since is not None:
        parse_timestamp(since)  # a bad --since is a clear error, not an OpenSearch 400
    records: list[LogRecord] = []
    ids: list[str] = []
    origins: list[str] = []
    template_ids: list[str | None] = []
    invalid: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    index = settings.index_pattern
    if not client.index_exists(index, allow_no_indices=False):
        raise NoLabelsError(f"no index matches {index!r}: nothing has been ingested or labelled")
    with point_in_time(client, index) as pit_id:
        streams = labelled_streams(client, pit_id, settings, since, page_size)
        for ref in streams:
            query = {"bool": {"filter": [ref.query(), *_time_filter(since)]}}
            for hit in scan(client, pit_id, query, page_size):
                record, origin, problem = _record(hit, ref.key, len(records) + 1)
                if record is None:
                    skipped.append((hit["_id"], problem or "unusable"))
                    continue
                if problem:
                    invalid.append((hit["_id"], problem))
                records.append(record)
                ids.append(hit["_id"])
                origins.append(origin)
                template = get_path(hit.get("_source", {}), "colog.template.id")
                template_ids.append(None if template is None else str(template))
    labelled = origins.count(ORIGIN_FEEDBACK)
    if labelled == 0:
        where = f" since {since}" if since else ""
        extra = f" ({len(invalid)} invalid label value(s) ignored)" if invalid else ""
        raise NoLabelsError(f"no analyst-labelled documents in {index!r}{where}{extra}: label "
                            "some with `colog label` or set colog.feedback.label in Dashboards")
    holdout = np.array([in_holdout(i, settings.holdout_fraction) for i in ids], dtype=bool)
    times = [r.timestamp for r in records]
    return Export(records, ids, holdout, origins, labelled, len(streams), since,
                  _iso(min(times)), _iso(max(times)), invalid, template_ids, skipped)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
