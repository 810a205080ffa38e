"""One stream, one pass: read its pending events in order, score those whose window is complete,
write the verdicts back.

The window of event i is its own stream's valid events i-W..i+W (context) or i-W..i
(background), taken from the documents themselves, enriched or not, so a re-run or a second
worker sees exactly the same neighbours: the verdict is a function of the stream, not of batch
boundaries. In `context` mode an event waits until W later events exist, or until its stream
has been quiet for `context_timeout_s` (or `flush`, as `colog enrich` does at the end): then the
missing neighbours are zero rows, as at the end of a training stream.

A 2-class model has no context head: an event's context score is the highest point score of
its window's other events, and each of those needs its own window. Such a pass therefore reaches
2W events around a target instead of W, and scores the neighbours beside the targets (their
point scores are not written again), so the context score is the one an offline pass over the
whole stream gives, whichever batch or pass each neighbour fell in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from colog.core.clock import now_iso
from colog.core.features.windows import CONTEXT, centre_column, rows_of
from colog.core.fields import STATUS_ENRICHED, STATUS_PENDING, get_path
from colog.core.parsing.masking import mask_message
from colog.core.records import parse_timestamp
from colog.core.verdict import event_and_context_scores, label_fields, neighbour_max, verdicts
from colog.services.enrich.batching import ScoreJob, run_jobs
from colog.services.enrich.context import EnrichContext
from colog.core.engine.reader import first_pending, iter_stream, point_in_time, preceding
from colog.core.engine.streams import StreamRef
from colog.services.enrich.validation import check_document
from colog.services.enrich.writer import Update, WriteReport, write_updates

# How far back to look for W valid neighbours when some preceding documents are unusable.
LOOKBACK_FACTOR = 4


@dataclass
class Event:
    hit: dict
    masked: str
    to_score: bool


@dataclass
class StreamReport:
    stream: str
    scored: int = 0
    waiting: int = 0          # pending events whose window is not complete yet
    rejected: int = 0
    write: WriteReport = field(default_factory=WriteReport)
    model_versions: set = field(default_factory=set)
    batches: int = 0


def _is_pending(hit: dict) -> bool:
    status = get_path(hit.get("_source", {}), "colog.status")
    return status is None or status == STATUS_PENDING


def _event(hit: dict, to_score: bool) -> Event:
    return Event(hit, mask_message(hit["_source"]["message"]), to_score)


def shadow_fields(labels: dict, version: str) -> dict:
    """The candidate's verdict under `colog.shadow` (docs/design.md §5), never read by rules."""
    return {**labels, "model": {"version": version}}



def _ingested_at(hit: dict) -> float | None:
    """When the document arrived (`event.ingested`), as epoch seconds; None when unknown."""
    value = get_path(hit.get("_source", {}), "event.ingested")
    try:
        return parse_timestamp(value).timestamp() if value is not None else None
    except (ValueError, TypeError):
        return None


def _last_seen(hit: dict) -> float:
    """When the stream last moved: the ingest time of its newest event, else its timestamp."""
    source = hit.get("_source", {})
    for name in ("event.ingested", "@timestamp"):
        value = get_path(source, name)
        if value is not None:
            try:
                return parse_timestamp(value).timestamp()
            except ValueError:
                continue
    return 0.0


