"""How a `colog` command fails when a server it needs does not answer: one line on stderr that
names the server, its URL (secrets masked) and what to do, and an exit code per server, listed
in docs/operations.md ("Exit codes"). `--debug` or `COLOG_DEBUG=1` prints the traceback first.

Any other exception is a bug: it keeps its traceback (what a bug report needs) and exit 1.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass

import click
import typer
from typer.core import TyperGroup

from colog.core.redaction import redact, url_passwords  # noqa: F401 - redact is re-exported

EXIT_OPENSEARCH = 10
EXIT_REDIS = 11
EXIT_TRITON = 12

START_HINT = "start it (`colog stack up` for the local stack)"


@dataclass(frozen=True)
class Failure:
    server: str
    url: str
    what: str  # e.g. "is unreachable (Connection refused)"
    hint: str
    code: int

    def line(self) -> str:
        return f"error: {self.server} at {redact(self.url)} {self.what}: {self.hint}"


# --- secrets --------------------------------------------------------------------------------

def _scrub(line: str, settings) -> str:
    """Belt and braces: no configured secret appears even outside a URL (an error message that
    quotes a URL in its own syntax). Strings under 4 characters would match ordinary words;
    inside URLs `redact` masks those too."""
    line = redact(line)
    secrets = []
    if settings is not None:
        try:
            secrets.append(settings.opensearch_secret() or "")
        except OSError:  # an unreadable password file: nothing to scrub
            pass
        for url in (settings.opensearch_url, settings.redis_url):
            secrets.extend(url_passwords(url))
    for secret in secrets:
        if len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


# --- what failed ------------------------------------------------------------------------------


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what caused it: libraries wrap the error we recognise in their own."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def _os_reason(exc: BaseException) -> str:
    """' (Connection refused)' from the socket error at the bottom of `exc`, or ''."""
    for link in _chain(exc):
        if isinstance(link, OSError):
            return f" ({link.strerror or link})"
    return ""


def _one_line(text: object, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _opensearch(exc: BaseException, settings) -> Failure | None:
    from opensearchpy import exceptions as os_exc

    if not isinstance(exc, os_exc.TransportError):
        return None
    url = settings.opensearch_url if settings else "the configured URL"

    def failure(what: str, hint: str) -> Failure:
        return Failure("OpenSearch", url, what, hint, EXIT_OPENSEARCH)

    if isinstance(exc, os_exc.SSLError):
        return failure("failed the TLS handshake" + _os_reason(exc),
                       "check https:// against http:// in COLOG_OPENSEARCH_URL, and "
                       "COLOG_OPENSEARCH_CA_CERTS / COLOG_OPENSEARCH_VERIFY_CERTS")
    if isinstance(exc, os_exc.ConnectionTimeout):
        timeout = f" within {settings.opensearch_timeout_s:g}s" if settings else ""
        return failure(f"did not answer{timeout}",
                       "check the cluster's health, or raise COLOG_OPENSEARCH_TIMEOUT_S")
    if isinstance(exc, os_exc.ConnectionError):
        return failure("is unreachable" + _os_reason(exc),
                       f"{START_HINT}, or set COLOG_OPENSEARCH_URL to a running cluster")
    if isinstance(exc, os_exc.AuthenticationException):
        return failure("rejected the credentials (401)",
                       "check COLOG_OPENSEARCH_USER and COLOG_OPENSEARCH_PASSWORD "
                       "(or COLOG_OPENSEARCH_PASSWORD_FILE)")
    if isinstance(exc, os_exc.AuthorizationException):
        return failure(f"refused the request (403: {_one_line(exc.error)})",
                       "give COLOG_OPENSEARCH_USER the permissions this command needs")
    info = exc.info.get("error", {}) if isinstance(exc.info, dict) else {}
    reason = info.get("reason", "") if isinstance(info, dict) else ""
    said = ": ".join(_one_line(part) for part in (exc.error, reason) if part)
    return failure(f"answered {exc.status_code}" + (f" ({said})" if said else ""),
                   "see the OpenSearch log; --debug shows where the request came from")


def _engine(exc: BaseException, settings) -> Failure | None:
    """A colog.engine error (either engine); the raw opensearch-py ones are `_opensearch`'s."""
    from colog.core.engine import errors as eng

    if not isinstance(exc, eng.EngineError):
        return None
    url = settings.opensearch_url if settings else "the configured URL"
    product = {"opensearch": "OpenSearch", "elasticsearch": "Elasticsearch"}.get(
        exc.engine, settings.engine_product if settings else "the search engine")

    def failure(what: str, hint: str) -> Failure:
        return Failure(product, url, what, hint, EXIT_OPENSEARCH)

    if isinstance(exc, eng.TLSFailed):
        return failure("failed the TLS handshake" + _os_reason(exc),
                       "check https:// against http:// in COLOG_OPENSEARCH_URL, and "
                       "COLOG_OPENSEARCH_CA_CERTS / COLOG_OPENSEARCH_VERIFY_CERTS")
    if isinstance(exc, eng.TimedOut):
        timeout = f" within {settings.opensearch_timeout_s:g}s" if settings else ""
        return failure(f"did not answer{timeout}",
                       "check the cluster's health, or raise COLOG_OPENSEARCH_TIMEOUT_S")
    if isinstance(exc, eng.Unreachable):
        return failure("is unreachable" + _os_reason(exc),
                       f"{START_HINT}, or set COLOG_OPENSEARCH_URL to a running cluster")
    if isinstance(exc, eng.AuthenticationFailed):
        return failure("rejected the credentials (401)",
                       "check COLOG_OPENSEARCH_USER and COLOG_OPENSEARCH_PASSWORD "
                       "(or COLOG_OPENSEARCH_PASSWORD_FILE)")
    if isinstance(exc, eng.Forbidden) and exc.error_type != "cluster_block_exception":
        return failure(f"refused the request (403: {_one_line(exc.error_type)})",
                       "give COLOG_OPENSEARCH_USER the permissions this command needs")
    said = ": ".join(_one_line(part) for part in (exc.error_type, exc.reason) if part)
    status = exc.status_code if exc.status_code is not None else "an error"
    return failure(f"answered {status}" + (f" ({said})" if said else ""),
                   f"see the {product} log; --debug shows where the request came from")


