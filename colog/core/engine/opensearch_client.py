"""The one way to build a search-engine client from the settings (hosts, auth, TLS, timeouts).

``make_client`` gives the raw opensearch-py client (OpenSearch-only tools: dashboards,
alerting); everything engine-neutral goes through ``colog.engine.connect``, which builds the
client of the configured engine from the same options.

Create one per process (after a fork, not before): the client holds connection pools.
The password is read here and handed to the client only; it is never logged or printed.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from colog.core.settings import Settings, get_settings

MAX_RETRIES = 3  # connection errors and timeouts; each node is tried before giving up


def _auth(settings: Settings) -> tuple[str, str] | None:
    secret = settings.opensearch_secret()
    if settings.opensearch_user:
        if not secret:
            raise ValueError(
                "COLOG_OPENSEARCH_USER is set but no password: set COLOG_OPENSEARCH_PASSWORD "
                "or COLOG_OPENSEARCH_PASSWORD_FILE"
            )
        return settings.opensearch_user, secret
    if secret:
        raise ValueError("a password is set but COLOG_OPENSEARCH_USER is not")
    return None


def _ca_certs(settings: Settings) -> str | None:
    if settings.opensearch_ca_certs is None:
        return None
    if not settings.opensearch_ca_certs.is_file():
        raise ValueError(
            f"COLOG_OPENSEARCH_CA_CERTS={settings.opensearch_ca_certs} is not a readable file"
        )
    return str(settings.opensearch_ca_certs)


def elasticsearch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``elasticsearch.Elasticsearch(...)``, from the same settings."""
    options: dict[str, Any] = {
        "hosts": settings.opensearch_hosts,
        "request_timeout": settings.opensearch_timeout_s,
        "retry_on_timeout": True,
        "max_retries": MAX_RETRIES,
        "verify_certs": settings.opensearch_verify_certs,
        "ssl_show_warn": settings.opensearch_verify_certs,
    }
    ca = _ca_certs(settings)
    if ca is not None:
        options["ca_certs"] = ca
    auth = _auth(settings)
    if auth is not None:
        options["basic_auth"] = auth
    return options


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``OpenSearch(...)``; the password stays out of the repr of settings."""
    options: dict[str, Any] = {
        "hosts": settings.opensearch_hosts,
        "timeout": settings.opensearch_timeout_s,
        "retry_on_timeout": True,
        "max_retries": MAX_RETRIES,
        "verify_certs": settings.opensearch_verify_certs,
        # A self-signed lab cluster with verify off warns on every request otherwise.
        "ssl_show_warn": settings.opensearch_verify_certs,
    }
    ca = _ca_certs(settings)
    if ca is not None:
        options["ca_certs"] = ca
    auth = _auth(settings)
    if auth is not None:
        options["http_auth"] = auth
    return options


def make_client(settings: Settings | None = None) -> OpenSearch:
    """An OpenSearch client for the configured cluster (hosts may list several nodes)."""
    return OpenSearch(**client_options(settings or get_settings()))
