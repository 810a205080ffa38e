"""The enrichment task retries on the failures a later attempt can cure, raised by the project's
own clients (not only builtin ConnectionError), and stops after its limit with the real cause.

The failure is real: the worker's Triton client is pointed at a loopback port where nothing
listens, so every attempt gets a refused connection from the real gRPC client.
"""

from __future__ import annotations

import pytest
from celery.signals import task_retry

from colog.app.stack.process import free_port
from colog.app.worker import tasks
from colog.app.worker.thread_context import reset_context
from colog.core.engine.errors import TLSFailed
from colog.core.serving.client import TritonUnavailable
from colog.core.settings import get_settings


@pytest.fixture
def triton_down(monkeypatch):
    port = free_port()
    monkeypatch.setenv("COLOG_TRITON_URL", f"127.0.0.1:{port}")
    monkeypatch.setenv("COLOG_TRITON_PROTOCOL", "grpc")
    monkeypatch.setenv("COLOG_TRITON_RETRIES", "0")
    get_settings.cache_clear()
    reset_context()
    yield
    reset_context()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_an_unreachable_triton_is_retried_until_the_limit_then_reported(triton_down):
    retried = []

    def count(request=None, reason=None, **_kwargs):
        retried.append(reason)

    task_retry.connect(count, weak=False)
    try:
        result = tasks.enrich_partition.apply(args=[0], throw=False)
    finally:
        task_retry.disconnect(count)
    assert result.state == "FAILURE"
    assert isinstance(result.result, TritonUnavailable), result.result
    assert len(retried) == tasks.enrich_partition.max_retries
    assert all("unreachable" in str(reason) for reason in retried), retried


def test_the_retry_policy_names_the_project_errors():
    from colog.core.engine.errors import TimedOut, Unreachable
    from colog.core.serving.client import ModelNotReady

    transient = tasks.enrich_partition.autoretry_for
    for error in (Unreachable, TimedOut, TritonUnavailable, ModelNotReady):
        assert issubclass(error, transient), error
    # A certificate the worker does not trust stays untrusted: no retry.
    assert TLSFailed in tasks.enrich_partition.dont_autoretry_for
