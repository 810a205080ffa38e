"""Triton Python backend: the CoLog collaborative transformer.

Each numbered version folder of the live repository holds this file, the model directory
written by `colog train` (in `colog_model/`) and, when the export passed its parity check,
`model.onnx`; a version is self-contained and never changes once served. ONNX Runtime serves
when the export is there (COLOG_INFERENCE_RUNTIME=torch forces PyTorch). The stub process
imports numpy, onnxruntime, torch and colog from the project's environment.
"""

from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from colog.core.serving.backend import instance_device, onnx_options, onnx_wanted

MODEL_DIR = "colog_model"
ONNX_FILE = "model.onnx"  # colog.core.serving.onnx_export.COLOG_ONNX
OUTPUTS = ("probs", "modality_weights", "context_attention", "token_attention")


class TritonPythonModel:
    def initialize(self, args):
        version_dir = Path(args["model_repository"]) / str(args["model_version"])
        if onnx_wanted(version_dir / ONNX_FILE):
            from colog.core.serving.onnx_runtime import OnnxCoLog

            self.model = OnnxCoLog(version_dir / ONNX_FILE, version_dir / MODEL_DIR,
                                   **onnx_options(args))
        else:
            from colog.core.model.bundle import load_model_dir

            self.model = load_model_dir(version_dir / MODEL_DIR, device=instance_device(args))
        self.version = str(args["model_version"])

    def execute(self, requests):
        # Requests with the same shapes are stacked into one forward pass; others run alone.
        arrays, groups = [], {}
        for i, request in enumerate(requests):
            tokens = pb_utils.get_input_tensor_by_name(request, "tokens").as_numpy()
            sequence = pb_utils.get_input_tensor_by_name(request, "sequence").as_numpy()
            mask = pb_utils.get_input_tensor_by_name(request, "sequence_mask").as_numpy()
            arrays.append((tokens, sequence, mask))
            groups.setdefault((tokens.shape[1:], sequence.shape[1:], mask.shape[1:]), []).append(i)

        responses = [None] * len(requests)
        for members in groups.values():
            try:
                outputs = self.model.predict(
                    np.concatenate([arrays[i][0] for i in members]).astype(np.int64),
                    np.concatenate([arrays[i][1] for i in members]).astype(np.float32),
                    np.concatenate([arrays[i][2] for i in members]).astype(np.float32),
                )
            except Exception as exc:  # bad shapes, wrong window: answer with an error, not a crash
                error = pb_utils.TritonError(f"colog version {self.version}: {exc}")
                for i in members:
                    responses[i] = pb_utils.InferenceResponse(output_tensors=[], error=error)
                continue
            start = 0
            for i in members:
                rows = len(arrays[i][0])
                tensors = [pb_utils.Tensor(name, np.ascontiguousarray(
                    np.asarray(outputs[name][start:start + rows], dtype=np.float32)))
                    for name in OUTPUTS]
                responses[i] = pb_utils.InferenceResponse(output_tensors=tensors)
                start += rows
        return responses

    def finalize(self):
        self.model = None

