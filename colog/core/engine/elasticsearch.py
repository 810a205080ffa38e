"""The search-engine interface over the official elasticsearch client (Elasticsearch 8.x, 9.x).

The client is the 8.x line: it sends ``compatible-with=8``, which Elasticsearch 8 takes as its
own and Elasticsearch 9 accepts through REST API compatibility, so one client serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import elastic_transport
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import BulkIndexError, streaming_bulk

from colog.core.engine import errors
from colog.core.engine.base import SearchEngine

LENIENT = {"ignore_unavailable": True, "allow_no_indices": True}


def _body(answer: Any) -> Any:
    """The plain JSON of a client answer (ObjectApiResponse wraps it)."""
    return getattr(answer, "body", answer)


def _os_reason(exc: BaseException) -> str:
    link: BaseException | None = exc
    seen = set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError):
            return str(link.strerror or link)
        link = link.__cause__ or link.__context__
    return str(exc) or type(exc).__name__


@contextmanager
def translated() -> Iterator[None]:
    """The elasticsearch client's exceptions as colog.core.engine.errors (original as __cause__)."""
    try:
        yield
    except elastic_transport.TlsError as exc:
        raise errors.TLSFailed(f"Elasticsearch TLS handshake failed: {_os_reason(exc)}",
                               engine="elasticsearch") from exc
    except elastic_transport.ConnectionTimeout as exc:
        raise errors.TimedOut("Elasticsearch did not answer in time",
                              engine="elasticsearch") from exc
    except elastic_transport.ConnectionError as exc:
        raise errors.Unreachable(f"Elasticsearch is unreachable: {_os_reason(exc)}",
                                 engine="elasticsearch") from exc
    except BulkIndexError as exc:
        raise errors.EngineError(f"Elasticsearch refused {len(exc.errors)} bulk item(s)",
                                 engine="elasticsearch") from exc
    except ApiError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else None
        body = exc.body if isinstance(exc.body, dict) else {}
        info = body.get("error", {})
        error_type = str(info.get("type", "")) if isinstance(info, dict) else str(info)
        reason = str(info.get("reason", "")) if isinstance(info, dict) else ""
        error_type = error_type or str(exc.message or "")
        raise errors.for_status(status)(
            f"Elasticsearch answered {status}: {error_type}" + (f" ({reason})" if reason else ""),
            engine="elasticsearch", status_code=status, error_type=error_type,
            reason=reason) from exc


