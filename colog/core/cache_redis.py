"""The Redis that holds caches (embeddings, verdicts): entries anyone may drop at any time.

Kept apart from the state Redis (`COLOG_REDIS_URL`: broker, leases, Drain state) so a full cache
evicts its own least-recently-used entries (allkeys-lru) instead of refusing the task publishes,
lease renewals and Drain saves that share a noeviction instance. `COLOG_CACHE_REDIS_URL` names
it; unset, the state Redis is used (the local stack and small installs).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from colog.core.redis_client import redis_client

_clients: dict[tuple[int, str], redis.Redis] = {}
_lock = threading.Lock()


def cache_redis(settings: Any) -> redis.Redis:
    """The cache Redis client of this process for `settings` (one per URL and process, never
    inherited across a fork). Every cache (embedding, verdict) gets its client here."""
    url = settings.effective_cache_redis_url
    key = (os.getpid(), url)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = redis_client(url, settings)
        return client
