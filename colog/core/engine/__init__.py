"""The search engine behind CoLog: OpenSearch or Elasticsearch, behind one interface.

``connect(settings)`` gives a :class:`SearchEngine` for the cluster the settings name
(``COLOG_ENGINE``, ``COLOG_OPENSEARCH_URL`` and its auth/TLS settings). Create one per process,
after a fork: the client holds connection pools.
"""

from __future__ import annotations

from colog.core.engine.base import SearchEngine
from colog.core.settings import Settings, get_settings


def connect(settings: Settings | None = None) -> SearchEngine:
    settings = settings or get_settings()
    if settings.engine == "elasticsearch":
        from elasticsearch import Elasticsearch

        from colog.core.engine.elasticsearch import ElasticsearchEngine
        from colog.core.engine.opensearch_client import elasticsearch_options

        return ElasticsearchEngine(Elasticsearch(**elasticsearch_options(settings)))
    from colog.core.engine.opensearch import OpenSearchEngine
    from colog.core.engine.opensearch_client import make_client

    return OpenSearchEngine(make_client(settings))


def as_engine(client: object) -> SearchEngine:
    """``client`` itself when it is an engine, else the engine over a raw official client."""
    if isinstance(client, SearchEngine):
        return client
    module = type(client).__module__
    if module.startswith("opensearchpy"):
        from colog.core.engine.opensearch import OpenSearchEngine

        return OpenSearchEngine(client)  # type: ignore[arg-type]
    if module.startswith("elasticsearch"):
        from colog.core.engine.elasticsearch import ElasticsearchEngine

        return ElasticsearchEngine(client)  # type: ignore[arg-type]
    raise TypeError(f"not a search-engine client: {type(client).__name__}")


__all__ = ["SearchEngine", "as_engine", "connect"]
