"""Decision thresholds chosen on the validation split, and the macro F1 they give.

A fixed 0.5 is not always the best cut for a model trained with class weights on a rare class:
one run had precision 1.00 and recall 0.75 at 0.5. But the best cut of a small validation split
is itself noisy (one event moves it), and on a split whose class priors differ from training the
best cut sat at 0.98, on a cliff. So the cut is the one nearest 0.5 among those whose validation
F1 of the anomalous class is within `TOLERANCE` of the best: it moves away from 0.5 only for a
real gain.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from colog.core.verdict import Thresholds, event_and_context_scores, predicted_classes

# Cuts tried: fine enough that a 0.01 move in a score never skips a best cut, coarse enough
# that a single validation event cannot pull the cut to one exact score.
GRID = np.round(np.linspace(0.02, 0.98, 49), 4)
TOLERANCE = 0.01


def _anomaly_f1(truth: np.ndarray, score: np.ndarray, cut: float) -> float:
    return float(f1_score(truth, score >= cut, zero_division=0))


def choose_threshold(truth: np.ndarray, score: np.ndarray, default: float = 0.5) -> float:
    """The cut nearest `default` among those within TOLERANCE of the best anomaly F1.

    One class only in `truth`: no cut can be judged, so `default`.
    """
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        return default
    f1 = np.array([_anomaly_f1(truth, score, cut) for cut in GRID])
    near_best = GRID[f1 >= f1.max() - TOLERANCE]
    return float(near_best[np.argmin(np.abs(near_best - default))])


def choose_thresholds(targets: np.ndarray, probs: np.ndarray, classes: list[str]) -> Thresholds:
    """Event (and, for the 4-class head, context) thresholds from validation predictions."""
    event, context = event_and_context_scores(probs, classes)
    event_truth = targets % 2 == 1 if len(classes) == 4 else targets == 1
    chosen_event = choose_threshold(event_truth, event)
    if context is None:
        return Thresholds(chosen_event, chosen_event)
    return Thresholds(chosen_event, choose_threshold(targets // 2 == 1, context))


def macro_f1_at(targets: np.ndarray, probs: np.ndarray, classes: list[str],
                thresholds: Thresholds) -> float:
    predicted = predicted_classes(probs, classes, thresholds)
    return float(f1_score(targets, predicted, labels=list(range(len(classes))),
                          average="macro", zero_division=0))
