"""Occlusion: what each word and each neighbour adds to a verdict, measured by deleting it.

An anomalous event's word is scored by how much its event score falls when the event is
featurised again as if the word had not been logged: its token row and its own sentence
embedding both lose the word (the caller embeds the shortened messages). A neighbour is scored
by how much the context score falls when it is left out of the window (as if the stream had no
event there). Only extra rows of the same model, so the served model's inputs and outputs stay
as they are; the rows are built here and scored by the caller in one batch. Attention weights,
and deleting the word from the token row alone, were measured and failed the deletion test
(benchmarks/RESULTS.md, "Explanations"), which is why this exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colog.core.explain.words import MessageWords


@dataclass
class OcclusionRows:
    """Rows to score for one anomalous event: one per word unit, one per real neighbour."""

    tokens: np.ndarray          # int64 [n, L]
    sequence: np.ndarray        # float32 [n, K, D]
    sequence_mask: np.ndarray   # float32 [n, K]
    word_units: list[int]       # word index of each of the first len(word_units) rows
    columns: list[int]          # window column of each following row

    def __len__(self) -> int:
        return len(self.tokens)


def deletions(words: MessageWords | None, max_tokens: int, explain_words: bool) -> list[int]:
    """The words to delete one at a time: those the model reads at least one piece of."""
    return words.units(max_tokens) if (explain_words and words is not None) else []


def occlusion_rows(words: MessageWords | None, token_row: np.ndarray, sequence: np.ndarray,
                   mask: np.ndarray, centre: int, explain_words: bool,
                   explain_neighbours: bool, deleted_tokens: np.ndarray | None = None,
                   deleted_embeddings: np.ndarray | None = None) -> OcclusionRows:
    """The event's rows with one word deleted each, then with one neighbour left out each.

    `deleted_tokens` / `deleted_embeddings` [units, ...]: the token rows and sentence
    embeddings of the message without each word of `deletions(...)`, in that order. Without
    them a word is only taken out of the token row (the cheaper variant the benchmark
    measures)."""
    max_tokens = len(token_row)
    units = deletions(words, max_tokens, explain_words)
    columns = [c for c in range(len(mask)) if c != centre and mask[c] > 0.5] \
        if explain_neighbours else []
    n = len(units) + len(columns)
    tokens = np.repeat(np.asarray(token_row, np.int64)[None], n, axis=0)
    seq = np.repeat(np.asarray(sequence, np.float32)[None], n, axis=0)
    seq_mask = np.repeat(np.asarray(mask, np.float32)[None], n, axis=0)
    for r, word in enumerate(units):
        tokens[r] = words.row_without({word}, max_tokens) if deleted_tokens is None \
            else deleted_tokens[r]
        if deleted_embeddings is not None and mask[centre] > 0.5:
            seq[r, centre] = deleted_embeddings[r]
    for r, column in enumerate(columns, start=len(units)):
        seq[r, column] = 0.0
        seq_mask[r, column] = 0.0
    return OcclusionRows(tokens, seq, seq_mask, units, columns)


def ranked(items: list[int], drops: np.ndarray, k: int, floor: float = 5e-3
           ) -> list[tuple[int, float]]:
    """The k items whose deletion lowers the score most, strongest first; an item whose
    deletion lowers it by less than `floor` (shown as 0.00) explains nothing and is left out:
    where the evidence is redundant (two words each enough on their own) no single item is
    named, rather than one that changes nothing."""
    order = np.argsort(-np.asarray(drops, np.float64), kind="stable")
    return [(items[i], round(float(drops[i]), 6)) for i in order[:k] if drops[i] >= floor]
