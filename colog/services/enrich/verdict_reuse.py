"""Exact verdict reuse: a model input seen before is never run through the model again.

CoLog's outputs for a row are a function of the model version, the row's token ids and the
masked messages of its window (their embeddings are a function of the message; a missing
neighbour is a zero row and mask 0). Logs repeat: on the demo data 79 % of the rows repeat an
input already seen. So rows are keyed by exactly that, deduplicated inside each batch, and
their outputs kept in Redis (raw float32, with a TTL) across batches and workers.

The key carries the model name and the version that answered, so a new version never reads an
old version's outputs. To know the version before asking, the scorer pins each call to the
newest version Triton reported (checked every `verdict_version_check_s`); a pinned version that
was unloaded meanwhile (a rollback, a publish that retired it) makes the batch run once more,
unpinned and without cached rows, and the version is asked for again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from colog.core.features.embedding import message_key

PREFIX = "colog:verdict:"
OUTPUTS = ("probs", "modality_weights", "context_attention", "token_attention")

Window = tuple  # masked messages of a row's window, None where the stream has no event


def row_key(model: str, version: str, tokens: np.ndarray, window: Window) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{model}\0{version}\0".encode())
    digest.update(np.ascontiguousarray(tokens, dtype=np.int64).tobytes())
    for message in window:
        digest.update(b"\0-" if message is None else b"\0" + message_key(message).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class OutputLayout:
    """Widths of the four outputs of one row, packed in this order as float32."""

    classes: int
    window: int
    tokens: int

    @property
    def widths(self) -> tuple[int, int, int, int]:
        return (self.classes, 2, self.window, self.tokens)

    @property
    def nbytes(self) -> int:
        return 4 * sum(self.widths)

    def pack(self, outputs: dict[str, np.ndarray], row: int) -> bytes:
        return np.concatenate([np.asarray(outputs[name][row], np.float32).ravel()
                               for name in OUTPUTS]).tobytes()

    def unpack(self, raw: bytes) -> dict[str, np.ndarray] | None:
        if raw is None or len(raw) != self.nbytes:
            return None  # absent, or written by a model of another shape: recompute
        values = np.frombuffer(raw, dtype=np.float32)
        out, start = {}, 0
        for name, width in zip(OUTPUTS, self.widths):
            out[name] = values[start:start + width]
            start += width
        return out


class RedisVerdictCache:
    def __init__(self, client, ttl_s: int):
        self.client = client
        self.ttl_s = int(ttl_s)

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return list(self.client.mget([PREFIX + k for k in keys])) if keys else []

    def set_many(self, items: dict[str, bytes]) -> None:
        if not items:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, raw in items.items():
            pipe.set(PREFIX + key, raw, ex=self.ttl_s)
        pipe.execute()


class NoVerdictCache:
    """Deduplication inside each batch only (COLOG_VERDICT_CACHE=false)."""

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [None] * len(keys)

    def set_many(self, items: dict[str, bytes]) -> None:
        return None


@dataclass
class ReuseCounts:
    batch: int = 0   # rows answered by an identical row of the same batch
    cache: int = 0   # rows answered from the cache
    model: int = 0   # rows the model ran on

    @property
    def reused_ratio(self) -> float | None:
        total = self.batch + self.cache + self.model
        return (self.batch + self.cache) / total if total else None


class VerdictReuse:
    """Answers rows from identical rows and the cache; runs the model on the rest."""

    def __init__(self, cache, model_name: str):
        self.cache = cache
        self.model_name = model_name
        self.counts = ReuseCounts()

    def outputs(self, ctx, tokens: np.ndarray, windows: list[Window], build
                ) -> tuple[dict[str, np.ndarray], str]:
        """Outputs for every row and the one version that produced them all. `build(rows)`
        makes the model inputs of the given row positions (it embeds their windows)."""
        from colog.core.serving.client import ModelNotReady

        version = ctx.scorer.current_version()
        if version is not None:
            try:
                return self._outputs(ctx, tokens, windows, build, version)
            except ModelNotReady:
                ctx.scorer.forget_version()  # retired meanwhile: ask again next batch
        return self._outputs(ctx, tokens, windows, build, None)

    def _outputs(self, ctx, tokens, windows, build, version):
        layout = OutputLayout(len(ctx.scorer.classes), len(windows[0]) if windows else 0,
                              tokens.shape[1])
        keys = [row_key(self.model_name, version or "", tokens[r], windows[r])
                for r in range(len(windows))]
        first: dict[str, int] = {}
        for row, key in enumerate(keys):
            first.setdefault(key, row)
        unique = list(first)
        found = {}
        if version is not None:
            for key, raw in zip(unique, self.cache.get_many(unique)):
                values = layout.unpack(raw)
                if values is not None:
                    found[key] = values
        missing = [key for key in unique if key not in found]
        answered = version
        if missing:
            computed, answered = ctx.predict(build([first[k] for k in missing]), version=version)
            fresh = {}
            for slot, key in enumerate(missing):
                found[key] = {name: computed[name][slot] for name in OUTPUTS}
                fresh[key] = layout.pack(computed, slot)
            if version is None:
                # Keyed by the version that answered; the next batch pins it.
                fresh = {row_key(self.model_name, answered, tokens[first[k]], windows[first[k]]):
                         raw for k, raw in fresh.items()}
                ctx.scorer.remember_version(answered)
            self.cache.set_many(fresh)
        self._count(ctx, len(keys) - len(unique), len(unique) - len(missing), len(missing))
        merged = {name: np.stack([found[key][name] for key in keys]).astype(np.float32)
                  for name in OUTPUTS}
        return merged, str(answered)

    def _count(self, ctx, batch: int, cache: int, model: int) -> None:
        self.counts.batch += batch
        self.counts.cache += cache
        self.counts.model += model
        for source, n in (("batch", batch), ("cache", cache), ("model", model)):
            if n:
                ctx.metrics.verdict_rows.labels(source=source).inc(n)