class StreamPass:
    def __init__(self, ctx: EnrichContext, stream: StreamRef, flush: bool, now: float | None = None,
                 keep_alive: Callable[[], None] = lambda: None, batcher=None,
                 pit: str | None = None):
        self.ctx = ctx
        self.batcher = batcher  # colog.services.enrich.batching.Batcher of the partition, or None
        self.pit = pit  # the partition's point in time, or None: the pass opens its own
        self.keep_alive = keep_alive  # renews the partition lease; may raise to stop the pass
        self.stream = stream
        self.flush = flush
        self.now = time.time() if now is None else now
        spec = ctx.scorer.spec
        self.window = spec.window
        self.mode = spec.sequence_mode
        self.point_only = len(ctx.scorer.classes) == 2
        # Events each side a target needs in the buffer: its window, and for a 2-class model
        # its neighbours' windows too.
        self.past_reach = self.window * (2 if self.point_only else 1)
        self.future_reach = self.past_reach if self.mode == CONTEXT else 0
        self.report = StreamReport(stream.key)

    # -- reading ----------------------------------------------------------------------------

    def run(self) -> StreamReport:
        if self.pit is not None:
            return self._run(self.pit)
        with point_in_time(self.ctx.client, self.ctx.settings.index_pattern) as pit:
            return self._run(pit)

    def _run(self, pit: str) -> StreamReport:
        ctx = self.ctx
        with ctx.stages.time("read"):
            first = first_pending(ctx.client, pit, self.stream)
            if first is None:
                return self.report
            before = preceding(ctx.client, pit, self.stream, first,
                               self.past_reach * LOOKBACK_FACTOR + 2)
        valid_before = [h for h in before if self._rejection(h) is None]
        buffer = ([_event(h, False) for h in valid_before[-self.past_reach:]]
                  if self.past_reach else [])
        start_after = before[-1]["sort"] if before else None
        last_hit = first
        rejected: list[Update] = []
        for hit in ctx.stages.iterate("read", iter_stream(ctx.client, pit, self.stream,
                                                          start_after,
                                                          ctx.settings.read_batch_size)):
            last_hit = hit
            self.keep_alive()
            rejection = self._rejection(hit)
            if rejection is not None:
                if _is_pending(hit):
                    rejected.append(self._update(hit, {"status": rejection.status,
                                                       "error": rejection.reason}))
                continue
            with ctx.stages.time("parse"):
                buffer.append(_event(hit, _is_pending(hit)))
            if len(rejected) >= ctx.settings.write_batch_size:
                self._write(rejected, rejected_batch=True)
                rejected = []
            if self._ready_count(buffer, tail=False) >= ctx.settings.inference_batch_size:
                buffer = self._score(buffer, tail=False)
        self._write(rejected, rejected_batch=True)
        quiet = self.now - _last_seen(last_hit) >= ctx.settings.context_timeout_s
        buffer = self._score(buffer, tail=self.flush or quiet)
        self.report.waiting = sum(1 for e in buffer if e.to_score)
        return self.report

    def _rejection(self, hit: dict):
        return check_document(hit.get("_source", {}), self.ctx.settings.max_message_bytes)

    # -- scoring ----------------------------------------------------------------------------

    def _scorable_end(self, buffer: list[Event], tail: bool) -> int:
        """Events before this position have everything their verdict reads in the buffer."""
        if tail:
            return len(buffer)
        return max(0, len(buffer) - self.future_reach)

    def _ready_count(self, buffer: list[Event], tail: bool) -> int:
        end = self._scorable_end(buffer, tail)
        return sum(1 for e in buffer[:end] if e.to_score)

    def _score(self, buffer: list[Event], tail: bool) -> list[Event]:
        """Score every ready event; return the buffer trimmed to what later events still need."""
        end = self._scorable_end(buffer, tail)
        targets = [i for i in range(end) if buffer[i].to_score]
        if targets:
            self._score_rows(buffer, targets)
            for i in targets:
                buffer[i].to_score = False
        pending = [i for i, e in enumerate(buffer) if e.to_score]
        keep_from = (pending[0] if pending else len(buffer)) - self.past_reach
        return buffer[max(0, keep_from):]

    def _score_rows(self, buffer: list[Event], targets: list[int]) -> None:
        """Hand the targets to the partition's batcher: it embeds and infers the rows of many
        streams in one call each, then calls `finish` (at once without a batcher)."""
        job = ScoreJob(self, list(buffer), list(targets))
        if self.batcher is not None:
            self.batcher.submit(job)
        else:
            run_jobs(self.ctx, [job])

    def finish(self, job: "ScoreJob", outputs: dict, version: str, shadow, templates) -> None:
        """Decide the job's verdicts from the model outputs of its rows and write them."""
        ctx, buffer, targets, rows = self.ctx, job.buffer, job.targets, job.rows
        classes = list(ctx.scorer.classes)
        centre = centre_column(self.window, self.mode)
        token_strings = [ctx.tokenizer.tokens_of(job.tokens[i]) for i in targets]
        target_rows = rows_of(rows, targets)

        def context_scores_of(probs):
            """A 2-class model's context scores: its neighbours' point scores."""
            if not self.point_only:
                return None
            point = np.full(len(buffer), np.nan)
            point[rows] = event_and_context_scores(probs, classes)[0]
            return neighbour_max(point, job.window_index[targets], centre)

        chosen = {name: values[target_rows] for name, values in outputs.items()}
        results = verdicts(chosen, classes, token_strings,
                           thresholds=ctx.thresholds_for(version),
                           context_scores=context_scores_of(outputs["probs"]))
        shadow_results = None
        if shadow is not None:
            shadow_outputs, shadow_version = shadow
            shadow_results = label_fields(
                shadow_outputs["probs"][target_rows], classes,
                ctx.shadow_thresholds_for(shadow_version),
                context_scores_of(shadow_outputs["probs"]))
        enriched_at = now_iso()
        updates = []
        for n, (i, verdict, (template_id, template_text)) in enumerate(
                zip(targets, results, templates)):
            fields = verdict.as_fields()
            fields.update({"status": STATUS_ENRICHED, "stream": self.stream.key,
                           "template": {"id": template_id, "text": template_text},
                           "model": {"version": version}, "enriched_at": enriched_at,
                           "error": None})
            if shadow_results is not None:
                fields["shadow"] = shadow_fields(shadow_results[n], shadow_version)
            updates.append(self._update(buffer[i].hit, fields))
        self.report.scored += len(updates)
        self.report.batches += 1
        self.report.model_versions.add(version)
        self._write(updates)
        written = time.time()
        for i in targets:
            ingested = _ingested_at(buffer[i].hit)
            if ingested is not None:
                ctx.metrics.verdict_latency.observe(max(0.0, written - ingested))

    # -- writing ----------------------------------------------------------------------------

    def _update(self, hit: dict, colog: dict) -> Update:
        colog.setdefault("stream", self.stream.key)
        colog.setdefault("enriched_at", now_iso())
        return Update(hit["_index"], hit["_id"], int(hit["_seq_no"]), int(hit["_primary_term"]),
                      colog, hit.get("_source"))

    def _write(self, updates: list[Update], rejected_batch: bool = False) -> None:
        if not updates:
            return
        with self.ctx.stages.time("write"):
            result = write_updates(self.ctx.client, updates)
        self.report.write.merge(result)
        if rejected_batch:
            self.report.rejected += len(updates)
        self.ctx.metrics.record_write(result)
        self.ctx.after_write(self.stream, updates, result)
        self.keep_alive()
