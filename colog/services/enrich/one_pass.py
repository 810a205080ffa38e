"""`colog enrich`: one synchronous pass over every pending document, with a progress bar.

Rounds repeat until nothing is pending (or nothing moves): a round refreshes the indices (so
the pending query does not see stale statuses), then processes every partition that has pending
streams. With `flush`, tails of streams are scored with padding instead of waiting.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from colog.core.engine.reader import count_pending
from colog.services.enrich.context import EnrichContext
from colog.services.enrich.partitions import enrich_partition, streams_by_partition


@dataclass
class PassSummary:
    scored: int = 0
    rejected: int = 0
    waiting: int = 0
    rounds: int = 0
    seconds: float = 0.0
    write: Counter = field(default_factory=Counter)
    unwritten: list = field(default_factory=list)
    model_versions: set = field(default_factory=set)
    still_pending: int = 0

    @property
    def docs_per_second(self) -> float:
        done = self.scored + self.rejected
        return done / self.seconds if self.seconds else 0.0


def run_pass(ctx: EnrichContext, flush: bool = True, progress: bool = True,
             max_rounds: int = 50, lock_wait_s: float = 2.0) -> PassSummary:
    index = ctx.settings.index_pattern
    summary = PassSummary()
    started = time.perf_counter()
    with ctx.stages.time("refresh"):
        ctx.client.refresh(index)
    with ctx.stages.time("read"):
        total = count_pending(ctx.client, index)
    bar = tqdm(total=total, unit="doc", desc="enrich", disable=not progress)
    try:
        while summary.rounds < max_rounds:
            summary.rounds += 1
            with ctx.stages.time("read"):
                grouped = streams_by_partition(ctx)
            if not grouped:
                break
            moved = 0
            locked = 0
            waiting = 0
            for partition, streams in sorted(grouped.items()):
                def advance(stream_report):
                    bar.update(stream_report.scored + stream_report.rejected)

                report = enrich_partition(ctx, partition, flush=flush, streams=streams,
                                          on_stream=advance)
                locked += report.locked_out or report.lease_lost
                moved += report.scored + report.rejected
                waiting += report.waiting
                summary.scored += report.scored
                summary.rejected += report.rejected
                for s in report.streams:
                    summary.write.update(s.write.written)
                    summary.unwritten.extend(s.write.unwritten)
                    summary.model_versions |= s.model_versions
            summary.waiting = waiting
            with ctx.stages.time("refresh"):
                ctx.client.refresh(index)
            if moved == 0 and locked == 0:
                break  # only events waiting for their context remain (or nothing at all)
            if moved == 0 and locked:
                time.sleep(lock_wait_s)  # another worker holds a partition: let it finish
    finally:
        bar.close()
    with ctx.stages.time("read"):
        summary.still_pending = count_pending(ctx.client, index)
    summary.seconds = time.perf_counter() - started
    return summary
