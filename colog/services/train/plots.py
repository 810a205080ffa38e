"""Confusion matrix, ROC and PR curves as PNG files (`colog evaluate --plots DIR`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402


def _curves_per_class(targets: np.ndarray, probs: np.ndarray, classes: list[str]):
    # Binary models: one curve for "anomaly". 4-class: one-vs-rest per class present.
    indices = [1] if len(classes) == 2 else range(len(classes))
    for i in indices:
        truth = targets == i
        if truth.any() and (~truth).any():
            yield classes[i], truth, probs[:, i]


def write_plots(report: dict, targets: np.ndarray, probs: np.ndarray, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = report["classes"]
    written = []

    fig, ax = plt.subplots(figsize=(4 + len(classes) * 0.5, 4 + len(classes) * 0.5))
    matrix = np.asarray(report["confusion_matrix"])
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=30)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (r, c), value in np.ndenumerate(matrix):
        ax.text(c, r, str(value), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_title(f"Confusion matrix (macro F1 {report['macro_f1']:.3f})")
    fig.tight_layout()
    written.append(out_dir / "confusion_matrix.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    for name, curve, xlabel, ylabel in (("roc", roc_curve, "false positive rate", "true positive rate"),
                                         ("pr", precision_recall_curve, "recall", "precision")):
        fig, ax = plt.subplots(figsize=(5, 4))
        for label, truth, score in _curves_per_class(targets, probs, classes):
            a, b, _ = curve(truth, score)
            x, y = (a, b) if name == "roc" else (b, a)
            ax.plot(x, y, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title("ROC curve" if name == "roc" else "Precision-recall curve")
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "undefined: the data holds one class", ha="center")
        fig.tight_layout()
        written.append(out_dir / f"{name}_curve.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    return written
