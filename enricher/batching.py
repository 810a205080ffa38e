"""The ready events of many streams scored together: one embedding call and one model call
(and one shadow call) per partition batch, instead of one of each per stream.

A stream pass hands each set of ready events to the partition's `Batcher` as a `ScoreJob`
(its buffer as it was, and the targets). The batcher runs its jobs when they hold
`inference_batch_size` rows, or when the partition's streams have all been read; each job's
verdicts are then decided and written by its own stream pass, in the order submitted. A verdict
stays a function of the stream alone: a job carries its stream's buffer, the rows of different
streams never meet inside the model, and the model scores each row independently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from colog.features.embedding import EMBEDDING_DIM
from colog.features.modalities import Modalities, build_modalities
from enricher.shutdown import check_stop

if TYPE_CHECKING:
    from enricher.context import EnrichContext


@dataclass
class ScoreJob:
    stream_pass: object           # enricher.stream_pass.StreamPass that submitted it
    buffer: list                  # the pass's events when it submitted (stream order)
    targets: list[int]            # positions in `buffer` to give verdicts
    modalities: Modalities | None = None
    rows: np.ndarray | None = None  # buffer positions the model runs on (targets, + neighbours)


class _Prefetched:
    """Answers `embed` from the vectors computed for the whole batch at once."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def embed(self, messages) -> np.ndarray:
        messages = list(messages)
        if not messages:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([self.vectors[m] for m in messages]).astype(np.float32)


def _concat(parts: list[Modalities]) -> Modalities:
    return Modalities(*(np.concatenate([getattr(p, name) for p in parts])
                        for name in ("tokens", "sequence", "sequence_mask", "window_index")))


def run_jobs(ctx: "EnrichContext", jobs: list[ScoreJob]) -> None:
    """Embed, infer (live, and shadow when one runs), assign templates, then let each job's
    stream pass decide and write its verdicts."""
    from enricher.stream_pass import scored_positions

    if not jobs:
        return
    started = time.perf_counter()
    unique = list(dict.fromkeys(e.masked for job in jobs for e in job.buffer))
    known = _Prefetched(dict(zip(unique, ctx.embedder.embed(unique))))
    for job in jobs:
        sp = job.stream_pass
        job.modalities = build_modalities([e.masked for e in job.buffer],
                                          [sp.stream.key] * len(job.buffer), ctx.tokenizer,
                                          known, sp.window, sp.mode)
        job.rows = scored_positions(job.modalities.window_index, job.targets, sp.point_only)
    inputs = _concat([job.modalities.take(job.rows) for job in jobs])
    outputs, version = ctx.predict(inputs)
    # After the live call, never beside it: two models computing at once on the same CPU
    # cores slowed both ~10x (benchmarks/shadow_overhead.py). It overlaps only the template
    # assignment below.
    shadow_call = ctx.shadow.submit(inputs) if ctx.shadow is not None else None
    messages = [job.buffer[i].hit["_source"]["message"] for job in jobs for i in job.targets]
    templates = ctx.templates.assign(messages)
    shadow = ctx.shadow.result(shadow_call) if ctx.shadow is not None else None
    row, template_at = 0, 0
    for job in jobs:
        part = slice(row, row + len(job.rows))
        job_shadow = None if shadow is None else (
            {name: values[part] for name, values in shadow[0].items()}, shadow[1])
        job.stream_pass.finish(job, {name: values[part] for name, values in outputs.items()},
                               version, job_shadow,
                               templates[template_at:template_at + len(job.targets)])
        row += len(job.rows)
        template_at += len(job.targets)
    ctx.metrics.batch_seconds.observe(time.perf_counter() - started)


@dataclass
class Batcher:
    """Collects the jobs of one partition pass; runs them once they hold a batch of rows."""

    ctx: "EnrichContext"
    jobs: list[ScoreJob] = field(default_factory=list)

    def submit(self, job: ScoreJob) -> None:
        self.jobs.append(job)
        if sum(len(j.targets) for j in self.jobs) >= self.ctx.settings.inference_batch_size:
            self.flush()

    def flush(self) -> None:
        check_stop()  # a worker shutting down starts no new batch (enricher/shutdown.py)
        jobs, self.jobs = self.jobs, []
        run_jobs(self.ctx, jobs)
