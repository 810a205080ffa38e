"""Where verdicts come from: Triton (the worker) or a model directory in-process (the
benchmark's baseline and tools that run without a server). Both expose the same small interface,
so the stream pass does not care which one answers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np

from colog.core.features.modalities import Modalities
from colog.core.features.spec import FeatureSpec
from colog.core.verdict import Thresholds


class Scorer(Protocol):
    spec: FeatureSpec              # how the served model's inputs are built
    classes: tuple[str, ...]       # its output classes, in order

    def predict(self, modalities: Modalities, version: str | None = None
                ) -> tuple[dict[str, np.ndarray], str]:
        """Model outputs for the rows, and the model version that produced them (`version`
        pins one; None lets the server choose its newest)."""

    def current_version(self) -> str | None:
        """The version a call would be pinned to for verdict reuse (None: not known yet)."""

    def remember_version(self, version: str) -> None:
        """A version just answered unpinned: pin to it until the next check."""

    def forget_version(self) -> None:
        """The pinned version is gone: ask the server again."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 [N, 384] sentence embeddings."""

    def thresholds(self, version: str) -> Thresholds:
        """The decision thresholds of the model version that produced a verdict."""


class TritonScorer:
    def __init__(self, client, version_check_s: float = 10.0):
        self.client = client
        self.version_check_s = float(version_check_s)
        self._version: str | None = None
        self._checked_at = float("-inf")
        self.params = client.model_parameters()  # read from the served model's config
        params = self.params
        self.spec, self.classes = params.features, tuple(params.classes)

    def thresholds(self, version: str) -> Thresholds:
        if str(version) not in self.params.thresholds:
            # A version published after this worker started: its config names it now.
            self.params = self.client.model_parameters()
        return self.params.thresholds_of(version)

    def predict(self, modalities: Modalities, version: str | None = None
                ) -> tuple[dict[str, np.ndarray], str]:
        return self.client.infer(modalities.tokens, modalities.sequence,
                                 modalities.sequence_mask, version=version)

    def current_version(self) -> str | None:
        """The newest version Triton serves, asked at most every `version_check_s`: a
        published version is picked up within that time, as a plain unpinned call would."""
        if time.monotonic() - self._checked_at >= self.version_check_s:
            self._checked_at = time.monotonic()
            versions = self.client.ready_versions()
            self._version = str(max(versions)) if versions else None
        return self._version

    def remember_version(self, version: str) -> None:
        self._version = str(version)

    def forget_version(self) -> None:
        self._version, self._checked_at = None, float("-inf")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.client.embed(texts)


class LocalScorer:
    def __init__(self, model_dir: Path):
        from colog.core.features.embedding import SentenceEmbedder
        from colog.core.model.bundle import load_model_dir
        from colog.services.enrich.embedding_cache import NoCache

        self.loaded = load_model_dir(model_dir)
        self.spec, self.classes = self.loaded.features, tuple(self.loaded.classes)
        # Named by its content too: reused verdicts are keyed by the version, and two model
        # directories may share a folder name.
        from colog.core.model.bundle import content_hash

        digest = self.loaded.version.get("content_hash") or content_hash(Path(model_dir))
        self.version = f"local:{Path(model_dir).name}@{digest[:12]}"
        # The enrichment context's embedder caches; this one only computes.
        self._embedder = SentenceEmbedder(cache=NoCache())

    def predict(self, modalities: Modalities, version: str | None = None
                ) -> tuple[dict[str, np.ndarray], str]:
        outputs = self.loaded.predict(modalities.tokens, modalities.sequence,
                                      modalities.sequence_mask)
        return outputs, self.version

    def current_version(self) -> str:
        return self.version  # one model, loaded once: its version never changes

    def remember_version(self, version: str) -> None:
        return None

    def forget_version(self) -> None:
        return None

    def thresholds(self, version: str) -> Thresholds:
        return self.loaded.thresholds

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder.embed(texts)
