"""A worker's lease on one partition: a Redis lock with a TTL, renewed while the worker works.

The TTL bounds how long a killed worker keeps others out, so it is short next to a stream pass
on a slow host. The lease is therefore renewed between batches (as hits are read and after every
write), not once per stream, and a lease that expired anyway (a batch slower than the TTL) is
taken again if nobody else took it. If another worker took it, this one stops at the next batch
boundary: everything it wrote is guarded by sequence numbers, so stopping loses nothing and the
new holder carries on.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import LockError

log = logging.getLogger(__name__)

LOCK_KEY = "colog:lock:partition:{}"


class LeaseLost(Exception):
    """Another worker holds the partition now; stop at the batch boundary."""


class PartitionLease:
    def __init__(self, redis_client, partition: int, ttl_s: float):
        self.partition = partition
        self.ttl_s = ttl_s
        self._lock = redis_client.lock(LOCK_KEY.format(partition), timeout=ttl_s)
        self._renewed_at = 0.0

    def acquire(self) -> bool:
        if self._lock.acquire(blocking=False):
            self._renewed_at = time.monotonic()
            return True
        return False

    def renew(self) -> None:
        """Extend the TTL; cheap to call often (it talks to Redis at most every third of a TTL)."""
        if time.monotonic() - self._renewed_at < self.ttl_s / 3:
            return
        try:
            self._lock.extend(self.ttl_s, replace_ttl=True)
        except LockError:
            # Expired between renewals. Free: take it again. Taken: the other worker goes on.
            if not self._lock.acquire(blocking=False):
                raise LeaseLost(f"partition {self.partition}: lease expired and another worker "
                                f"took it; stopping here") from None
            log.warning("partition %s: lease expired between batches (TTL %.0f s is shorter "
                        "than a batch); taken again", self.partition, self.ttl_s)
        self._renewed_at = time.monotonic()

    def release(self) -> None:
        try:
            self._lock.release()
        except LockError:
            pass  # expired meanwhile: someone else may hold it now, and it is theirs to release
