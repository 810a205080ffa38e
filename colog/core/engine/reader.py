"""Reading streams from the search engine: which streams have pending events, and a stream in
time order. The enricher and the trainer (and `colog label --query`) share it.

Streams are read with a point-in-time and `search_after`, sorted by `@timestamp`, then
`event.sequence` (the line number `colog ingest` stamps, for equal timestamps), then the engine's
unique tie-breaker (`SearchEngine.tiebreak_sort`: `_id` on OpenSearch, which has no `_shard_doc`
in 2.19 and sorts on `_id` inside a PIT; `_shard_doc` on Elasticsearch, which refuses `_id`
fielddata). A PIT does not see documents indexed after it opened; the worker's next pass picks
those up (the document is the state of record). Sort values are only ever reused inside the PIT
that produced them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from colog.core.engine import SearchEngine
from colog.core.engine.streams import INDEX_FIELD, StreamRef, stream_ref
from colog.core.fields import STATUS_PENDING

PIT_KEEP_ALIVE = "5m"
# Sorting on _id is deprecated in OpenSearch 2.x but still the only unique tie-breaker that every
# document has (no _shard_doc in 2.19); the decision is recorded, the per-search warning is noise.
warnings.filterwarnings("ignore", message="Loading the fielddata on the _id field is deprecated")


def stream_sort(engine: SearchEngine, descending: bool = False) -> list[dict]:
    """Stream order: time, then line number, then the engine's unique tie-breaker."""
    order = "desc" if descending else "asc"
    (tiebreak, _), = engine.tiebreak_sort.items()
    return [
        {"@timestamp": {"order": order}},
        {"event.sequence": {"order": order, "unmapped_type": "long",
                            "missing": "_last" if descending else "_first"}},
        {tiebreak: {"order": order}},
    ]


def pending_query() -> dict:
    """Documents not yet enriched: no `colog.status`, or `pending` (stamped by the pipeline)."""
    return {"bool": {"should": [
        {"bool": {"must_not": {"exists": {"field": "colog.status"}}}},
        {"term": {"colog.status": STATUS_PENDING}},
    ], "minimum_should_match": 1}}


def count_pending(client: SearchEngine, index: str) -> int:
    return client.count(index, pending_query(), lenient=True)


def exact_fields(client: SearchEngine, index: str, names: list[str]) -> dict[str, str]:
    """The field to aggregate and filter on for each stream field.

    Indices that `colog setup`'s template did not create may map `host.name` as text (dynamic
    mapping), with an exact `host.name.keyword` beside it: use that one, else the field itself.
    """
    wanted = [*names, *(f"{n}.keyword" for n in names)]
    caps = client.field_caps(index, wanted, lenient=True)

    def aggregatable(name: str) -> bool:
        return any(c.get("aggregatable") for c in caps.get(name, {}).values())

    return {n: n if aggregatable(n) or not aggregatable(f"{n}.keyword") else f"{n}.keyword"
            for n in names}


def pending_streams(client: SearchEngine, index: str, primary: list[str],
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
        result = client.search(body, index, lenient=True)
        agg = result.get("aggregations", {}).get("s")
        if not agg:
            break
        for bucket in agg["buckets"]:
            values = {name: bucket["key"][f"f{i}"] for i, name in enumerate(names)}
            ref = stream_ref(values, values[INDEX_FIELD], primary, fallback)
            # Terms go to the exact field; `exists` stays on the field itself (a value longer
            # than a `.keyword`'s ignore_above is not in it, but the field still exists).
            found.setdefault(ref.key, replace(ref, exact=tuple(exact.items())))
        after = agg.get("after_key")
        if not after or len(agg["buckets"]) < page_size:
            break
    return sorted(found.values(), key=lambda ref: ref.key)


@contextmanager
def point_in_time(client: SearchEngine, index: str):
    pit_id = client.open_pit(index, PIT_KEEP_ALIVE)
    try:
        yield pit_id
    finally:
        try:
            client.close_pit(pit_id)
        except Exception:  # noqa: BLE001 - an expired PIT is gone anyway
            pass


def _search(client: SearchEngine, pit_id: str, query: dict, sort: list, size: int,
            after: list | None) -> list[dict]:
    body: dict = {"size": size, "query": query, "sort": sort, "seq_no_primary_term": True,
                  "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, "track_total_hits": False}
    if after is not None:
        body["search_after"] = after
    return client.search(body)["hits"]["hits"]


def first_pending(client: SearchEngine, pit_id: str, stream: StreamRef) -> dict | None:
    query = {"bool": {"filter": [stream.query(), pending_query()]}}
    hits = _search(client, pit_id, query, stream_sort(client), 1, None)
    return hits[0] if hits else None


def preceding(client: SearchEngine, pit_id: str, stream: StreamRef, hit: dict,
              count: int) -> list[dict]:
    """The `count` documents of the stream just before `hit`, in stream order."""
    if count <= 0:
        return []
    hits = _search(client, pit_id, stream.query(), stream_sort(client, True), count,
                   list(hit["sort"]))
    return list(reversed(hits))


def iter_stream(client: SearchEngine, pit_id: str, stream: StreamRef, after: list | None,
                page_size: int) -> Iterator[dict]:
    """Every document of the stream after the sort position `after` (from the start if None)."""
    while True:
        hits = _search(client, pit_id, stream.query(), stream_sort(client), page_size, after)
        yield from hits
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]
