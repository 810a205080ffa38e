"""Turn log records into a labelled, featurised dataset and split it.

Windows are built over the whole stream before any split: at serving time an event's neighbours
are always available, and a neighbour's features are not its label, so nothing leaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from colog.core.features.embedding import SentenceEmbedder
from colog.core.features.modalities import Modalities, build_modalities
from colog.core.features.semantic import SemanticTokenizer
from colog.core.features.windows import BACKGROUND, CONTEXT, centre_column
from colog.core.labels import class_index, classes_for, derive_context_labels, resolve_labels
from colog.core.parsing.masking import mask_message
from colog.core.records import LogRecord


@dataclass
class Dataset:
    modalities: Modalities
    targets: np.ndarray            # int64 [N]
    event_anomaly: np.ndarray      # bool [N]
    context_anomaly: np.ndarray    # bool [N]
    explicit: np.ndarray           # bool [N]: label came from the record, not a weak rule
    timestamps: np.ndarray         # float64 [N] epoch seconds
    classes: list[str]
    messages: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    # The masked messages of each row's window in stream order ("" where there is no event),
    # the event itself at the centre column: what the text baselines read. Unlike
    # `modalities.window_index`, it stays meaningful after `take` and `concat`.
    window_texts: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, rows: np.ndarray) -> "Dataset":
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda values: [values[i] for i in rows]  # noqa: E731
        return Dataset(self.modalities.take(rows), self.targets[rows], self.event_anomaly[rows],
                       self.context_anomaly[rows], self.explicit[rows], self.timestamps[rows],
                       self.classes, pick(self.messages), pick(self.streams),
                       pick(self.window_texts))

    def concat(self, other: "Dataset") -> "Dataset":
        """Rows of both (for training only: `modalities.window_index` of the result still
        points into each part's own source records)."""
        if other.classes != self.classes:
            raise ValueError(f"cannot join {self.classes} and {other.classes} datasets")
        a, b = self.modalities, other.modalities
        joined = Modalities(*(np.concatenate([x, y]) for x, y in (
            (a.tokens, b.tokens), (a.sequence, b.sequence), (a.sequence_mask, b.sequence_mask),
            (a.window_index, b.window_index))))
        return Dataset(joined, *(np.concatenate([x, y]) for x, y in (
            (self.targets, other.targets), (self.event_anomaly, other.event_anomaly),
            (self.context_anomaly, other.context_anomaly), (self.explicit, other.explicit),
            (self.timestamps, other.timestamps))), self.classes,
            self.messages + other.messages, self.streams + other.streams,
            self.window_texts + other.window_texts)

    def summary(self) -> dict[str, int]:
        counts = np.bincount(self.targets, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts)}


def context_labels(records: Sequence[LogRecord], event_anomaly: np.ndarray,
                   window_index: np.ndarray, window: int, mode: str) -> np.ndarray:
    """Explicit context labels where records carry them, else derived from the window."""
    derived = derive_context_labels(event_anomaly, window_index, centre_column(window, mode))
    explicit = [r.context_label for r in records]
    return np.array([d if e is None else e == "anomaly" for d, e in zip(derived, explicit)])


def build_dataset(records: Sequence[LogRecord], tokenizer: SemanticTokenizer,
                  embedder: SentenceEmbedder, *, num_classes: int, window: int,
                  mode: str) -> Dataset:
    if mode not in (CONTEXT, BACKGROUND):
        raise ValueError(f"sequence mode must be context or background, got {mode!r}")
    masked = [mask_message(r.message) for r in records]
    streams = [r.stream for r in records]
    modalities = build_modalities(masked, streams, tokenizer, embedder, window, mode)
    event, explicit = resolve_labels([r.label for r in records], [r.message for r in records],
                                     [r.level for r in records])
    context = context_labels(records, event, modalities.window_index, window, mode)
    targets = class_index(event, context, num_classes)
    timestamps = np.array([r.timestamp.timestamp() for r in records], dtype=np.float64)
    window_texts = [tuple(masked[j] if j >= 0 else "" for j in row)
                    for row in modalities.window_index]
    return Dataset(modalities, targets, event, context, explicit, timestamps,
                   classes_for(num_classes), [r.message for r in records], streams, window_texts)


def chronological_split(timestamps: np.ndarray, fractions: Sequence[float],
                        groups: Sequence[str] | None = None) -> list[np.ndarray]:
    """Row indices of consecutive time slices (stable for equal times), e.g. 60/20/20.

    With `groups` (stream keys) every group is sliced on its own and the slices are merged, so
    with logs of several sources each split holds the latest part of every source, not only of
    the source whose clock runs latest.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    if groups is not None:
        keys = np.asarray(list(groups))
        if len(keys) != len(timestamps):
            raise ValueError(f"{len(keys)} stream keys for {len(timestamps)} timestamps")
        merged: list[list[np.ndarray]] = [[] for _ in fractions]
        for key in dict.fromkeys(keys.tolist()):
            rows = np.flatnonzero(keys == key)
            for i, part in enumerate(chronological_split(timestamps[rows], fractions)):
                merged[i].append(rows[part])
        return [np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
                for parts in merged]
    order = np.argsort(timestamps, kind="stable")
    bounds = np.round(np.cumsum(fractions) * len(order)).astype(int)
    parts, start = [], 0
    for end in bounds:
        parts.append(np.sort(order[start:end]))
        start = end
    return parts
