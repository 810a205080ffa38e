"""Which stream an event belongs to, and which partition processes that stream.

A stream is the value of the configured stream fields (default `host.name` + `log.file.path`),
falling back to `event.dataset`, then to the index name. Partitions are a stable hash of the
stream key, so one partition (and so one stream) is processed by one worker at a time, in order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from colog.core.fields import get_path

INDEX_FIELD = "_index"


@dataclass(frozen=True)
class StreamRef:
    """One stream: its key and the field values that select exactly its documents."""

    key: str
    values: tuple[tuple[str, str | None], ...] = field(default=())

    def query(self) -> dict:
        """A filter that matches this stream's documents and no other stream's."""
        must, must_not = [], []
        for name, value in self.values:
            if value is None:
                must_not.append({"exists": {"field": name}})
            elif name == INDEX_FIELD:
                must.append({"term": {"_index": value}})
            else:
                must.append({"term": {name: value}})
        return {"bool": {"filter": must, "must_not": must_not}}


def _text(value) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def stream_ref(values: dict[str, str | None], index: str, primary: list[str],
               fallback: list[str]) -> StreamRef:
    """The stream of a document from its field values (missing fields as None)."""
    present = [(name, _text(values.get(name))) for name in primary]
    if any(value is not None for _, value in present):
        return StreamRef("|".join(v or "" for _, v in present), tuple(present))
    skipped = list(present)
    for name in fallback:
        value = _text(values.get(name))
        if value is not None:
            return StreamRef(f"{name}:{value}", tuple(skipped + [(name, value)]))
        skipped.append((name, None))
    return StreamRef(f"index:{index}", tuple(skipped + [(INDEX_FIELD, index)]))


def stream_of_hit(hit: dict, primary: list[str], fallback: list[str]) -> StreamRef:
    source = hit.get("_source", {})
    values = {name: get_path(source, name) for name in [*primary, *fallback]}
    return stream_ref(values, hit.get("_index", ""), primary, fallback)


def partition_of(stream_key: str, partitions: int) -> int:
    """Stable across processes and restarts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(stream_key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, partitions)
