"""Every Redis client has socket timeouts: a real Redis that stops answering (SIGSTOP) fails a
call within `redis_timeout_s`, where redis-py's default would wait forever."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import redis

from colog.app.stack.process import free_port
from colog.core.cache_redis import cache_redis
from colog.core.redis_client import state_redis
from colog.core.settings import Settings


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test alone: stopping it must not stall the session's Redis."""
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server on {port} did not start")
            time.sleep(0.1)
    yield proc, url
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("which", ["state", "cache"])
def test_a_redis_that_stops_answering_fails_the_call_in_time(private_redis, which):
    proc, url = private_redis
    settings = Settings(redis_url=url, cache_redis_url=url, redis_timeout_s=0.5)
    client = state_redis(settings) if which == "state" else cache_redis(settings)
    assert client.ping()
    os.kill(proc.pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    assert time.monotonic() - started < 5  # bounded by the setting, not forever
    os.kill(proc.pid, signal.SIGCONT)
    assert client.ping()  # the same client recovers once Redis answers again
