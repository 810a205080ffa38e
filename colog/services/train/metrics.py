"""Classification metrics for a model's predictions: per class, macro, AUCs, confusion matrix.

AUCs are `None` (not a made-up number) when the truth holds only one class, because ROC and PR
curves are undefined then.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from colog.core.verdict import Thresholds, predicted_classes


def _binary_auc(truth: np.ndarray, score: np.ndarray) -> tuple[float | None, float | None]:
    if len(np.unique(truth)) < 2:
        return None, None
    return float(roc_auc_score(truth, score)), float(average_precision_score(truth, score))


def classification_report(targets: np.ndarray, probs: np.ndarray, classes: list[str],
                          thresholds: Thresholds = Thresholds()) -> dict:
    """Metrics of the verdicts the enricher would write: classes decided by `thresholds` on the
    event (and context) scores, not by argmax."""
    labels = list(range(len(classes)))
    predicted = predicted_classes(probs, classes, thresholds)
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=labels, zero_division=0)
    report: dict = {
        "classes": classes,
        "thresholds": thresholds.to_dict(),
        "n": int(len(targets)),
        "macro_f1": float(np.mean(f1)),
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "accuracy": float(accuracy_score(targets, predicted)),
        "confusion_matrix": confusion_matrix(targets, predicted, labels=labels).tolist(),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(classes)
        },
    }
    if len(classes) == 2:
        report["roc_auc"], report["pr_auc"] = _binary_auc(targets == 1, probs[:, 1])
    else:
        # One-vs-rest per class, averaged over the classes present in the truth.
        rocs, prs = [], []
        for i in labels:
            roc, pr = _binary_auc(targets == i, probs[:, i])
            if roc is not None:
                rocs.append(roc)
                prs.append(pr)
        report["roc_auc"] = float(np.mean(rocs)) if rocs else None
        report["pr_auc"] = float(np.mean(prs)) if prs else None
        report["point"] = binary_view(targets % 2, probs[:, 1] + probs[:, 3], thresholds.event)
        report["collective"] = binary_view(targets // 2, probs[:, 2] + probs[:, 3],
                                           thresholds.context)
    return report


def binary_view(truth: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict:
    """Point or collective detection of a 4-class model, as a binary task."""
    predicted = (score >= threshold).astype(int)
    _, _, f1, _ = precision_recall_fscore_support(truth, predicted, labels=[0, 1],
                                                  zero_division=0)
    roc, pr = _binary_auc(truth, score)
    return {"macro_f1": float(np.mean(f1)), "anomaly_f1": float(f1[1]), "roc_auc": roc,
            "pr_auc": pr}
