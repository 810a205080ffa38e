"""Which stream an event belongs to, and which partition processes that stream.

A stream is one program's sequence of events on one host. Its key is built from two lists of
fields (settings `stream_fields` and `stream_fallback_fields`):

- every field of `stream_fields` (default `host.name`), missing ones as "";
- then the first present field of `stream_fallback_fields`, in order (default: the ECS fields that
  name a program or a source: `log.syslog.appname`, `service.name`, `process.name`,
  `log.file.path`, `event.dataset`, `data_stream.dataset`);

joined by "|": `web-1|sshd`, `web-1|/var/log/app.log`. Documents with none of these fields form
one stream per index (`index:<name>`). Dotted keys and nested objects are read alike. Two
documents whose first present fallback field differs but whose value is the same (`appname` of
one, `process.name` of the other, both `sshd`) share one stream: the key says which program,
not which field named it. Partitions are a stable hash of the key, so one partition (and so one
stream) is processed by one worker at a time, in order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from colog.core.fields import get_path

INDEX_FIELD = "_index"


@dataclass(frozen=True)
class StreamRef:
    """One stream: its key and the field values that select exactly its documents.

    `values`: fields that must hold the value (None: must be absent). `first_of` with
    `first_value`: the first present of these fields holds `first_value` (None: none present).
    `exact`: (field, field to filter on) where a text field has an exact `.keyword` beside it.
    """

    key: str
    values: tuple[tuple[str, str | None], ...] = field(default=())
    first_of: tuple[str, ...] = field(default=())
    first_value: str | None = None
    exact: tuple[tuple[str, str], ...] = field(default=())

    def _term(self, name: str, value: str) -> dict:
        if name == INDEX_FIELD:
            return {"term": {"_index": value}}
        return {"term": {dict(self.exact).get(name, name): value}}

    def _absent(self, name: str) -> dict:
        """Missing, or the empty string (a shipper's "" names nothing; the key skips it)."""
        return {"bool": {"should": [{"bool": {"must_not": [{"exists": {"field": name}}]}},
                                    self._term(name, "")], "minimum_should_match": 1}}

    def query(self) -> dict:
        """A filter that matches this stream's documents and no other stream's."""
        clauses = [self._absent(name) if value is None else self._term(name, value)
                   for name, value in self.values]
        if self.first_of and self.first_value is None:
            clauses.extend(self._absent(name) for name in self.first_of)
        elif self.first_of:
            # The first present field of the chain holds the value: field i has it and every
            # field before i is absent.
            options = [{"bool": {"filter": [self._term(name, self.first_value),
                                            *(self._absent(f) for f in self.first_of[:i])]}}
                       for i, name in enumerate(self.first_of)]
            clauses.append({"bool": {"should": options, "minimum_should_match": 1}})
        return {"bool": {"filter": clauses}}


def _text(value) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def stream_ref(values: dict[str, str | None], index: str, primary: list[str],
               fallback: list[str]) -> StreamRef:
    """The stream of a document from its field values (missing fields as None)."""
    present = [(name, _text(values.get(name))) for name in primary]
    chosen = next((value for value in (_text(values.get(name)) for name in fallback)
                   if value is not None), None)
    if chosen is None and not any(value is not None for _, value in present):
        return StreamRef(f"index:{index}", (*present, (INDEX_FIELD, index)), tuple(fallback))
    parts = [value or "" for _, value in present]
    if fallback:
        parts.append(chosen or "")
    return StreamRef("|".join(parts), tuple(present), tuple(fallback), chosen)


def stream_of_hit(hit: dict, primary: list[str], fallback: list[str]) -> StreamRef:
    source = hit.get("_source", {})
    values = {name: get_path(source, name) for name in [*primary, *fallback]}
    return stream_ref(values, hit.get("_index", ""), primary, fallback)


def partition_of(stream_key: str, partitions: int) -> int:
    """Stable across processes and restarts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(stream_key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, partitions)
