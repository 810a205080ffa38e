"""colog/app/cli/errors.py: which server failed, the line that says so, and what it never prints.
(tests/integration/test_cli_errors.py runs the real commands against closed ports.)"""

from __future__ import annotations

import pytest
from opensearchpy import exceptions as os_exc
from redis import exceptions as redis_exc

from colog.app.cli.errors import EXIT_OPENSEARCH, EXIT_REDIS, EXIT_TRITON, Failure, _scrub, classify, redact
from colog.app.stack.process import free_port
from colog.core.serving.client import ModelNotReady, TritonError, TritonUnavailable
from colog.core.settings import Settings


@pytest.mark.parametrize("text,shown", [
    ("https://admin:secret@os.example:9200", "https://admin:***@os.example:9200"),
    ("redis://:secret@10.0.0.1:6379/0", "redis://:***@10.0.0.1:6379/0"),
    ("rediss://default:p@ss@r:6380/1", "rediss://default:***@r:6380/1"),  # unescaped @
    ("http://token@host:9200", "http://***@host:9200"),
    ("http://a:x@h1:9200,http://b:y@h2:9200", "http://a:***@h1:9200,http://b:***@h2:9200"),
    ("redis://h:6379/0?password=secret&db=1", "redis://h:6379/0?password=***&db=1"),
    ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
    ("127.0.0.1:8001", "127.0.0.1:8001"),
])
def test_redact_masks_passwords_in_urls(text, shown):
    assert redact(text) == shown


def settings(**overrides) -> Settings:
    return Settings(_env_file=None, **overrides)


def raised(call) -> BaseException:
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("expected an exception")


def test_opensearch_unreachable_is_named_with_its_url_and_the_socket_error():
    from colog.core.engine.opensearch_client import make_client

    s = settings(opensearch_url=f"http://127.0.0.1:{free_port()}", opensearch_timeout_s=2)
    failure = classify(raised(lambda: make_client(s).info()), s)
    assert failure.code == EXIT_OPENSEARCH
    assert failure.line().startswith(
        f"error: OpenSearch at {s.opensearch_url} is unreachable (Connection refused): start")


@pytest.mark.parametrize("exc,what", [
    (os_exc.SSLError("N/A", "wrong version number", None), "failed the TLS handshake"),
    (os_exc.ConnectionTimeout("TIMEOUT", "read timed out", None), "did not answer within 30s"),
    (os_exc.AuthenticationException(401, "security_exception", {}),
     "rejected the credentials (401)"),
    (os_exc.AuthorizationException(403, "security_exception", {}),
     "refused the request (403: security_exception)"),
    (os_exc.TransportError(429, "cluster_block_exception",
                           {"error": {"reason": "index [logs] blocked by: [TOO_MANY_REQUESTS]"}}),
     "answered 429 (cluster_block_exception: index [logs] blocked by: [TOO_MANY_REQUESTS])"),
])
def test_opensearch_failures(exc, what):
    failure = classify(exc, settings())
    assert failure.code == EXIT_OPENSEARCH
    assert failure.line().startswith(f"error: OpenSearch at http://127.0.0.1:9200 {what}: ")


def test_redis_unreachable_and_its_other_failures():
    import redis

    s = settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    failure = classify(raised(lambda: redis.Redis.from_url(s.redis_url).ping()), s)
    assert failure.code == EXIT_REDIS
    assert failure.line().startswith(f"error: Redis at {s.redis_url} is unreachable (")
    for exc, what in ((redis_exc.AuthenticationError("invalid password"), "rejected the password"),
                      (redis_exc.TimeoutError("Timeout reading"), "did not answer in time"),
                      (redis_exc.ResponseError("MISCONF no disk"),
                       "answered an error (MISCONF no disk)")):
        assert classify(exc, s).line().startswith(f"error: Redis at {s.redis_url} {what}: ")


def test_triton_failures_use_the_url_the_client_used():
    s = settings()
    unreachable = classify(TritonUnavailable("Triton at h:1 (grpc) unreachable", "h:1"), s)
    assert unreachable.code == EXIT_TRITON
    assert unreachable.line().startswith("error: Triton at h:1 is unreachable: start it")
    missing = classify(ModelNotReady("colog", "h:1", "3", "unknown version"), s)
    assert missing.line().startswith(
        "error: Triton at h:1 has no model 'colog' version 3 ready (unknown version): place")
    other = classify(TritonError("Triton at h:1: load colog failed: bad config", "h:1"), s)
    assert other.line().startswith("error: Triton at h:1 failed: load colog failed: bad config")
    # Raised without a URL: the configured one.
    assert classify(TritonError("boom"), s).url == s.triton_url


def test_the_cause_is_found_through_a_library_wrapper():
    class BrokerError(Exception):  # e.g. kombu's OperationalError around redis-py's error
        pass

    try:
        try:
            raise redis_exc.ConnectionError("Error 111 connecting")
        except redis_exc.ConnectionError:
            raise BrokerError("cannot connect")  # noqa: B904 — implicit context, as kombu does
    except BrokerError as exc:
        assert classify(exc, settings()).code == EXIT_REDIS
    try:
        try:
            raise redis_exc.ConnectionError("Error 111 connecting")
        except redis_exc.ConnectionError:
            raise ValueError("handled") from None  # the code chose to hide it: not a Redis failure
    except ValueError as exc:
        assert classify(exc, settings()) is None


def test_anything_else_is_not_a_dependency_failure():
    assert classify(ValueError("a bug"), settings()) is None
    assert classify(KeyError("x"), settings()) is None


def test_no_secret_reaches_the_line():
    s = settings(opensearch_user="admin", opensearch_password="hunter2-long",
                 redis_url="redis://:r3dis-pass@h:6379/0")
    line = Failure("OpenSearch", s.opensearch_url,
                   "answered 500 (echo hunter2-long and r3dis-pass)", "hint", 10).line()
    assert "hunter2-long" not in _scrub(line, s) and "r3dis-pass" not in _scrub(line, s)
    assert _scrub(line, s).count("***") == 2


def test_a_deliberate_exit_raised_from_a_server_error_keeps_its_own_code():
    """`raise typer.Exit(2) from NotFoundError(...)` is a command's own verdict on bad input
    (no such document), not a server failure: the command group must not turn it into 10."""
    import typer
    from typer.testing import CliRunner

    from colog.app.cli.errors import FailWell

    demo = typer.Typer(cls=FailWell)

    @demo.command()
    def find() -> None:
        try:
            raise os_exc.NotFoundError(404, "document_missing_exception", {})
        except os_exc.NotFoundError as exc:
            typer.echo("no document with id 'x'", err=True)
            raise typer.Exit(2) from exc

    @demo.command()
    def other() -> None:
        raise os_exc.NotFoundError(404, "index_not_found_exception", {})

    result = CliRunner().invoke(demo, ["find"])
    assert result.exit_code == 2
    assert CliRunner().invoke(demo, ["other"]).exit_code == EXIT_OPENSEARCH
