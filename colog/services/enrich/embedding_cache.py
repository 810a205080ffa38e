"""Embedding cache in Redis, keyed by the hash of the masked message.

Logs repeat a few hundred templates millions of times, so after warm-up almost every embedding
comes from here instead of Triton. Vectors are stored as raw float32 bytes (1.5 KiB each) with a
TTL, so the cache stays bounded when templates drift. It lives in the cache Redis
(colog/core/cache_redis.py, `COLOG_CACHE_REDIS_URL`), which may evict any entry: a missing vector is
computed again.
"""

from __future__ import annotations

import numpy as np
import redis

from colog.core.features.embedding import EMBEDDING_DIM

PREFIX = "colog:emb:"


def embedding_cache(settings, enabled: bool | None = None) -> "RedisEmbeddingCache | NoCache":
    """The cache `settings` ask for: in the cache Redis, or none (`COLOG_EMBEDDING_CACHE=false`)."""
    from colog.core.cache_redis import cache_redis

    enabled = settings.embedding_cache if enabled is None else enabled
    if not enabled:
        return NoCache()
    return RedisEmbeddingCache(cache_redis(settings), settings.embedding_cache_ttl_s)


class RedisEmbeddingCache:
    def __init__(self, client: redis.Redis, ttl_s: int):
        self.client = client
        self.ttl_s = ttl_s

    def get_many(self, keys: list[str]) -> list[np.ndarray | None]:
        if not keys:
            return []
        values = self.client.mget([PREFIX + key for key in keys])
        result: list[np.ndarray | None] = []
        for raw in values:
            if raw is None or len(raw) != EMBEDDING_DIM * 4:
                result.append(None)  # a truncated entry is recomputed, never trusted
            else:
                result.append(np.frombuffer(raw, dtype=np.float32).copy())
        return result

    def set_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, vector in items.items():
            pipe.set(PREFIX + key, np.asarray(vector, np.float32).tobytes(), ex=self.ttl_s)
        pipe.execute()


class NoCache:
    """Cache off (`COLOG_EMBEDDING_CACHE=false`, and the benchmark's comparison run)."""

    def get_many(self, keys: list[str]) -> list[np.ndarray | None]:
        return [None] * len(keys)

    def set_many(self, items: dict[str, np.ndarray]) -> None:
        return None
