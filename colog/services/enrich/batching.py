"""The ready events of many streams scored together: one embedding call and one model call
(and one shadow call) per partition batch, instead of one of each per stream.

A stream pass hands each set of ready events to the partition's `Batcher` as a `ScoreJob`
(its buffer as it was, and the targets). The batcher runs its jobs when they hold
`inference_batch_size` rows, or when the partition's streams have all been read; each job's
verdicts are then decided and written by its own stream pass, in the order submitted. A verdict
stays a function of the stream alone: a job carries its stream's buffer, the rows of different
streams never meet inside the model, and the model scores each row independently.

With verdict reuse (the default) rows are keyed before anything is embedded: only the rows that
neither repeat a row of the batch nor are in the verdict cache are embedded and run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from colog.core.features.modalities import Modalities, modalities_of_windows
from colog.core.features.windows import scored_positions, window_indices
from colog.services.enrich.shutdown import check_stop

if TYPE_CHECKING:
    from colog.services.enrich.context import EnrichContext


@dataclass
class ScoreJob:
    stream_pass: object           # colog.services.enrich.stream_pass.StreamPass that submitted it
    buffer: list                  # the pass's events when it submitted (stream order)
    targets: list[int]            # positions in `buffer` to give verdicts
    tokens: np.ndarray | None = None        # int64 [len(buffer), L]
    window_index: np.ndarray | None = None  # int64 [len(buffer), K], -1 = no event
    rows: np.ndarray | None = None  # buffer positions the model runs on (targets, + neighbours)


def _prepare(ctx: "EnrichContext", job: ScoreJob) -> None:
    """Tokens and windows of the job's buffer, and the positions the model must score."""
    sp = job.stream_pass
    job.window_index = window_indices([sp.stream.key] * len(job.buffer), sp.window, sp.mode)
    job.tokens = ctx.tokenizer.encode([e.masked for e in job.buffer])
    job.rows = scored_positions(job.window_index, job.targets, sp.point_only)


def _windows(job: ScoreJob) -> list[tuple]:
    """Each scored row's window as masked messages (None where the stream has no event)."""
    return [tuple(job.buffer[j].masked if j >= 0 else None for j in job.window_index[row])
            for row in job.rows]


def model_inputs(ctx: "EnrichContext", tokens: np.ndarray, windows: list[tuple]) -> Modalities:
    """Both modalities of the rows: one embedding call for the distinct messages of all their
    windows (the embedding cache answers those seen before)."""

    def embed(messages: list[str]) -> np.ndarray:
        with ctx.stages.time("embed"):
            return ctx.embedder.embed(messages)

    return modalities_of_windows(tokens, windows, embed)


def run_jobs(ctx: "EnrichContext", jobs: list[ScoreJob]) -> None:
    """Embed, infer (live, and shadow when one runs), assign templates, then let each job's
    stream pass decide and write its verdicts."""
    if not jobs:
        return
    started = time.perf_counter()
    for job in jobs:
        _prepare(ctx, job)
    tokens = np.concatenate([job.tokens[job.rows] for job in jobs])
    windows = [window for job in jobs for window in _windows(job)]
    shadow_on = ctx.shadow is not None and ctx.shadow.active()
    inputs = model_inputs(ctx, tokens, windows) if shadow_on or ctx.verdicts is None else None
    if ctx.verdicts is None:
        outputs, version = ctx.predict(inputs)
    else:
        outputs, version = ctx.verdicts.outputs(
            ctx, tokens, windows,
            lambda rows: model_inputs(ctx, tokens[rows], [windows[r] for r in rows]))
    # After the live call, never beside it: two models computing at once on the same CPU
    # cores slowed both ~10x (benchmarks/shadow_overhead.py). It overlaps only the template
    # assignment below. The candidate scores every row: it is being evaluated, not reused.
    shadow_call = ctx.shadow.submit(inputs) if shadow_on else None
    messages = [job.buffer[i].hit["_source"]["message"] for job in jobs for i in job.targets]
    with ctx.stages.time("parse"):
        templates = ctx.templates.assign(messages)
    shadow = ctx.shadow.result(shadow_call) if shadow_on else None
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
        check_stop()  # a worker shutting down starts no new batch (colog/services/enrich/shutdown.py)
        jobs, self.jobs = self.jobs, []
        run_jobs(self.ctx, jobs)
