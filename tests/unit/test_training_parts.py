"""Pure parts of training: distinct rows, joining datasets, the baselines."""

import numpy as np
import pytest

from colog.core.features.modalities import Modalities
from colog.services.train.baselines import BASELINES, fit_baseline
from colog.services.train.dataset import Dataset
from colog.services.train.loop import distinct_rows


def dataset(texts: list[tuple[str, str, str]], labels: list[int], seed: int = 0) -> Dataset:
    """Windows of (previous, event, next) masked texts; embeddings that identify each text."""
    vocabulary = sorted({t for row in texts for t in row if t})
    rng = np.random.default_rng(seed)
    vectors = {t: rng.normal(size=384).astype(np.float32) for t in vocabulary}
    n = len(texts)
    sequence = np.stack([[vectors[t] if t else np.zeros(384, np.float32) for t in row]
                         for row in texts])
    mask = np.array([[1.0 if t else 0.0 for t in row] for row in texts], np.float32)
    tokens = np.array([[1 + vocabulary.index(row[1]), 0] for row in texts], np.int64)
    modalities = Modalities(tokens, sequence, mask, np.full((n, 3), -1))
    targets = np.asarray(labels, np.int64)
    return Dataset(modalities, targets, targets == 1, np.zeros(n, bool), np.ones(n, bool),
                   np.arange(n, dtype=np.float64), ["normal", "anomaly"],
                   [row[1] for row in texts], ["s"] * n, list(texts))


def test_distinct_rows_count_copies():
    data = dataset([("a", "b", "c"), ("a", "b", "c"), ("x", "b", "c"), ("a", "b", "c")],
                   [0, 0, 0, 1])
    rows, counts = distinct_rows(data)
    # rows 0 and 1 are one input with one target; row 3 has the same input, another target
    assert rows.tolist() == [0, 2, 3] and counts.tolist() == [2.0, 1.0, 1.0]


def test_concat_keeps_every_row_and_refuses_other_heads():
    a = dataset([("a", "b", "c")], [0])
    b = dataset([("x", "y", "")], [1])
    joined = a.concat(b)
    assert len(joined) == 2 and joined.targets.tolist() == [0, 1]
    assert joined.window_texts == [("a", "b", "c"), ("x", "y", "")]
    b.classes = ["normal", "event", "context", "both"]
    with pytest.raises(ValueError, match="cannot join"):
        a.concat(b)


def contextual(n: int, seed: int) -> Dataset:
    """The trigger is anomalous unless the justifier came just before it."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        before = rng.choice(["justifier", "filler one", "filler two"])
        event = rng.choice(["trigger", "filler three"])
        texts.append((str(before), str(event), "filler four"))
        labels.append(int(event == "trigger" and before != "justifier"))
    return dataset(texts, labels)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_fit_and_score_every_row(name):
    train, valid = contextual(300, 1), contextual(100, 2)
    fitted = fit_baseline(name, train, valid, window=1, mode="context", seed=3)
    probs = fitted.predict_proba(valid)
    assert probs.shape == (100, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = probs[:, 1] >= fitted.thresholds.event
    accuracy = (predicted == (valid.targets == 1)).mean()
    # The window baselines can see the justifier; the event-only ones cannot.
    if name.endswith("window"):
        assert accuracy == 1.0, name
    else:
        assert accuracy < 1.0, name


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="unknown baseline"):
        fit_baseline("gpt", contextual(10, 1), contextual(10, 2), 1, "context")
