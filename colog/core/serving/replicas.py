"""Every Triton server a publish must reach, and loading a model on each of them.

Behind a ClusterIP Service a load call reaches one replica, and the others would go on serving
the old version. So a publisher (the trainer Job, `colog publish`, `colog rollback`) resolves
`COLOG_TRITON_LOAD_ENDPOINTS` to one address per server and calls the repository API on each:

- `host:port`: that server;
- `dns:NAME:PORT`: every address NAME resolves to, e.g. the headless Service of the Triton pods
  (one A record per ready pod).

Empty: `COLOG_TRITON_URL` alone (the local stack's single server).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

DNS_PREFIX = "dns:"


class EndpointError(ValueError):
    """A `COLOG_TRITON_LOAD_ENDPOINTS` entry is malformed or resolves to nothing."""


def _split_port(entry: str) -> tuple[str, int]:
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EndpointError(f"COLOG_TRITON_LOAD_ENDPOINTS entry {entry!r} is not host:port "
                            "(or dns:NAME:PORT)")
    return host.strip("[]"), int(port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve(entry: str, resolver=socket.getaddrinfo) -> list[str]:
    """host:port addresses one entry stands for (sorted, without duplicates)."""
    entry = entry.strip()
    if not entry.startswith(DNS_PREFIX):
        host, port = _split_port(entry)
        return [_join(host, port)]
    host, port = _split_port(entry[len(DNS_PREFIX):])
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EndpointError(f"{host} does not resolve ({exc}): is the Triton headless Service "
                            "there and does any Triton pod run?") from exc
    addresses = sorted({_join(info[4][0], port) for info in infos})
    if not addresses:
        raise EndpointError(f"{host} resolves to no address: no Triton pod is ready")
    return addresses


def endpoints(settings: Any, resolver=socket.getaddrinfo) -> list[str]:
    """Every server to load on, in a stable order."""
    entries = [e for e in settings.triton_load_endpoints.split(",") if e.strip()]
    if not entries:
        return [settings.triton_url.split("://")[-1]]
    found: dict[str, None] = {}
    for entry in entries:
        found.update(dict.fromkeys(resolve(entry, resolver)))
    return list(found)


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)  # address -> the error

    @property
    def ok(self) -> bool:
        return bool(self.loaded) and not self.failed


def load_everywhere(settings: Any, version: int | str | None = None, model: str | None = None,
                    resolver=socket.getaddrinfo, **client_options) -> LoadReport:
    """(Re)load `model` on every server; each failure is recorded, the others still load."""
    from colog.core.serving.client import TritonClient, TritonError

    report = LoadReport()
    for address in endpoints(settings, resolver):
        client = TritonClient(settings, url=address, **client_options)
        try:
            client.load_model(version, model)
            report.loaded.append(address)
        except TritonError as exc:
            report.failed[address] = exc
        finally:
            client.close()
    return report