def _redis(exc: BaseException, settings) -> Failure | None:
    from redis import exceptions as redis_exc

    if not isinstance(exc, redis_exc.RedisError):
        return None
    url = settings.redis_url if settings else "the configured URL"

    def failure(what: str, hint: str) -> Failure:
        return Failure("Redis", url, what, hint, EXIT_REDIS)

    if isinstance(exc, redis_exc.AuthenticationError):
        return failure("rejected the password",
                       "check the password in COLOG_REDIS_URL (redis://:PASSWORD@host:port/db)")
    if isinstance(exc, redis_exc.TimeoutError):
        return failure("did not answer in time",
                       "check that it is running and reachable from here (COLOG_REDIS_URL)")
    if isinstance(exc, redis_exc.ConnectionError):
        return failure("is unreachable" + _os_reason(exc),
                       f"{START_HINT}, or set COLOG_REDIS_URL to a running server")
    return failure(f"answered an error ({_one_line(exc)})", "see the Redis log")


def _triton(exc: BaseException, settings) -> Failure | None:
    from colog.core.serving.client import ModelNotReady, TritonError, TritonUnavailable

    if not isinstance(exc, TritonError):
        return None
    url = getattr(exc, "url", "") or (settings.triton_url if settings else "the configured URL")

    def failure(what: str, hint: str) -> Failure:
        return Failure("Triton", url, what, hint, EXIT_TRITON)

    if isinstance(exc, ModelNotReady):
        what = f"has no model '{exc.model}'" + (f" version {exc.version}" if exc.version else "")
        return failure(what + " ready" + (f" ({_one_line(exc.detail)})" if exc.detail else ""),
                       "place and load one with `colog serve --model MODEL_DIR`, or check "
                       "`colog stack status`")
    if isinstance(exc, TritonUnavailable):
        return failure("is unreachable" + _os_reason(exc),
                       f"{START_HINT}, or set COLOG_TRITON_URL (and COLOG_TRITON_PROTOCOL) to a "
                       "running server")
    # The client's own messages begin with "Triton at URL: "; the line says that already.
    message = _one_line(exc).removeprefix(f"Triton at {url}: ")
    return failure(f"failed: {message}", "see the Triton log (`colog stack status` names it)")


def classify(exc: BaseException, settings=None) -> Failure | None:
    """The dependency failure behind `exc` (or what caused it), None when it is not one."""
    for link in _chain(exc):
        for kind in (_engine, _opensearch, _redis, _triton):
            failure = kind(link, settings)
            if failure is not None:
                return failure
    return None


def _settings():
    try:
        from colog.core.settings import get_settings

        return get_settings()
    except Exception:  # noqa: BLE001 — unreadable settings: the line says "the configured URL"
        return None


class FailWell(TyperGroup):
    """The `colog` command group: a failed dependency ends any sub-command with one line and its
    exit code. Being the group (not a wrapper around the console script), it applies to every
    way of running colog: the console script, `python -m colog.app.cli` and typer's CliRunner."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort,
                click.ClickException):
            # A deliberate exit and usage errors already say what they mean, even when raised
            # `from` a server's error (typer's Exit is its own class, not click's).
            raise
        except Exception as exc:
            settings = _settings()
            failure = classify(exc, settings)
            if failure is None:
                raise
            if ctx.params.get("debug"):
                traceback.print_exc()
            click.echo(_scrub(failure.line(), settings), err=True)
            raise typer.Exit(failure.code) from None
