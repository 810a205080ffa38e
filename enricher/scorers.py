"""Where verdicts come from: Triton (the worker) or a model directory in-process (the
benchmark's baseline and tools that run without a server). Both expose the same small interface,
so the stream pass does not care which one answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from colog.features.modalities import Modalities
from colog.verdict import Thresholds


@dataclass(frozen=True)
class FeatureSpec:
    window: int
    sequence_mode: str
    max_tokens: int
    classes: tuple[str, ...]


class Scorer(Protocol):
    spec: FeatureSpec

    def predict(self, modalities: Modalities) -> tuple[dict[str, np.ndarray], str]:
        """Model outputs for the rows, and the model version that produced them."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 [N, 384] sentence embeddings."""

    def thresholds(self, version: str) -> Thresholds:
        """The decision thresholds of the model version that produced a verdict."""


class TritonScorer:
    def __init__(self, client):
        self.client = client
        self.params = client.model_parameters()  # read from the served model's config
        params = self.params
        self.spec = FeatureSpec(params.window, params.sequence_mode, params.max_tokens,
                                tuple(params.classes))

    def thresholds(self, version: str) -> Thresholds:
        if str(version) not in self.params.thresholds:
            # A version published after this worker started: its config names it now.
            self.params = self.client.model_parameters()
        return self.params.thresholds_of(version)

    def predict(self, modalities: Modalities) -> tuple[dict[str, np.ndarray], str]:
        return self.client.infer(modalities.tokens, modalities.sequence,
                                 modalities.sequence_mask)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.client.embed(texts)


class LocalScorer:
    def __init__(self, model_dir: Path):
        from colog.features.embedding import SentenceEmbedder
        from colog.model.bundle import load_model_dir
        from enricher.embedding_cache import NoCache

        self.loaded = load_model_dir(model_dir)
        f = self.loaded.feature_config
        self.spec = FeatureSpec(int(f["window"]), str(f["sequence_mode"]), int(f["max_tokens"]),
                                tuple(self.loaded.classes))
        self.version = f"local:{Path(model_dir).name}"
        # The enrichment context's embedder caches; this one only computes.
        self._embedder = SentenceEmbedder(cache=NoCache())

    def predict(self, modalities: Modalities) -> tuple[dict[str, np.ndarray], str]:
        outputs = self.loaded.predict(modalities.tokens, modalities.sequence,
                                      modalities.sequence_mask)
        return outputs, self.version

    def thresholds(self, version: str) -> Thresholds:
        return self.loaded.thresholds

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder.embed(texts)
