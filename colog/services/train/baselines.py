"""The simple models CoLog must beat, fitted on exactly the rows CoLog trains on.

- TF-IDF + logistic regression on the event's masked message, and on the window (one TF-IDF
  block per window position, so "before" and "after" stay apart).
- An MLP on the event's sentence embedding, and on the window's embeddings side by side.

Each gets its decision threshold(s) from the validation split the same way CoLog does
(`colog.services.train.thresholds`), so a difference in figures is a difference in models, not in cut-offs.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse import hstack
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from colog.core.features.windows import centre_column
from colog.core.verdict import Thresholds
from colog.services.train.dataset import Dataset
from colog.services.train.thresholds import choose_thresholds

# Words, and the placeholders masking leaves (<NUM>, <IP>, ...), as terms.
TOKEN_PATTERN = r"<?[A-Za-z_]{2,}>?"


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(token_pattern=TOKEN_PATTERN, sublinear_tf=True, lowercase=True)


class TfidfLogReg:
    def __init__(self, window: bool, centre: int, seed: int):
        self.window, self.centre, self.seed = window, centre, seed
        self.vectorizers: list[TfidfVectorizer] = []
        self.model = LogisticRegression(max_iter=3000, class_weight="balanced",
                                        random_state=seed)

    def _columns(self, data: Dataset) -> list[list[str]]:
        width = len(data.window_texts[0]) if data.window_texts else 1
        picked = range(width) if self.window else [self.centre]
        return [[row[c] for row in data.window_texts] for c in picked]

    def _features(self, data: Dataset, fit: bool):
        columns = self._columns(data)
        if fit:
            self.vectorizers = [_vectorizer() for _ in columns]
        blocks = []
        for vectorizer, texts in zip(self.vectorizers, columns):
            if fit:
                # A column that is empty everywhere (no events that far back) has no terms.
                texts = [t or "<none>" for t in texts]
                blocks.append(vectorizer.fit_transform(texts))
            else:
                blocks.append(vectorizer.transform([t or "<none>" for t in texts]))
        return hstack(blocks).tocsr()

    def fit(self, data: Dataset) -> "TfidfLogReg":
        self.model.fit(self._features(data, fit=True), data.targets)
        return self

    def predict_proba(self, data: Dataset) -> np.ndarray:
        return _full_proba(self.model, self.model.predict_proba(self._features(data, False)),
                           len(data.classes))


class EmbeddingMLP:
    def __init__(self, window: bool, centre: int, seed: int):
        self.window, self.centre = window, centre
        self.model = MLPClassifier(hidden_layer_sizes=(256,), max_iter=200, random_state=seed,
                                   early_stopping=False)

    def _features(self, data: Dataset) -> np.ndarray:
        m = data.modalities
        if not self.window:
            return m.sequence[:, self.centre, :]
        return np.hstack([m.sequence.reshape(len(data), -1), m.sequence_mask])

    def fit(self, data: Dataset) -> "EmbeddingMLP":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(self._features(data), data.targets)
        return self

    def predict_proba(self, data: Dataset) -> np.ndarray:
        return _full_proba(self.model, self.model.predict_proba(self._features(data)),
                           len(data.classes))


def _full_proba(model, probs: np.ndarray, num_classes: int) -> np.ndarray:
    """Columns for every head class, zero for a class absent from the training rows."""
    full = np.zeros((len(probs), num_classes), np.float32)
    full[:, model.classes_] = probs
    return full


BASELINES = {
    "tfidf_lr_event": lambda centre, seed: TfidfLogReg(False, centre, seed),
    "tfidf_lr_window": lambda centre, seed: TfidfLogReg(True, centre, seed),
    "mlp_event": lambda centre, seed: EmbeddingMLP(False, centre, seed),
    "mlp_window": lambda centre, seed: EmbeddingMLP(True, centre, seed),
}


@dataclass
class FittedBaseline:
    name: str
    model: object
    thresholds: Thresholds
    seconds: float

    def predict_proba(self, data: Dataset) -> np.ndarray:
        return self.model.predict_proba(data)


def fit_baseline(name: str, train: Dataset, valid: Dataset, window: int, mode: str,
                 seed: int = 42) -> FittedBaseline:
    """Fit on `train`, choose thresholds on `valid` (as CoLog does)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}")
    started = time.perf_counter()
    model = BASELINES[name](centre_column(window, mode), seed).fit(train)
    thresholds = choose_thresholds(valid.targets, model.predict_proba(valid), valid.classes) \
        if len(valid) else Thresholds()
    return FittedBaseline(name, model, thresholds, time.perf_counter() - started)
