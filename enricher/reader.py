"""Reading from OpenSearch: which streams have pending events, and a stream in time order.

Streams are read with a point-in-time and `search_after`, sorted by `@timestamp`, then
`event.sequence` (the line number `colog ingest` stamps, for equal timestamps), then `_id`
(the unique tie-breaker OPS-NOTES asks for: OpenSearch 2.19 has no `_shard_doc`, and sorting on
`_id` works inside a PIT). A PIT does not see documents indexed
after it opened; the worker's next pass picks those up (the document is the state of record).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from opensearchpy import OpenSearch

from colog.fields import STATUS_PENDING
from enricher.streams import INDEX_FIELD, StreamRef, stream_ref

PIT_KEEP_ALIVE = "5m"
# Sorting on _id is deprecated in OpenSearch 2.x but still the only unique tie-breaker that every
# document has (no _shard_doc in 2.19); the decision is recorded, the per-search warning is noise.
warnings.filterwarnings("ignore", message="Loading the fielddata on the _id field is deprecated")
SORT = [
    {"@timestamp": {"order": "asc"}},
    {"event.sequence": {"order": "asc", "unmapped_type": "long", "missing": "_first"}},
    {"_id": {"order": "asc"}},
]
SORT_DESC = [
    {"@timestamp": {"order": "desc"}},
    {"event.sequence": {"order": "desc", "unmapped_type": "long", "missing": "_last"}},
    {"_id": {"order": "desc"}},
]


def pending_query() -> dict:
    """Documents not yet enriched: no `colog.status`, or `pending` (stamped by the pipeline)."""
    return {"bool": {"should": [
        {"bool": {"must_not": {"exists": {"field": "colog.status"}}}},
        {"term": {"colog.status": STATUS_PENDING}},
    ], "minimum_should_match": 1}}


def count_pending(client: OpenSearch, index: str) -> int:
    result = client.count(index=index, body={"query": pending_query()},
                          params={"ignore_unavailable": "true", "allow_no_indices": "true"})
    return int(result["count"])


def exact_fields(client: OpenSearch, index: str, names: list[str]) -> dict[str, str]:
    """The field to aggregate and filter on for each stream field.

    Indices that `colog setup`'s template did not create may map `host.name` as text (dynamic
    mapping), with an exact `host.name.keyword` beside it: use that one, else the field itself.
    """
    wanted = [*names, *(f"{n}.keyword" for n in names)]
    caps = client.field_caps(index=index, fields=",".join(wanted),
                             params={"ignore_unavailable": "true",
                                     "allow_no_indices": "true"}).get("fields", {})

    def aggregatable(name: str) -> bool:
        return any(c.get("aggregatable") for c in caps.get(name, {}).values())

    return {n: n if aggregatable(n) or not aggregatable(f"{n}.keyword") else f"{n}.keyword"
            for n in names}


def pending_streams(client: OpenSearch, index: str, primary: list[str],
                    fallback: list[str], page_size: int = 500) -> list[StreamRef]:
    """Every stream with at least one pending document (composite aggregation, paged)."""
    names = [*primary, *fallback, INDEX_FIELD]
    exact = exact_fields(client, index, [*primary, *fallback])
    sources = [{f"f{i}": {"terms": {"field": exact.get(name, name), "missing_bucket": True}}}
               for i, name in enumerate(names)]
    found: dict[str, StreamRef] = {}
    after = None
    while True:
        composite: dict = {"size": page_size, "sources": sources}
        if after:
            composite["after"] = after
        body = {"size": 0, "query": pending_query(), "aggs": {"s": {"composite": composite}}}
        result = client.search(index=index, body=body,
                               params={"ignore_unavailable": "true", "allow_no_indices": "true"})
        agg = result.get("aggregations", {}).get("s")
        if not agg:
            break
        for bucket in agg["buckets"]:
            values = {name: bucket["key"][f"f{i}"] for i, name in enumerate(names)}
            ref = stream_ref(values, values[INDEX_FIELD], primary, fallback)
            ref = StreamRef(ref.key, tuple((exact.get(n, n), v) for n, v in ref.values))
            found.setdefault(ref.key, ref)
        after = agg.get("after_key")
        if not after or len(agg["buckets"]) < page_size:
            break
    return sorted(found.values(), key=lambda ref: ref.key)


@contextmanager
def point_in_time(client: OpenSearch, index: str):
    pit = client.create_pit(index=index, params={"keep_alive": PIT_KEEP_ALIVE,
                                                 "allow_partial_pit_creation": "false"})
    try:
        yield pit["pit_id"]
    finally:
        try:
            client.delete_pit(body={"pit_id": [pit["pit_id"]]})
        except Exception:  # noqa: BLE001 - an expired PIT is gone anyway
            pass


def _search(client: OpenSearch, pit_id: str, query: dict, sort: list, size: int,
            after: list | None) -> list[dict]:
    body: dict = {"size": size, "query": query, "sort": sort, "seq_no_primary_term": True,
                  "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, "track_total_hits": False}
    if after is not None:
        body["search_after"] = after
    return client.search(body=body)["hits"]["hits"]


def first_pending(client: OpenSearch, pit_id: str, stream: StreamRef) -> dict | None:
    query = {"bool": {"filter": [stream.query(), pending_query()]}}
    hits = _search(client, pit_id, query, SORT, 1, None)
    return hits[0] if hits else None


def preceding(client: OpenSearch, pit_id: str, stream: StreamRef, hit: dict,
              count: int) -> list[dict]:
    """The `count` documents of the stream just before `hit`, in stream order."""
    if count <= 0:
        return []
    hits = _search(client, pit_id, stream.query(), SORT_DESC, count, list(hit["sort"]))
    return list(reversed(hits))


def iter_stream(client: OpenSearch, pit_id: str, stream: StreamRef, after: list | None,
                page_size: int) -> Iterator[dict]:
    """Every document of the stream after the sort position `after` (from the start if None)."""
    while True:
        hits = _search(client, pit_id, stream.query(), SORT, page_size, after)
        yield from hits
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]
