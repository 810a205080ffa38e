"""Verdict reuse logic with the real in-process model (LocalScorer) and an in-memory store."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from colog.core.features.modalities import Modalities
from colog.services.enrich.metrics import WorkerMetrics
from colog.services.enrich.verdict_reuse import OUTPUTS, OutputLayout, VerdictReuse, row_key
from colog.services.enrich.verdict_sources import LocalScorer
from tests.fixtures.triton import build_tiny_model


class MemoryStore:
    def __init__(self):
        self.values: dict[str, bytes] = {}

    def get_many(self, keys):
        return [self.values.get(k) for k in keys]

    def set_many(self, items):
        self.values.update(items)


@dataclass
class Harness:
    """What VerdictReuse reads from an enrichment context: the scorer, predict, metrics."""

    scorer: LocalScorer
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    calls: list[int] = field(default_factory=list)

    def predict(self, modalities, version=None):
        self.calls.append(len(modalities))
        return self.scorer.predict(modalities, version=version)


def rows(seed: int = 0, n: int = 40):
    """Rows drawn from 6 distinct messages: many repeat exactly."""
    rng = np.random.default_rng(seed)
    vocab = {f"m{i}": rng.normal(size=384).astype(np.float32) for i in range(6)}
    token_of = {m: np.pad(rng.integers(1, 1000, 5), (0, 11)) for m in vocab}
    names = sorted(vocab)
    windows = [tuple(None if (r == 0 and c == 0) else names[rng.integers(0, 3) if c != 1 else
                                                              rng.integers(0, 6)]
                     for c in range(3)) for r in range(n)]
    tokens = np.stack([token_of[w[1]] for w in windows]).astype(np.int64)

    def build(selected):
        chosen = [windows[r] for r in selected]
        sequence = np.stack([[vocab[m] if m else np.zeros(384, np.float32) for m in w]
                             for w in chosen])
        mask = np.array([[1.0 if m else 0.0 for m in w] for w in chosen], np.float32)
        return Modalities(tokens[selected], sequence, mask, np.full(mask.shape, -1))

    return tokens, windows, build


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    return LocalScorer(build_tiny_model(tmp_path_factory.mktemp("m") / "model", seed=2))


def test_reused_outputs_equal_the_models_own(scorer):
    tokens, windows, build = rows()
    harness = Harness(scorer)
    reuse = VerdictReuse(MemoryStore(), "colog")
    got, version = reuse.outputs(harness, tokens, windows, build)
    expected, _ = scorer.predict(build(list(range(len(windows)))))
    assert version == scorer.version
    for name in OUTPUTS:
        assert np.abs(got[name] - expected[name]).max() <= 1e-5, name
    distinct = len(set(zip(map(bytes, tokens), windows)))
    assert distinct < len(windows) and harness.calls == [distinct]  # one call, distinct rows
    assert reuse.counts.batch == len(windows) - distinct and reuse.counts.model == distinct


def test_second_batch_comes_from_the_cache(scorer):
    tokens, windows, build = rows(seed=1)
    harness, store = Harness(scorer), MemoryStore()
    first, _ = VerdictReuse(store, "colog").outputs(harness, tokens, windows, build)
    again = VerdictReuse(store, "colog")  # another worker, same store
    second, _ = again.outputs(harness, tokens, windows, build)
    assert len(harness.calls) == 1 and again.counts.model == 0 and again.counts.cache > 0
    for name in OUTPUTS:
        assert np.array_equal(first[name], second[name])


def test_keys_differ_by_version_tokens_and_window():
    tokens = np.array([1, 2, 3, 0], np.int64)
    window = (None, "a <NUM>", "b")
    key = row_key("colog", "3", tokens, window)
    assert key != row_key("colog", "4", tokens, window)
    assert key != row_key("colog_shadow", "3", tokens, window)
    assert key != row_key("colog", "3", np.array([1, 2, 4, 0]), window)
    assert key != row_key("colog", "3", tokens, ("x", "a <NUM>", "b"))
    assert key != row_key("colog", "3", tokens, ("a <NUM>", "b", None))
    assert key == row_key("colog", "3", tokens.copy(), tuple(window))


def test_a_damaged_cache_entry_is_recomputed(scorer):
    tokens, windows, build = rows(seed=2, n=10)
    harness, store = Harness(scorer), MemoryStore()
    VerdictReuse(store, "colog").outputs(harness, tokens, windows, build)
    for key in store.values:
        store.values[key] = store.values[key][:-4]  # truncated
    again = VerdictReuse(store, "colog")
    again.outputs(harness, tokens, windows, build)
    assert again.counts.cache == 0 and again.counts.model > 0


def test_layout_round_trip():
    layout = OutputLayout(classes=4, window=3, tokens=5)
    outputs = {"probs": np.arange(8, dtype=np.float32).reshape(2, 4),
               "modality_weights": np.ones((2, 2), np.float32),
               "context_attention": np.full((2, 3), 0.5, np.float32),
               "token_attention": np.zeros((2, 5), np.float32)}
    back = layout.unpack(layout.pack(outputs, 1))
    assert back["probs"].tolist() == [4, 5, 6, 7] and back["context_attention"].tolist() == [.5] * 3
    assert layout.unpack(None) is None and layout.unpack(b"\0" * 8) is None
