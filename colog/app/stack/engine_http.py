"""The local stack's health probe for either engine: one HTTP GET, with the configured
credentials and TLS settings (a secured node answers 401 without them), standard library only."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit


def http_address(settings: Any) -> tuple[str, int, str]:
    """(host, port, base URL) of the first configured node; the local stack runs one node."""
    url = settings.opensearch_hosts[0]
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 9200
    return host, port, f"{parts.scheme or 'http'}://{host}:{port}"


def _ssl_context(settings: Any) -> ssl.SSLContext:
    if not settings.opensearch_verify_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = str(settings.opensearch_ca_certs) if settings.opensearch_ca_certs else None
    return ssl.create_default_context(cafile=cafile)


def get_json(settings: Any, path: str, timeout: float = 2.0) -> Any:
    _, _, base = http_address(settings)
    request = urllib.request.Request(base + path)
    secret = settings.opensearch_secret() if settings.opensearch_user else None
    if settings.opensearch_user and secret:
        token = base64.b64encode(f"{settings.opensearch_user}:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = _ssl_context(settings) if base.startswith("https") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
        return json.loads(answer.read().decode())


def healthy(settings: Any, timeout: float = 2.0) -> bool:
    """True when the node at the configured URL reports cluster health yellow or green."""
    try:
        health = get_json(settings, "/_cluster/health?wait_for_status=yellow&timeout=1s", timeout)
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return health.get("status") in ("yellow", "green")
