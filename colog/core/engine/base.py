"""The search-engine interface the enricher, the trainer and the CLI use.

One small set of named operations, each taking plain Python values and returning plain dicts.
An implementation wraps one official client (opensearch-py, elasticsearch) and translates its
exceptions into ``colog.core.engine.errors``; nothing above this layer imports a client library.
What differs between the engines lives here and only here:

- point in time: OpenSearch's ``_search/point_in_time`` against Elasticsearch's ``_pit``;
- the unique sort tie-breaker inside a PIT (``tiebreak_sort``): ``_shard_doc`` where the engine
  has it, ``_id`` on OpenSearch (2.19 has no ``_shard_doc``);
- query-string options (``lenient``): opensearch-py takes a ``params`` dict of strings, the
  elasticsearch client takes keyword arguments;
- which ingest processors the node has (``ingest_processors``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any


class SearchEngine(ABC):
    """A connection to one OpenSearch or Elasticsearch cluster."""

    #: "opensearch" or "elasticsearch": the value of COLOG_ENGINE that selects it
    kind: str = ""
    #: the product name, as error lines and logs print it
    product: str = ""

    @property
    @abstractmethod
    def native(self) -> Any:
        """The underlying official client, for engine-specific tools (dashboards, alerting)."""

    # --- cluster -------------------------------------------------------------------------

    @abstractmethod
    def info(self) -> dict:
        """The root endpoint's answer (cluster name, version)."""

    def version(self) -> tuple[int, ...]:
        number = str(self.info().get("version", {}).get("number", "0"))
        return tuple(int(p) for p in number.split("-")[0].split(".") if p.isdigit())

    @abstractmethod
    def ping(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _nodes(self) -> list[dict]:
        """Each node's info (`_nodes/plugins,ingest`): both engines answer the same shape."""

    def node_modules(self) -> set[str]:
        """Names of the modules and plugins the nodes report."""
        names: set[str] = set()
        for node in self._nodes():
            names.update(m["name"] for m in node.get("modules", []))
            names.update(p["name"] for p in node.get("plugins", []))
        return names

    def ingest_processors(self) -> set[str]:
        """Ingest processor types that every node has."""
        found: set[str] | None = None
        for node in self._nodes():
            mine = {p["type"] for p in node.get("ingest", {}).get("processors", [])}
            found = mine if found is None else found & mine
        return found or set()

    # --- reading -----------------------------------------------------------------------

    @abstractmethod
    def search(self, body: dict, index: str | None = None, *, lenient: bool = False) -> dict:
        """A search; ``index=None`` for a PIT search. ``lenient``: a pattern that matches no
        index (or a missing index) answers empty instead of 404."""

    @abstractmethod
    def count(self, index: str, query: dict | None = None, *, lenient: bool = False) -> int: ...

    @abstractmethod
    def field_caps(self, index: str, fields: list[str], *, lenient: bool = False) -> dict:
        """The ``fields`` part of the field-capabilities answer."""

    @abstractmethod
    def get(self, index: str, id: str, *, source_includes: list[str] | None = None) -> dict:
        """One document with ``_seq_no``/``_primary_term``; NotFound when absent."""

    @abstractmethod
    def exists(self, index: str, id: str) -> bool: ...

    @abstractmethod
    def open_pit(self, index: str, keep_alive: str) -> str:
        """A point in time over ``index`` (a pattern may match several); its id."""

    @abstractmethod
    def close_pit(self, pit_id: str) -> None: ...

    @property
    @abstractmethod
    def tiebreak_sort(self) -> dict:
        """The last sort clause of a PIT scan: unique per document, ascending."""

    # --- writing -----------------------------------------------------------------------

    @abstractmethod
    def index(self, index: str, document: dict, id: str | None = None, *,
              refresh: bool = False, if_seq_no: int | None = None,
              if_primary_term: int | None = None, create: bool = False) -> dict: ...

    @abstractmethod
    def update(self, index: str, id: str, partial: dict, *, refresh: bool = False,
               retry_on_conflict: int = 0) -> dict:
        """Merge ``partial`` into the document's source."""

    @abstractmethod
    def delete(self, index: str, id: str, *, refresh: bool = False) -> dict: ...

    @abstractmethod
    def bulk(self, operations: list[dict], *, refresh: bool = False) -> dict:
        """One ``_bulk`` request of action/source lines; the per-item answer as is. A guarded
        partial update is ``{"update": {"_index", "_id", "if_seq_no", "if_primary_term"}}``
        followed by ``{"doc": {...}}``."""

    @abstractmethod
    def stream_bulk(self, actions: Iterable[dict], *, chunk_size: int = 500,
                    max_retries: int = 0, initial_backoff: float = 2.0,
                    raise_on_error: bool = False) -> Iterator[tuple[bool, dict]]:
        """Actions in the client helpers' format (``_op_type``, ``_index``, ``_id``,
        ``_source``), sent in chunks; one (ok, item) per action. A chunk the node refuses
        with 429 is retried ``max_retries`` times; with ``raise_on_error`` False a failed
        item, or a chunk that failed as a whole, is yielded as (False, item)."""

    # --- indices ---------------------------------------------------------------------

    @abstractmethod
    def index_exists(self, index: str, *, allow_no_indices: bool = True) -> bool:
        """For a pattern: with ``allow_no_indices=False`` True only when it matches one."""

    @abstractmethod
    def list_indices(self, pattern: str) -> list[str]:
        """Names of the open indices that ``pattern`` matches (none: empty)."""

    @abstractmethod
    def create_index(self, index: str, body: dict | None = None) -> None: ...

    @abstractmethod
    def delete_index(self, index: str) -> None:
        """Missing indices are fine."""

    @abstractmethod
    def refresh(self, index: str, *, lenient: bool = True) -> None: ...

    @abstractmethod
    def put_mapping(self, index: str, properties: dict) -> None: ...

    @abstractmethod
    def get_mapping(self, index: str) -> dict:
        """{index name: {"mappings": ...}}"""

    @abstractmethod
    def put_index_settings(self, index: str, settings: dict) -> None: ...

    @abstractmethod
    def get_index_settings(self, index: str) -> dict[str, dict]:
        """{index name: its settings, flat (``index.final_pipeline``: ...)} for a pattern."""

    @abstractmethod
    def data_stream_of(self, index: str) -> dict[str, str | None]:
        """{index name: the data stream it backs, or None} for the indices ``index`` names
        (a data stream's name gives its backing indices)."""

    @abstractmethod
    def rollover(self, target: str) -> dict:
        """Roll a data stream (or an alias) over to a new write index; the engine's answer."""

    # --- templates and pipelines -----------------------------------------------------

    @abstractmethod
    def get_component_template(self, name: str) -> dict | None:
        """The template's body (``template``, ``_meta``, ...), None when absent."""

    @abstractmethod
    def put_component_template(self, name: str, body: dict) -> None: ...

    @abstractmethod
    def index_templates(self) -> dict[str, dict]:
        """Every composable index template: name -> body."""

    @abstractmethod
    def put_index_template(self, name: str, body: dict) -> None: ...

    @abstractmethod
    def get_pipeline(self, name: str) -> dict | None: ...

    @abstractmethod
    def put_pipeline(self, name: str, body: dict) -> None: ...