class ElasticsearchEngine(SearchEngine):
    kind = "elasticsearch"
    product = "Elasticsearch"

    def __init__(self, client: Elasticsearch) -> None:
        self._client = client

    @property
    def native(self) -> Elasticsearch:
        return self._client

    # --- cluster -------------------------------------------------------------------------

    def info(self) -> dict:
        """Cluster name and version. The minimal distribution has no `GET /` (its module,
        rest-root, is not in the integ-test-zip): the local node's info says the same."""
        try:
            with translated():
                return _body(self._client.info())
        except errors.EngineError as exc:
            if exc.status_code not in (404, 405):
                raise
        with translated():
            nodes = _body(self._client.nodes.info(node_id="_local", metric="_none"))
        node = next(iter(nodes["nodes"].values()))
        return {"name": node.get("name"), "cluster_name": nodes.get("cluster_name"),
                "version": {"number": node["version"],
                            "build_flavor": node.get("build_flavor", "default")}}

    def ping(self) -> bool:
        return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()

    def _nodes(self) -> list[dict]:
        with translated():
            return list(_body(self._client.nodes.info(metric="plugins,ingest"))["nodes"].values())

    # --- reading -----------------------------------------------------------------------

    def search(self, body: dict, index: str | None = None, *, lenient: bool = False) -> dict:
        with translated():
            return _body(self._client.search(index=index, body=body,
                                             **(LENIENT if lenient else {})))

    def count(self, index: str, query: dict | None = None, *, lenient: bool = False) -> int:
        with translated():
            return int(_body(self._client.count(index=index, query=query,
                                                **(LENIENT if lenient else {})))["count"])

    def field_caps(self, index: str, fields: list[str], *, lenient: bool = False) -> dict:
        with translated():
            answer = _body(self._client.field_caps(index=index, fields=fields,
                                                   **(LENIENT if lenient else {})))
        return answer.get("fields", {})

    def get(self, index: str, id: str, *, source_includes: list[str] | None = None) -> dict:
        with translated():
            return _body(self._client.get(index=index, id=id, source_includes=source_includes))

    def exists(self, index: str, id: str) -> bool:
        with translated():
            return bool(self._client.exists(index=index, id=id))

    def open_pit(self, index: str, keep_alive: str) -> str:
        with translated():
            return _body(self._client.open_point_in_time(index=index,
                                                         keep_alive=keep_alive))["id"]

    def close_pit(self, pit_id: str) -> None:
        with translated():
            self._client.close_point_in_time(id=pit_id)

    @property
    def tiebreak_sort(self) -> dict:
        # Sorting on _id needs fielddata that Elasticsearch 8+ refuses by default;
        # _shard_doc is its unique PIT tie-breaker.
        return {"_shard_doc": {"order": "asc"}}

    # --- writing -----------------------------------------------------------------------

    def index(self, index: str, document: dict, id: str | None = None, *,
              refresh: bool = False, if_seq_no: int | None = None,
              if_primary_term: int | None = None, create: bool = False) -> dict:
        with translated():
            return _body(self._client.index(
                index=index, id=id, document=document, refresh="true" if refresh else "false",
                if_seq_no=if_seq_no, if_primary_term=if_primary_term,
                op_type="create" if create else None))

    def update(self, index: str, id: str, partial: dict, *, refresh: bool = False,
               retry_on_conflict: int = 0) -> dict:
        with translated():
            return _body(self._client.update(index=index, id=id, doc=partial,
                                             refresh="true" if refresh else "false",
                                             retry_on_conflict=retry_on_conflict))

    def delete(self, index: str, id: str, *, refresh: bool = False) -> dict:
        with translated():
            return _body(self._client.delete(index=index, id=id,
                                             refresh="true" if refresh else "false"))

    def bulk(self, operations: list[dict], *, refresh: bool = False) -> dict:
        with translated():
            return _body(self._client.bulk(operations=operations,
                                           refresh="true" if refresh else "false"))

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
            return bool(self._client.indices.exists(index=index,
                                                    allow_no_indices=allow_no_indices))

    def list_indices(self, pattern: str) -> list[str]:
        with translated():
            return sorted(_body(self._client.indices.get(index=pattern, **LENIENT)))

    def create_index(self, index: str, body: dict | None = None) -> None:
        with translated():
            self._client.indices.create(index=index, body=body)

    def delete_index(self, index: str) -> None:
        # Elasticsearch refuses wildcard deletes (action.destructive_requires_name defaults to
        # true): delete the concrete indices the pattern names now.
        names = self.list_indices(index) if "*" in index else [index]
        if not names:
            return
        with translated():
            self._client.indices.delete(index=",".join(names), ignore_unavailable=True)

    def refresh(self, index: str, *, lenient: bool = True) -> None:
        with translated():
            self._client.indices.refresh(index=index, **(LENIENT if lenient else {}))

    def put_mapping(self, index: str, properties: dict) -> None:
        with translated():
            self._client.indices.put_mapping(index=index, properties=properties)

    def get_mapping(self, index: str) -> dict:
        with translated():
            return _body(self._client.indices.get_mapping(index=index))

    def put_index_settings(self, index: str, settings: dict) -> None:
        with translated():
            self._client.indices.put_settings(index=index, settings=settings)

    def get_index_settings(self, index: str) -> dict[str, dict]:
        with translated():
            found = _body(self._client.indices.get_settings(index=index, flat_settings=True,
                                                            **LENIENT))
        return {name: body.get("settings", {}) for name, body in found.items()}

    def data_stream_of(self, index: str) -> dict[str, str | None]:
        with translated():
            found = _body(self._client.indices.get(index=index, **LENIENT))
        return {name: body.get("data_stream") for name, body in found.items()}

    def rollover(self, target: str) -> dict:
        with translated():
            return _body(self._client.indices.rollover(alias=target))

    # --- templates and pipelines -----------------------------------------------------

    def get_component_template(self, name: str) -> dict | None:
        try:
            with translated():
                found = _body(self._client.cluster.get_component_template(name=name))
        except errors.NotFound:
            return None
        entries = found.get("component_templates", [])
        return entries[0]["component_template"] if entries else None

    def put_component_template(self, name: str, body: dict) -> None:
        with translated():
            self._client.cluster.put_component_template(name=name, body=body)

    def index_templates(self) -> dict[str, dict]:
        with translated():
            found = _body(self._client.indices.get_index_template())
        return {e["name"]: e["index_template"] for e in found.get("index_templates", [])}

    def put_index_template(self, name: str, body: dict) -> None:
        with translated():
            self._client.indices.put_index_template(name=name, body=body)

    def get_pipeline(self, name: str) -> dict | None:
        try:
            with translated():
                return _body(self._client.ingest.get_pipeline(id=name)).get(name)
        except errors.NotFound:
            return None

    def put_pipeline(self, name: str, body: dict) -> None:
        with translated():
            self._client.ingest.put_pipeline(id=name, body=body)
