"""Where a pass spends its time: seconds per stage, summed over the pass (`colog bench`).

Stages: read (searches: pending streams, counts, stream pages), parse (masking and Drain),
embed (sentence embeddings, cache included), infer (the CoLog model), explain (the occlusion
rows of anomalous verdicts, their embeddings and model call), write (bulk updates), refresh
(index refreshes between rounds). Whatever is left of a pass's time is the rest of the work
(tokens, windows, verdict decisions, reuse keys, incidents): `colog bench` shows it as `other`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

STAGES = ("read", "parse", "embed", "infer", "explain", "write", "refresh")


class StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started

    def iterate(self, stage: str, items: Iterable) -> Iterator:
        """Yield from `items`, counting the time spent producing each item (a paged read)."""
        iterator = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.seconds[stage] += time.perf_counter() - started
                return
            self.seconds[stage] += time.perf_counter() - started
            yield item

    def snapshot(self) -> dict[str, float]:
        return {stage: self.seconds.get(stage, 0.0) for stage in STAGES}
