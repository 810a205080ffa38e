"""Class imbalance: Tomek-link under-sampling (imbalanced-learn), on the training split only.

A Tomek link is a pair of nearest neighbours of different classes; removing the majority-class
member cleans the class border. The points compared are the event's own sentence embedding
(the centre row of its window) concatenated with the mean of its window: the same vectors the
model sees, without training anything first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.under_sampling import TomekLinks

from colog.services.train.dataset import Dataset


@dataclass
class BalanceReport:
    before: dict[str, int]
    after: dict[str, int]

    @property
    def removed(self) -> int:
        return sum(self.before.values()) - sum(self.after.values())

    def describe(self) -> str:
        return (f"Tomek links removed {self.removed} of {sum(self.before.values())} training "
                f"events (before {self.before}, after {self.after})")


def tomek_features(dataset: Dataset, centre: int) -> np.ndarray:
    seq = dataset.modalities.sequence
    mask = dataset.modalities.sequence_mask[..., None]
    mean = (seq * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return np.hstack([seq[:, centre, :], mean]).astype(np.float32)


def tomek_undersample(train: Dataset, centre: int) -> tuple[Dataset, BalanceReport]:
    before = train.summary()
    if len(np.unique(train.targets)) < 2:
        return train, BalanceReport(before, before)  # one class: no links to remove
    sampler = TomekLinks(sampling_strategy="auto")
    sampler.fit_resample(tomek_features(train, centre), train.targets)
    kept = np.sort(sampler.sample_indices_)
    balanced = train.take(kept)
    return balanced, BalanceReport(before, balanced.summary())
