"""Template memory: the event labels people gave each exact (masked) message in training.

Only explicit labels (analyst feedback, a labelled corpus) are remembered, never weak ones.
When every such training event with the same word pieces carried the same label, the model's
event probability for that message is replaced by that label; a message whose label varied
(it depended on its neighbours) or that was never seen is left to the network. This is what an
analyst expects from labelling ("these are normal" holds for the next identical line), and it
keeps a template seen once in training from being outvoted by a prior learned elsewhere: on a
time-ordered Zookeeper split, a template seen once in training made 85 of 400 test rows.

The key is the row of token ids the network itself receives, so the memory needs no input the
served model does not already get. Stored as `memory.json` in the model directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MEMORY_FILE = "memory.json"
FORMAT = "blake2b-128 of the non-padding int64 token ids"


def token_key(row: np.ndarray) -> str:
    ids = np.asarray(row, dtype=np.int64)
    return hashlib.blake2b(ids[ids != 0].tobytes(), digest_size=16).hexdigest()


@dataclass
class TemplateMemory:
    # key -> [normal count, anomalous count]
    counts: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, tokens: np.ndarray, event_anomaly: np.ndarray) -> "TemplateMemory":
        counts: dict[str, list[int]] = {}
        for row, anomalous in zip(tokens, event_anomaly):
            counts.setdefault(token_key(row), [0, 0])[int(bool(anomalous))] += 1
        return cls(counts)

    def __len__(self) -> int:
        return len(self.counts)

    def known_labels(self, tokens: Iterable[np.ndarray]) -> np.ndarray:
        """Per row: 1 (always anomalous), 0 (always normal) or -1 (mixed or never seen)."""
        out = []
        for row in tokens:
            normal, anomalous = self.counts.get(token_key(row), (0, 0))
            out.append(-1 if (normal > 0) == (anomalous > 0) else int(anomalous > 0))
        return np.asarray(out, dtype=np.int64)

    def apply(self, probs: np.ndarray, tokens: np.ndarray, classes: list[str]) -> np.ndarray:
        """Probabilities with the event part of every known message set to its label; for the
        4-class head the context part the network gave is kept."""
        known = self.known_labels(tokens)
        if not (known >= 0).any():
            return probs
        probs = probs.copy()
        rows = np.flatnonzero(known >= 0)
        anomalous = known[rows] == 1
        if len(classes) == 2:
            probs[rows, 1] = anomalous
            probs[rows, 0] = ~anomalous
            return probs
        context = probs[rows][:, [classes.index("context"), classes.index("both")]].sum(axis=1)
        event_only, both = classes.index("event"), classes.index("both")
        normal, context_only = classes.index("normal"), classes.index("context")
        probs[rows] = 0.0
        probs[rows, event_only] = np.where(anomalous, 1.0 - context, 0.0)
        probs[rows, both] = np.where(anomalous, context, 0.0)
        probs[rows, normal] = np.where(anomalous, 0.0, 1.0 - context)
        probs[rows, context_only] = np.where(anomalous, 0.0, context)
        return probs

    def to_dict(self) -> dict:
        return {"format": FORMAT, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: object) -> "TemplateMemory":
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or not isinstance(data.get("counts"), dict):
            raise ValueError(f"not a template memory (expected format {FORMAT!r})")
        counts = {}
        for key, value in data["counts"].items():
            if not (isinstance(value, list) and len(value) == 2
                    and all(isinstance(v, int) and v >= 0 for v in value)):
                raise ValueError(f"bad counts for {key!r}: {value!r}")
            counts[key] = value
        return cls(counts)

    def save(self, directory: Path) -> Path:
        path = Path(directory) / MEMORY_FILE
        path.write_text(json.dumps(self.to_dict(), sort_keys=True) + "\n", encoding="utf-8")
        return path
