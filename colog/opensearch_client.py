"""The one way to build an OpenSearch client from the settings (hosts, auth, TLS, timeouts).

Create one per process (after a fork, not before): the client holds connection pools.
The password is read here and handed to the client only; it is never logged or printed.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from colog.settings import Settings, get_settings

MAX_RETRIES = 3  # connection errors and timeouts; each node is tried before giving up


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
    if settings.opensearch_ca_certs is not None:
        if not settings.opensearch_ca_certs.is_file():
            raise ValueError(
                f"COLOG_OPENSEARCH_CA_CERTS={settings.opensearch_ca_certs} is not a readable file"
            )
        options["ca_certs"] = str(settings.opensearch_ca_certs)
    secret = settings.opensearch_secret()
    if settings.opensearch_user:
        if not secret:
            raise ValueError(
                "COLOG_OPENSEARCH_USER is set but no password: set COLOG_OPENSEARCH_PASSWORD "
                "or COLOG_OPENSEARCH_PASSWORD_FILE"
            )
        options["http_auth"] = (settings.opensearch_user, secret)
    elif secret:
        raise ValueError("an OpenSearch password is set but COLOG_OPENSEARCH_USER is not")
    return options


def make_client(settings: Settings | None = None) -> OpenSearch:
    """An OpenSearch client for the configured cluster (hosts may list several nodes)."""
    return OpenSearch(**client_options(settings or get_settings()))
