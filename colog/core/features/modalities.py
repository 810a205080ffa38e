"""Both modalities for a batch of events: the one builder that the trainer, in-process scoring,
the worker and the bench use.

Two entry points over one core (`gather_sequence`): `build_modalities` for whole streams of
events (training, evaluation, in-process scoring), `modalities_of_windows` for rows whose windows
are given as messages (the worker's batches, where rows of many streams meet and identical rows
were already dropped). Both embed each distinct message once and place the same vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from colog.core.features.embedding import EMBEDDING_DIM, SentenceEmbedder
from colog.core.features.semantic import SemanticTokenizer
from colog.core.features.windows import window_indices


@dataclass
class Modalities:
    tokens: np.ndarray          # int64 [N, L]
    sequence: np.ndarray        # float32 [N, K, 384]
    sequence_mask: np.ndarray   # float32 [N, K]
    window_index: np.ndarray    # int64 [N, K], -1 = no event

    def __len__(self) -> int:
        return len(self.tokens)

    def take(self, rows: np.ndarray) -> "Modalities":
        return Modalities(self.tokens[rows], self.sequence[rows], self.sequence_mask[rows],
                          self.window_index[rows])


def gather_sequence(event_embeddings: np.ndarray, window_index: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the window from per-event embeddings; zero rows where there is no event."""
    padded = np.vstack([event_embeddings, np.zeros((1, EMBEDDING_DIM), np.float32)])
    sequence = padded[window_index]  # index -1 picks the zero row
    mask = (window_index >= 0).astype(np.float32)
    return sequence.astype(np.float32), mask


def build_modalities(masked_messages: Sequence[str], stream_keys: Sequence[str],
                     tokenizer: SemanticTokenizer, embedder: SentenceEmbedder,
                     window: int, mode: str) -> Modalities:
    """Events must be ordered by time within each stream."""
    index = window_indices(stream_keys, window, mode)
    tokens = tokenizer.encode(list(masked_messages))
    embeddings = embedder.embed(masked_messages)
    sequence, mask = gather_sequence(embeddings, index)
    return Modalities(tokens, sequence, mask, index)


def modalities_of_windows(tokens: np.ndarray, windows: Sequence[Sequence[str | None]],
                          embed: Callable[[list[str]], np.ndarray]) -> Modalities:
    """Rows whose windows are given as masked messages (None where the stream has no event):
    one `embed` call for the distinct messages of all windows, in order of first appearance.
    The rows' `window_index` is -1 throughout: their events are not positions of one batch."""
    unique = list(dict.fromkeys(m for window in windows for m in window if m is not None))
    position = {message: i for i, message in enumerate(unique)}
    k = len(windows[0]) if len(windows) else 0
    index = np.array([[position[m] if m is not None else -1 for m in window]
                      for window in windows], dtype=np.int64).reshape(len(windows), k)
    embeddings = embed(unique) if unique else np.zeros((0, EMBEDDING_DIM), np.float32)
    sequence, mask = gather_sequence(np.asarray(embeddings, np.float32), index)
    return Modalities(tokens, sequence, mask, np.full((len(windows), k), -1, np.int64))
