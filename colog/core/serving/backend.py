"""Helpers shared by the Triton Python-backend models in `triton_models/` (run inside the stub)."""

from __future__ import annotations

import os
from pathlib import Path

from colog.core.settings import Settings

# The setting's own default: a Triton started without the variable threads like one started by
# the stack or the chart.
DEFAULT_ONNX_THREADS = Settings.model_fields["triton_onnx_threads"].default


def instance_device(args: dict) -> str:
    """The torch device of this model instance, from Triton's initialize() arguments."""
    if args.get("model_instance_kind") == "GPU":
        return f"cuda:{args.get('model_instance_device_id', '0')}"
    return "cpu"


def onnx_wanted(artifact: Path) -> bool:
    """ONNX Runtime serves when the export exists and COLOG_INFERENCE_RUNTIME is not `torch`
    (the stack passes the setting through Triton's environment)."""
    return os.environ.get("COLOG_INFERENCE_RUNTIME", "onnx") == "onnx" and Path(artifact).is_file()


def onnx_options(args: dict) -> dict:
    """Session threads and execution providers for this instance."""
    threads = int(os.environ.get("COLOG_TRITON_ONNX_THREADS") or DEFAULT_ONNX_THREADS)
    if args.get("model_instance_kind") == "GPU":
        device = str(args.get("model_instance_device_id", "0"))
        return {"threads": threads, "providers": [
            ("CUDAExecutionProvider", {"device_id": device}), "CPUExecutionProvider"]}
    return {"threads": threads, "providers": ["CPUExecutionProvider"]}
