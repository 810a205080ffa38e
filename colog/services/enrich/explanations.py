"""Explanations of a job's anomalous verdicts, by occlusion, in one extra model call per job.

Only verdicts that are anomalies are explained (cost scales with anomalies, not documents).
Identical model inputs of a job (the same masked message and window) are explained once. The
extra rows go to the same model version that gave the verdicts; if that version was retired
meanwhile the explanations are left out (null), never taken from another version.

What each part means: colog/core/explain/ (words, occlusion, summary) and docs/explanations.md.
"""

from __future__ import annotations

import logging

import numpy as np

from colog.core.explain.occlusion import OcclusionRows, deletions, occlusion_rows, ranked
from colog.core.explain.summary import NeighbourRef, absent, explanation_fields
from colog.core.explain.words import message_words
from colog.core.features.modalities import Modalities
from colog.core.features.spec import EMBEDDING_DIM
from colog.core.fields import get_path
from colog.core.labels import ANOMALY
from colog.core.parsing.masking import mask_message
from colog.core.verdict import event_and_context_scores

log = logging.getLogger(__name__)

TOP_WORDS = 3


def _window_of(job, i: int) -> tuple:
    return tuple(job.buffer[j].masked if j >= 0 else None for j in job.window_index[i])


def _inputs(ctx, windows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Window embeddings and masks of the rows (the embedding cache answers most)."""
    unique = list(dict.fromkeys(m for w in windows for m in w if m is not None))
    vectors = dict(zip(unique, ctx.embedder.embed(unique))) if unique else {}
    k = len(windows[0])
    sequence = np.zeros((len(windows), k, EMBEDDING_DIM), np.float32)
    mask = np.zeros((len(windows), k), np.float32)
    for row, window in enumerate(windows):
        for column, message in enumerate(window):
            if message is not None:
                sequence[row, column] = vectors[message]
                mask[row, column] = 1.0
    return sequence, mask


def _template_of(ctx, job, j: int, target_templates: dict[int, str]) -> str | None:
    """The neighbour's template: assigned in this job, else the one it fits in this worker's
    Drain state, else the one it was enriched with; None when none is known."""
    if j in target_templates:
        return target_templates[j]
    source = job.buffer[j].hit.get("_source", {})
    message = source.get("message")
    known = ctx.templates.known_template(message) if isinstance(message, str) else None
    return known or get_path(source, "colog.template.text")


def _neighbour(ctx, job, i: int, column: int, centre: int, weight: float,
               target_templates: dict[int, str]) -> NeighbourRef | None:
    j = int(job.window_index[i][column])
    if j < 0:
        return None
    hit = job.buffer[j].hit
    source = hit.get("_source", {})
    return NeighbourRef(id=str(hit["_id"]), index=str(hit["_index"]),
                        timestamp=source.get("@timestamp"), offset=column - centre,
                        message=str(source.get("message", "")),
                        template=_template_of(ctx, job, j, target_templates), weight=weight)


def explain_job(ctx, job, targets: list[int], results: list, chosen: dict, version: str,
                templates: list[tuple[str, str]], point: np.ndarray | None = None
                ) -> list[dict]:
    """Per target, the explanation fields (`absent()` for normal verdicts and for anything
    that cannot be explained). `chosen` are the targets' model outputs; `point` the point
    scores of the buffer (a 2-class model: its context score is a neighbour's point score)."""
    out = [absent() for _ in targets]
    todo = [n for n, verdict in enumerate(results) if verdict.anomaly_type != "none"]
    if not todo or not ctx.settings.explanations:
        return out
    from colog.core.serving.client import ModelNotReady

    classes = list(ctx.scorer.classes)
    point_only = len(classes) == 2
    centre = ctx.scorer.spec.centre
    target_templates = {i: text for i, (_, text) in zip(targets, templates)}
    with ctx.stages.time("explain"):
        event, context = event_and_context_scores(chosen["probs"], classes)
        if context is None:  # 2-class: the context score the verdict used (neighbour_max)
            context = np.asarray([verdict.context_score for verdict in results])
        plans: dict[tuple, list[int]] = {}  # model input -> targets (n) that share it
        words_of = {}
        for n in todo:
            i = targets[n]
            words_of[n] = message_words(job.buffer[i].hit["_source"].get("message"),
                                        ctx.tokenizer)
            # The same model input and the same words (their values may differ): one plan.
            shape = -1 if words_of[n] is None else len(words_of[n].words)
            plans.setdefault((job.buffer[i].masked, _window_of(job, i), shape), []).append(n)
        keys = list(plans)
        sequence, mask = _inputs(ctx, [key[1] for key in keys])
        max_tokens = job.tokens.shape[1]
        units = {key: deletions(words_of[plans[key][0]], max_tokens,
                                results[plans[key][0]].label == ANOMALY) for key in keys}
        # Each message again without one word: its token row and its sentence embedding.
        shortened = [mask_message(words_of[plans[key][0]].without(w))
                     for key in keys for w in units[key]]
        deleted_tokens = ctx.tokenizer.encode(shortened) if shortened else None
        deleted_vectors = ctx.embedder.embed(shortened) if shortened else None
        built: list[OcclusionRows] = []
        at = 0
        for row, key in enumerate(keys):
            n = plans[key][0]
            verdict = results[n]
            part = slice(at, at + len(units[key]))
            at += len(units[key])
            built.append(occlusion_rows(
                words_of[n], job.tokens[targets[n]], sequence[row], mask[row], centre,
                explain_words=verdict.label == ANOMALY,
                explain_neighbours=verdict.context_label == ANOMALY and not point_only,
                deleted_tokens=None if deleted_tokens is None else deleted_tokens[part],
                deleted_embeddings=None if deleted_vectors is None else deleted_vectors[part]))
        total = sum(len(rows) for rows in built)
        scores = None
        if total:
            stacked = Modalities(np.concatenate([r.tokens for r in built]),
                                 np.concatenate([r.sequence for r in built]),
                                 np.concatenate([r.sequence_mask for r in built]),
                                 np.full((total, mask.shape[1]), -1, np.int64))
            try:
                outputs, _ = ctx.scorer.predict(stacked, version=version)
            except ModelNotReady:
                log.warning("model version %s retired before its verdicts were explained: "
                            "explanations left out", version)
                return out
            scores = event_and_context_scores(outputs["probs"], classes)
        start = 0
        for key, rows in zip(keys, built):
            part = slice(start, start + len(rows))
            start += len(rows)
            for n in plans[key]:
                out[n] = _explain_one(ctx, job, targets[n], n, rows, scores, part, event,
                                      context, words_of[n], point, point_only, centre,
                                      target_templates)
    return out


def _explain_one(ctx, job, i, n, rows: OcclusionRows, scores, part, event, context, words,
                 point, point_only, centre, target_templates) -> dict:
    top_words: list[tuple[str, float]] = []
    if rows.word_units and scores is not None:
        drops = event[n] - scores[0][part][:len(rows.word_units)]
        top_words = [(words.words[w].text, weight)
                     for w, weight in ranked(rows.word_units, drops, TOP_WORDS)]
    neighbour = None
    if rows.columns and scores is not None and scores[1] is not None:
        drops = context[n] - scores[1][part][len(rows.word_units):]
        best = ranked(rows.columns, drops, 1)
        if best:
            neighbour = _neighbour(ctx, job, i, best[0][0], centre, best[0][1],
                                   target_templates)
    elif point_only and point is not None:
        neighbour = _strongest_neighbour(ctx, job, i, point, centre, float(context[n]),
                                         target_templates)
    return explanation_fields(top_words, neighbour)


def _strongest_neighbour(ctx, job, i, point, centre, context_score, target_templates):
    """A 2-class model's context score is its window's highest neighbour point score: that
    neighbour drove it; its weight is how far the context score falls without it."""
    columns = [c for c, j in enumerate(job.window_index[i]) if c != centre and j >= 0]
    if not columns:
        return None
    values = np.asarray([point[job.window_index[i][c]] for c in columns], np.float64)
    if np.isnan(values).any():
        return None
    best = int(np.argmax(values))
    rest = np.delete(values, best)
    weight = round(context_score - (float(rest.max()) if len(rest) else 0.0), 6)
    if weight < 5e-3:
        return None  # two neighbours tie: neither alone made the context anomalous
    return _neighbour(ctx, job, i, columns[best], centre, weight, target_templates)
