"""Redis memory per cached embedding, measured on a real redis-server (sizing the cache Redis).

Starts its own redis-server on a free port (no persistence, under a temporary cache directory),
writes N vectors through the worker's own `RedisEmbeddingCache.set_many` (keys as the worker
makes them: the hash of a masked message; values 384 float32 = 1536 bytes; the worker's TTL),
and reports `used_memory` per entry. Then fills a cache capped with `maxmemory` + allkeys-lru
past its limit to show that it evicts instead of refusing writes. Stops the server at the end.

    flock /tmp/colog-heavy.lock .venv/bin/python benchmarks/redis_cache_memory.py [N]
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import redis

from colog.app.stack import process
from colog.app.stack import redis as redis_stack
from colog.core.settings import Settings
from colog.services.enrich.embedding_cache import RedisEmbeddingCache


def _keys(n: int, salt: str = "") -> list[str]:
    return [hashlib.sha1(f"{salt}message {i} <*> from node <*>".encode()).hexdigest() for i in range(n)]


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="colog-redis-mem-") as tmp:
        settings = Settings(cache_dir=Path(tmp), redis_url=f"redis://127.0.0.1:{process.free_port()}/0")
        redis_stack.start(settings)
        try:
            client = redis.Redis.from_url(settings.redis_url)
            client.flushall()
            base = client.info("memory")["used_memory"]
            cache = RedisEmbeddingCache(client, settings.embedding_cache_ttl_s)
            rng = np.random.default_rng(0)
            keys = _keys(n)
            for start in range(0, n, 1000):
                chunk = keys[start:start + 1000]
                cache.set_many({k: rng.normal(size=384).astype(np.float32) for k in chunk})
            used = client.info("memory")["used_memory"]
            per_entry = (used - base) / n
            # A capped, evicting cache: writes beyond the limit evict, none is refused.
            limit_mb = 8
            client.flushall()
            client.config_set("maxmemory", f"{limit_mb}mb")
            client.config_set("maxmemory-policy", "allkeys-lru")
            over = int(limit_mb * 1024 * 1024 / per_entry * 2)
            for start in range(0, over, 1000):
                chunk = _keys(min(1000, over - start), salt=str(start))
                cache.set_many({k: rng.normal(size=384).astype(np.float32) for k in chunk})
            info = client.info()
            result = {"entries": n, "bytes_per_entry": round(per_entry, 1),
                      "mib_per_100k": round(per_entry * 100_000 / 2**20, 1),
                      "capped_mb": limit_mb, "written_when_capped": over,
                      "kept_when_capped": client.dbsize(), "evicted": info["evicted_keys"],
                      "redis_version": info["redis_version"]}
            client.close()
            return result
        finally:
            redis_stack.stop(settings)


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
