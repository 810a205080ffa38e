"""ONNX exports against PyTorch: the served graph must give PyTorch's outputs (1e-4)."""

from __future__ import annotations

import numpy as np
import pytest

from colog.core.serving.onnx_export import PARITY_ATOL, export_colog, export_sentence_model
from colog.core.serving.onnx_runtime import OnnxCoLog, OnnxSentenceEncoder, length_buckets, real_lengths
from tests.fixtures.triton import build_tiny_model, sample_inputs


@pytest.mark.parametrize("num_classes,window,mode", [(2, 1, "context"), (4, 2, "context"),
                                                     (4, 1, "background")])
def test_colog_export_matches_pytorch(tmp_path, num_classes, window, mode):
    from colog.core.model.bundle import load_model_dir

    model_dir = build_tiny_model(tmp_path / "m", seed=3, window=window, sequence_mode=mode,
                                 num_classes=num_classes)
    onnx_path = export_colog(model_dir, tmp_path / "model.onnx")
    torch_model, onnx_model = load_model_dir(model_dir), OnnxCoLog(onnx_path, model_dir)
    k = 2 * window + 1 if mode == "context" else window + 1
    tokens, sequence, mask = sample_inputs(300, window=window)
    sequence, mask = sequence[:, :k], mask[:, :k]
    tokens[7] = 0            # an empty message
    tokens[8, 3:] = 0        # a very short one among long ones: its bucket is cut short
    expected = torch_model.predict(tokens, sequence, mask)
    got = onnx_model.predict(tokens, sequence, mask)
    for name, values in expected.items():
        assert got[name].shape == values.shape, name
        assert np.abs(got[name] - values).max() <= PARITY_ATOL, name


def test_template_memory_applies_to_onnx_outputs(tmp_path):
    """The memory is a lookup outside the graph: ONNX serving must still apply it."""
    from colog.core.model.bundle import load_model_dir
    from colog.core.model.memory import TemplateMemory

    tokens, sequence, mask = sample_inputs(6)
    memory = TemplateMemory.build(tokens[:3], np.array([1, 1, 1]))
    model_dir = build_tiny_model(tmp_path / "m", seed=4, memory=memory)
    onnx_path = export_colog(model_dir, tmp_path / "model.onnx")
    got = OnnxCoLog(onnx_path, model_dir).predict(tokens, sequence, mask)
    expected = load_model_dir(model_dir).predict(tokens, sequence, mask)
    assert np.allclose(got["probs"][:3, 1], 1.0)
    assert np.abs(got["probs"] - expected["probs"]).max() <= PARITY_ATOL


def test_export_refuses_a_graph_that_disagrees(tmp_path, monkeypatch):
    """The parity check is what keeps a wrong export out of the repository."""
    from colog.core.serving.onnx_export import ExportError, export_colog_or_warn

    model_dir = build_tiny_model(tmp_path / "m", seed=5)
    real = OnnxCoLog.predict

    def skewed(self, *args):
        out = real(self, *args)
        out["probs"] = out["probs"] + 1e-3
        return out

    monkeypatch.setattr(OnnxCoLog, "predict", skewed)
    with pytest.raises(ExportError, match="differs from PyTorch"):
        export_colog(model_dir, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()
    assert export_colog_or_warn(model_dir, tmp_path / "model.onnx") is False


def test_sentence_export_matches_sentence_transformers(tmp_path):
    from colog.core.features.embedding import load_sentence_model

    texts = ["Receiving block <*> src: /<IP>:<NUM> dest: /<IP>:<NUM>", "", "error",
             "session opened for user root by (uid=0)", "x " * 400]  # the last is truncated
    onnx = OnnxSentenceEncoder(export_sentence_model(tmp_path / "sentence.onnx"))
    expected = load_sentence_model().encode(texts, convert_to_numpy=True)
    got = onnx.encode(texts)
    assert got.shape == (len(texts), 384)
    assert np.abs(got - expected).max() <= PARITY_ATOL


def test_buckets_keep_every_row_once_sorted_by_length():
    lengths = np.array([5, 1, 9, 1, 3, 7, 2, 40, 200, 41])
    buckets = length_buckets(lengths, 3)
    assert sorted(np.concatenate(buckets).tolist()) == list(range(len(lengths)))
    assert all(len(b) <= 3 for b in buckets)
    # short rows never share a bucket with long ones
    assert [sorted(lengths[b].tolist()) for b in buckets] == [[1, 1, 2], [3, 5, 7], [9], [40, 41],
                                                               [200]]


def test_real_length_is_the_position_after_the_last_token():
    tokens = np.array([[4, 5, 0, 0], [0, 0, 0, 0], [1, 0, 3, 0], [1, 2, 3, 4]])
    assert real_lengths(tokens).tolist() == [2, 0, 3, 4]
