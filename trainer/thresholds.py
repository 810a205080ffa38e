"""Decision thresholds chosen on the validation split, and the macro F1 they give.

A fixed 0.5 is rarely the best cut for a model trained with class weights on a rare class: one
run had precision 1.00 and recall 0.75 at 0.5. The threshold is chosen where validation F1 of
the anomalous class is highest; when a whole range of cuts ties (a validation split the model
separates), the middle of the widest tied range is taken, which keeps the most margin on both
sides for data it has not seen.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from colog.verdict import Thresholds, event_and_context_scores, predicted_classes

# Cuts tried: fine enough that a 0.01 move in a score never skips a best cut, coarse enough
# that a single validation event cannot pull the cut to one exact score.
GRID = np.round(np.linspace(0.02, 0.98, 49), 4)


def _anomaly_f1(truth: np.ndarray, score: np.ndarray, cut: float) -> float:
    return float(f1_score(truth, score >= cut, zero_division=0))


def choose_threshold(truth: np.ndarray, score: np.ndarray, default: float = 0.5) -> float:
    """The cut on `score` with the best anomaly F1 on (`truth`, `score`), plateau-centred.

    One class only in `truth`: no cut can be judged, so `default`.
    """
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        return default
    f1 = np.array([_anomaly_f1(truth, score, cut) for cut in GRID])
    best = f1.max()
    tied = np.flatnonzero(f1 >= best - 1e-9)
    # The widest run of consecutive tied cuts, and its middle.
    runs = np.split(tied, np.flatnonzero(np.diff(tied) > 1) + 1)
    widest = max(runs, key=len)
    return float(GRID[widest[len(widest) // 2]])


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
