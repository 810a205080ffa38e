"""Every Redis client of the project, with socket timeouts from one setting.

redis-py waits forever by default: a Redis that accepts connections but stops answering would
hang a worker's pass, a drift check or a command without a word. With `redis_timeout_s` on both
the connect and the socket, such a call fails with redis.TimeoutError, which the worker's retry
policy and the CLI's error lines already handle. Probes pass their own shorter timeout.
"""

from __future__ import annotations

from typing import Any

import redis


def redis_client(url: str, settings: Any, timeout_s: float | None = None) -> redis.Redis:
    timeout = settings.redis_timeout_s if timeout_s is None else timeout_s
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def state_redis(settings: Any, timeout_s: float | None = None) -> redis.Redis:
    """The state Redis (`COLOG_REDIS_URL`): broker, leases, Drain state, flags."""
    return redis_client(settings.redis_url, settings, timeout_s)
