"""Engine-neutral errors: what callers catch, whichever client raised the original.

Each engine translates its client's exceptions into these (the original stays as
``__cause__``), so the enricher, the trainer and the CLI handle one set of classes. The message
never holds a secret: it is built from the server's status and error type/reason only.
"""

from __future__ import annotations


class EngineError(Exception):
    """The search engine refused or failed a request."""

    def __init__(self, message: str, *, engine: str = "", status_code: int | None = None,
                 error_type: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.engine = engine
        self.status_code = status_code
        self.error_type = error_type
        self.reason = reason


class BadRequest(EngineError):
    """400: the request is malformed or names something the index cannot take."""


class AuthenticationFailed(EngineError):
    """401: wrong or missing credentials."""


class Forbidden(EngineError):
    """403: the user lacks a permission, or the index refuses writes (a block)."""


class NotFound(EngineError):
    """404: no such index, document, template or pipeline."""


class Conflict(EngineError):
    """409: a version conflict (if_seq_no/if_primary_term) or a resource that exists already."""


class Unreachable(EngineError):
    """No answer at all: connection refused, DNS, a reset."""


class TLSFailed(Unreachable):
    """The TLS handshake failed: an untrusted certificate, or https against an http port."""


class TimedOut(Unreachable):
    """The node accepted the connection but did not answer in time."""


BY_STATUS: dict[int, type[EngineError]] = {
    400: BadRequest, 401: AuthenticationFailed, 403: Forbidden, 404: NotFound, 409: Conflict,
}


def for_status(status: int | None) -> type[EngineError]:
    return BY_STATUS.get(status or 0, EngineError)
