"""Template memory: exact messages people always labelled the same keep that label."""

import numpy as np
import pytest

from colog.core.model.memory import TemplateMemory, token_key

TWO = ["normal", "anomaly"]
FOUR = ["normal", "event", "context", "both"]


def rows(*ids):
    out = np.zeros((len(ids), 6), dtype=np.int64)
    for i, row in enumerate(ids):
        out[i, :len(row)] = row
    return out


def test_known_labels_unanimous_only():
    tokens = rows([5, 6], [5, 6], [7], [7], [8, 9, 1])
    memory = TemplateMemory.build(tokens, np.array([True, True, False, True, False]))
    # [5, 6] always anomalous, [7] both ways (it depended on its neighbours), [8, 9, 1] normal
    assert memory.known_labels(rows([5, 6], [7], [8, 9, 1], [4])).tolist() == [1, -1, 0, -1]
    assert token_key(rows([5, 6])[0]) == token_key(np.array([5, 6, 0, 0, 0, 0, 0]))


def test_two_class_probabilities_follow_the_memory():
    memory = TemplateMemory.build(rows([5, 6], [8]), np.array([True, False]))
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)
    out = memory.apply(probs, rows([5, 6], [8], [3]), TWO)
    np.testing.assert_allclose(out, [[0.0, 1.0], [1.0, 0.0], [0.6, 0.4]])
    np.testing.assert_allclose(probs[0], [0.9, 0.1])  # the input is not modified


def test_four_class_keeps_the_networks_context():
    memory = TemplateMemory.build(rows([5], [8]), np.array([True, False]))
    probs = np.array([[0.5, 0.1, 0.3, 0.1], [0.1, 0.5, 0.1, 0.3]], np.float32)  # context 0.4
    out = memory.apply(probs, rows([5], [8]), FOUR)
    np.testing.assert_allclose(out, [[0.0, 0.6, 0.0, 0.4], [0.6, 0.0, 0.4, 0.0]], atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


def test_round_trip_and_bad_files(tmp_path):
    memory = TemplateMemory.build(rows([5, 6], [7]), np.array([True, False]))
    path = memory.save(tmp_path)
    import json

    again = TemplateMemory.from_dict(json.loads(path.read_text()))
    assert again.counts == memory.counts and len(again) == 2
    for bad in ([], {"format": "other", "counts": {}}, {"format": again.to_dict()["format"],
                                                        "counts": {"k": [1, -1]}}):
        with pytest.raises(ValueError):
            TemplateMemory.from_dict(bad)


def test_a_model_directory_with_a_corrupt_memory_says_so(tmp_path):
    from colog.core.model.bundle import ModelDirError, load_model_dir
    from tests.unit.test_model import saved

    out, _, _ = saved(tmp_path)
    (out / "memory.json").write_text('{"format": "nope"}', encoding="utf-8")
    with pytest.raises(ModelDirError, match="memory.json is invalid"):
        load_model_dir(out, verify=False)


def test_a_saved_memory_decides_served_predictions(tmp_path):
    import torch

    from colog.core.model.bundle import load_model_dir, save_model_dir
    from colog.core.model.network import CoLog
    from tests.unit.test_model import inputs, small_config

    config = small_config()
    tokens, sequence, mask = inputs(config)
    memory = TemplateMemory.build(tokens[:1].numpy(), np.array([True]))
    out = save_model_dir(tmp_path / "m", CoLog(config).eval(), config, classes=TWO,
                         feature_config={"window": 1, "sequence_mode": "context",
                                         "max_tokens": 12}, metrics={}, memory=memory)
    loaded = load_model_dir(out)
    got = loaded.predict(tokens.numpy(), sequence.numpy(), mask.numpy())["probs"]
    np.testing.assert_allclose(got[0], [0.0, 1.0])
    with torch.no_grad():
        raw = torch.softmax(loaded.model(tokens, sequence, mask).logits, -1).numpy()
    np.testing.assert_allclose(got[1:], raw[1:], atol=1e-6)  # unknown rows: the network's
