"""The search-engine interface over opensearch-py (OpenSearch 2.x and 3.x)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc
from opensearchpy.helpers import streaming_bulk

from colog.core.engine import errors
from colog.core.engine.base import SearchEngine

LENIENT = {"ignore_unavailable": "true", "allow_no_indices": "true"}


def _flag(value: bool) -> str:
    return "true" if value else "false"


@contextmanager
def translated() -> Iterator[None]:
    """opensearch-py's exceptions as colog.core.engine.errors (the original is the __cause__)."""
    try:
        yield
    except os_exc.SSLError as exc:
        raise errors.TLSFailed(f"OpenSearch TLS handshake failed: {_os_reason(exc)}",
                               engine="opensearch") from exc
    except os_exc.ConnectionTimeout as exc:
        raise errors.TimedOut("OpenSearch did not answer in time", engine="opensearch") from exc
    except os_exc.ConnectionError as exc:
        raise errors.Unreachable(f"OpenSearch is unreachable: {_os_reason(exc)}",
                                 engine="opensearch") from exc
    except os_exc.TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else None
        info = exc.info.get("error", {}) if isinstance(exc.info, dict) else {}
        error_type = str(info.get("type", "")) if isinstance(info, dict) else str(exc.error)
        reason = str(info.get("reason", "")) if isinstance(info, dict) else ""
        error_type = error_type or str(exc.error or "")
        raise errors.for_status(status)(
            f"OpenSearch answered {status}: {error_type}" + (f" ({reason})" if reason else ""),
            engine="opensearch", status_code=status, error_type=error_type,
            reason=reason) from exc


def _os_reason(exc: BaseException) -> str:
    link: BaseException | None = exc
    seen = set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError) and not isinstance(link, os_exc.TransportError):
            return str(link.strerror or link)
        link = link.__cause__ or link.__context__
    return type(exc).__name__


