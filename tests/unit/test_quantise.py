"""The int8 option's fidelity check (colog/core/serving/quantise.py) and its input errors."""

from pathlib import Path

import numpy as np
import pytest

from colog.core.serving.quantise import cosine_rows, quantise_sentence_model


def test_cosine_rows_is_one_for_parallel_rows_and_zero_for_orthogonal():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    b = np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(cosine_rows(a, b), [1.0, 0.0, 0.0])


@pytest.mark.parametrize("calibration, method, message", [
    ([], "minmax", "at least one message"),
    (["a message"], "median", "calibration method must be one of"),
])
def test_bad_quantisation_requests_are_refused_before_any_work(tmp_path, calibration, method,
                                                               message):
    with pytest.raises(ValueError, match=message):
        quantise_sentence_model(Path("absent.onnx"), tmp_path / "out.onnx", calibration, method)
    assert not (tmp_path / "out.onnx").exists()
