"""Partitions of streams, and the lock that lets one worker at a time process a partition.

The lock is a lease (colog/services/enrich/lease.py): a worker killed mid-batch holds it at most
`partition_lock_ttl_s`; a live worker renews it between batches. Without it two workers could
score the same stream at once: harmless for correctness (writes are guarded by sequence
numbers) but wasted work.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from colog.core.engine.reader import pending_streams, point_in_time
from colog.core.engine.streams import StreamRef, partition_of
from colog.services.enrich.batching import Batcher
from colog.services.enrich.context import EnrichContext
from colog.services.enrich.health import PROGRESS
from colog.services.enrich.lease import LeaseLost, PartitionLease
from colog.services.enrich.shutdown import ShutdownRequested, check_stop
from colog.services.enrich.stream_pass import StreamPass, StreamReport

log = logging.getLogger(__name__)


@dataclass
class PartitionReport:
    partition: int
    locked_out: bool = False
    lease_lost: bool = False  # another worker took the partition over mid-pass
    stopped: bool = False  # the worker is shutting down: ended at a batch boundary
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
    lease = None
    if ctx.redis is not None:
        lease = PartitionLease(ctx.redis, partition, ctx.settings.partition_lock_ttl_s)
        if not lease.acquire():
            report.locked_out = True
            return report
    renew = lease.renew if lease is not None else (lambda: None)

    def keep_alive() -> None:
        PROGRESS.mark()  # the pass moved (a hit read, a batch written): liveness sees it
        renew()

    # The streams' ready events are scored together (colog/services/enrich/batching.py): a stream's report
    # is complete only once the batch holding its last events has run.
    batcher = Batcher(ctx)
    pit = ExitStack()  # one point in time for all the partition's streams
    try:
        if streams is None:
            streams = streams_by_partition(ctx).get(partition, [])
        pit_id = pit.enter_context(point_in_time(ctx.client, ctx.settings.index_pattern)) \
            if streams else None
        for ref in streams:
            stream_pass = StreamPass(ctx, ref, flush=flush, keep_alive=keep_alive,
                                     batcher=batcher, pit=pit_id)
            try:
                check_stop()
                stream_pass.run()
            except LeaseLost as lost:
                log.warning("%s", lost)
                report.lease_lost = True
            except ShutdownRequested:
                report.stopped = True
            report.streams.append(stream_pass.report)
            if report.lease_lost or report.stopped:
                break
        if not (report.lease_lost or report.stopped):
            try:
                batcher.flush()
            except LeaseLost as lost:  # the batch's writes renew the lease too
                log.warning("%s", lost)
                report.lease_lost = True
            except ShutdownRequested:
                report.stopped = True
        if report.stopped:
            # The jobs still in the batcher were never scored: their events stay pending.
            log.warning("partition %s: worker shutting down; stopped at a batch boundary after "
                        "%s verdicts, releasing the lease", partition, report.scored)
        if on_stream:
            for stream_report in report.streams:
                on_stream(stream_report)
    finally:
        pit.close()
        if lease is not None:
            lease.release()
    return report
