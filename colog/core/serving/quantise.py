"""Static int8 quantisation of the exported MiniLM (ONNX Runtime, QDQ format), calibrated on
log messages, and the check that decides whether a quantised model may stand in for fp32.

Static: activation ranges are measured once on calibration messages (masked log messages, not
generic English), so no range is computed at run time. Only MatMul weights and inputs are
quantised (per-channel weights): they hold nearly all of MiniLM's arithmetic, while LayerNorm,
Softmax and GELU stay in float. The bar for using the result is a cosine similarity of at least
`MIN_COSINE` against the fp32 embedding on held-out log messages (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

MIN_COSINE = 0.99
CALIBRATION_BATCH = 32


def _batches(tokenizer, texts: Sequence[str]) -> Iterable[dict[str, np.ndarray]]:
    from colog.core.serving.onnx_runtime import padded_word_pieces

    for start in range(0, len(texts), CALIBRATION_BATCH):
        ids, mask = padded_word_pieces(tokenizer, list(texts[start:start + CALIBRATION_BATCH]))
        yield {"input_ids": ids, "attention_mask": mask}


def quantise_sentence_model(fp32_path: Path, target: Path, calibration: Sequence[str],
                            method: str = "minmax") -> Path:
    """Write the int8 QDQ model calibrated on `calibration` (masked log messages) to `target`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from colog.core.serving.onnx_runtime import sentence_tokenizer

    if not calibration:
        raise ValueError("calibration needs at least one message")
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise ValueError(f"calibration method must be one of {', '.join(methods)}, got {method!r}")
    tokenizer = sentence_tokenizer()

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(_batches(tokenizer, calibration))

        def get_next(self):
            return next(self.batches, None)

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["MatMul"], per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=methods[method],
                        extra_options={"ActivationSymmetric": False,
                                       "WeightSymmetric": True})
    finally:
        prepared.unlink(missing_ok=True)
    return target


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [N, D] arrays."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.where(norms == 0, 1.0, norms)
