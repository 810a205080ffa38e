"""Partitions of streams, and the lock that lets one worker at a time process a partition.

A partition lock is a Redis lock with a TTL: a worker killed mid-batch holds it at most
`partition_lock_ttl_s`; a live worker extends it after every stream. Without the lock two
workers could score the same stream at once: harmless for correctness (writes are guarded by
sequence numbers) but wasted work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from enricher.context import EnrichContext
from enricher.reader import pending_streams
from enricher.stream_pass import StreamPass, StreamReport
from enricher.streams import StreamRef, partition_of

LOCK_KEY = "colog:lock:partition:{}"


@dataclass
class PartitionReport:
    partition: int
    locked_out: bool = False
    streams: list[StreamReport] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return sum(s.scored for s in self.streams)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.streams)

    @property
    def waiting(self) -> int:
        return sum(s.waiting for s in self.streams)


def streams_by_partition(ctx: EnrichContext) -> dict[int, list[StreamRef]]:
    s = ctx.settings
    grouped: dict[int, list[StreamRef]] = defaultdict(list)
    for ref in pending_streams(ctx.client, s.index_pattern, s.stream_fields,
                               s.stream_fallback_fields):
        grouped[partition_of(ref.key, s.partitions)].append(ref)
    return dict(grouped)


def enrich_partition(ctx: EnrichContext, partition: int, flush: bool = False,
                     streams: list[StreamRef] | None = None,
                     on_stream: Callable[[StreamReport], None] | None = None) -> PartitionReport:
    report = PartitionReport(partition)
    lock = None
    if ctx.redis is not None:
        lock = ctx.redis.lock(LOCK_KEY.format(partition), timeout=ctx.settings.partition_lock_ttl_s)
        if not lock.acquire(blocking=False):
            report.locked_out = True
            return report
    try:
        if streams is None:
            streams = streams_by_partition(ctx).get(partition, [])
        for ref in streams:
            result = StreamPass(ctx, ref, flush=flush).run()
            report.streams.append(result)
            if on_stream:
                on_stream(result)
            if lock is not None:
                lock.extend(ctx.settings.partition_lock_ttl_s, replace_ttl=True)
    finally:
        if lock is not None:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - expired meanwhile: someone else may hold it now
                pass
    return report