class OpenSearchEngine(SearchEngine):
    kind = "opensearch"
    product = "OpenSearch"

    def __init__(self, client: OpenSearch) -> None:
        self._client = client

    @property
    def native(self) -> OpenSearch:
        return self._client

    # --- cluster -------------------------------------------------------------------------

    def info(self) -> dict:
        with translated():
            return self._client.info()

    def ping(self) -> bool:
        return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()

    def _nodes(self) -> list[dict]:
        with translated():
            return list(self._client.nodes.info(metric="plugins,ingest")["nodes"].values())

    # --- reading -----------------------------------------------------------------------

    def search(self, body: dict, index: str | None = None, *, lenient: bool = False) -> dict:
        with translated():
            return self._client.search(index=index, body=body,
                                       params=LENIENT if lenient else None)

    def count(self, index: str, query: dict | None = None, *, lenient: bool = False) -> int:
        body = {"query": query} if query is not None else None
        with translated():
            return int(self._client.count(index=index, body=body,
                                          params=LENIENT if lenient else None)["count"])

    def field_caps(self, index: str, fields: list[str], *, lenient: bool = False) -> dict:
        with translated():
            answer = self._client.field_caps(index=index, fields=",".join(fields),
                                             params=LENIENT if lenient else None)
        return answer.get("fields", {})

    def get(self, index: str, id: str, *, source_includes: list[str] | None = None) -> dict:
        params = {"_source_includes": ",".join(source_includes)} if source_includes else None
        with translated():
            return self._client.get(index=index, id=id, params=params)

    def exists(self, index: str, id: str) -> bool:
        with translated():
            return bool(self._client.exists(index=index, id=id))

    def open_pit(self, index: str, keep_alive: str) -> str:
        with translated():
            return self._client.create_pit(index=index, params={
                "keep_alive": keep_alive, "allow_partial_pit_creation": "false"})["pit_id"]

    def close_pit(self, pit_id: str) -> None:
        with translated():
            self._client.delete_pit(body={"pit_id": [pit_id]})

    @property
    def tiebreak_sort(self) -> dict:
        # OpenSearch 2.19 has no _shard_doc; _id is unique and sortable inside a PIT.
        return {"_id": {"order": "asc"}}

    # --- writing -----------------------------------------------------------------------

    def index(self, index: str, document: dict, id: str | None = None, *,
              refresh: bool = False, if_seq_no: int | None = None,
              if_primary_term: int | None = None, create: bool = False) -> dict:
        params: dict[str, Any] = {"refresh": _flag(refresh)}
        if if_seq_no is not None:
            params.update(if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        if create:
            params["op_type"] = "create"
        with translated():
            return self._client.index(index=index, id=id, body=document, params=params)

    def update(self, index: str, id: str, partial: dict, *, refresh: bool = False,
               retry_on_conflict: int = 0) -> dict:
        params = {"refresh": _flag(refresh), "retry_on_conflict": retry_on_conflict}
        with translated():
            return self._client.update(index=index, id=id, body={"doc": partial}, params=params)

    def delete(self, index: str, id: str, *, refresh: bool = False) -> dict:
        with translated():
            return self._client.delete(index=index, id=id, params={"refresh": _flag(refresh)})

    def bulk(self, operations: list[dict], *, refresh: bool = False) -> dict:
        with translated():
            return self._client.bulk(body=operations, params={"refresh": _flag(refresh)})

    def stream_bulk(self, actions: Iterable[dict], *, chunk_size: int = 500,
                    max_retries: int = 0, initial_backoff: float = 2.0,
                    raise_on_error: bool = False) -> Iterator[tuple[bool, dict]]:
        with translated():
            yield from streaming_bulk(self._client, actions, chunk_size=chunk_size,
                                      max_retries=max_retries, initial_backoff=initial_backoff,
                                      raise_on_error=raise_on_error,
                                      raise_on_exception=raise_on_error)

    # --- indices ---------------------------------------------------------------------

    def index_exists(self, index: str, *, allow_no_indices: bool = True) -> bool:
        with translated():
            return bool(self._client.indices.exists(
                index=index, params={"allow_no_indices": _flag(allow_no_indices)}))

    def list_indices(self, pattern: str) -> list[str]:
        with translated():
            found = self._client.indices.get(index=pattern, params={
                "ignore_unavailable": "true", "allow_no_indices": "true"})
        return sorted(found)

    def create_index(self, index: str, body: dict | None = None) -> None:
        with translated():
            self._client.indices.create(index=index, body=body)

    def delete_index(self, index: str) -> None:
        with translated():
            self._client.indices.delete(index=index, params={"ignore_unavailable": "true"})

    def refresh(self, index: str, *, lenient: bool = True) -> None:
        with translated():
            self._client.indices.refresh(index=index, params=LENIENT if lenient else None)

    def put_mapping(self, index: str, properties: dict) -> None:
        with translated():
            self._client.indices.put_mapping(index=index, body={"properties": properties})

    def get_mapping(self, index: str) -> dict:
        with translated():
            return self._client.indices.get_mapping(index=index)

    def put_index_settings(self, index: str, settings: dict) -> None:
        with translated():
            self._client.indices.put_settings(index=index, body=settings)

    def get_index_settings(self, index: str) -> dict[str, dict]:
        with translated():
            found = self._client.indices.get_settings(index=index, params={
                "flat_settings": "true", **LENIENT})
        return {name: body.get("settings", {}) for name, body in found.items()}

    def data_stream_of(self, index: str) -> dict[str, str | None]:
        with translated():
            found = self._client.indices.get(index=index, params=LENIENT)
        # The data-stream API names the backing indices where the index metadata does not.
        backs: dict[str, str] = {}
        try:
            with translated():
                answer = self._client.indices.get_data_stream(name=index)
        except errors.EngineError:
            answer = {}  # not a data stream (or a pattern that names none)
        for stream in answer.get("data_streams", []):
            for backing in stream.get("indices", []):
                backs[backing["index_name"]] = stream["name"]
        return {name: body.get("data_stream") or backs.get(name) for name, body in found.items()}

    def rollover(self, target: str) -> dict:
        with translated():
            return self._client.indices.rollover(alias=target)

    # --- templates and pipelines -----------------------------------------------------

    def get_component_template(self, name: str) -> dict | None:
        try:
            with translated():
                found = self._client.cluster.get_component_template(name=name)
        except errors.NotFound:
            return None
        entries = found.get("component_templates", [])
        return entries[0]["component_template"] if entries else None

    def put_component_template(self, name: str, body: dict) -> None:
        with translated():
            self._client.cluster.put_component_template(name=name, body=body)

    def index_templates(self) -> dict[str, dict]:
        with translated():
            found = self._client.indices.get_index_template()
        return {e["name"]: e["index_template"] for e in found.get("index_templates", [])}

    def put_index_template(self, name: str, body: dict) -> None:
        with translated():
            self._client.indices.put_index_template(name=name, body=body)

    def get_pipeline(self, name: str) -> dict | None:
        try:
            with translated():
                return self._client.ingest.get_pipeline(id=name).get(name)
        except errors.NotFound:
            return None

    def put_pipeline(self, name: str, body: dict) -> None:
        with translated():
            self._client.ingest.put_pipeline(id=name, body=body)
