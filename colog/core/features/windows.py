"""Stream windows: which events make up the sequence modality of each event.

Records arrive ordered by time within each stream. For event i at position p of its stream,
`context` takes positions p-W..p+W and `background` p-W..p of the *same* stream; positions
outside the stream are -1 (zero rows in the modality), never another stream's events.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CONTEXT = "context"
BACKGROUND = "background"


def window_length(window: int, mode: str) -> int:
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if mode == CONTEXT:
        return 2 * window + 1
    if mode == BACKGROUND:
        return window + 1
    raise ValueError(f"sequence mode must be {CONTEXT!r} or {BACKGROUND!r}, got {mode!r}")


def centre_column(window: int, mode: str) -> int:
    """Column of the window that holds the event itself."""
    return window  # context: middle (W); background: last (W) as well


def window_indices(stream_keys: Sequence[str], window: int, mode: str) -> np.ndarray:
    """int64 [N, K] of record indices (-1 where the stream has no event)."""
    length = window_length(window, mode)
    offsets = np.arange(-window, length - window)
    result = np.full((len(stream_keys), length), -1, dtype=np.int64)
    members: dict[str, list[int]] = {}
    for index, key in enumerate(stream_keys):
        members.setdefault(key, []).append(index)
    for indices in members.values():
        positions = np.asarray(indices, dtype=np.int64)
        n = len(positions)
        around = np.arange(n)[:, None] + offsets[None, :]
        inside = (around >= 0) & (around < n)
        result[positions] = np.where(inside, positions[np.clip(around, 0, n - 1)], -1)
    return result


def scored_positions(window_index: np.ndarray, targets: list[int], point_only: bool
                     ) -> np.ndarray:
    """Buffer positions to run the model on: the targets, and for a 2-class model also every
    event in their windows (whose point scores make the targets' context scores)."""
    if not point_only:
        return np.asarray(targets, dtype=np.int64)
    around = window_index[targets].ravel()
    return np.union1d(np.asarray(targets, dtype=np.int64), around[around >= 0])


def rows_of(positions: np.ndarray, wanted: list[int]) -> np.ndarray:
    """Where each wanted buffer position sits among the (sorted, unique) scored positions."""
    found = np.searchsorted(positions, wanted)
    if len(wanted) and (found.max() >= len(positions)
                        or not np.array_equal(positions[found], wanted)):
        raise ValueError("a target position was not scored")
    return found
