"""The same live repository served with KIND_GPU (`--model-config-name=gpu`), when a GPU exists.

Without a GPU this test is skipped with a reason that says plainly it did not run.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from colog.app.stack import process
from colog.app.stack import triton as stack_triton
from colog.core.model.bundle import load_model_dir
from colog.core.serving import repository
from tests.fixtures.triton import sample_inputs

pytestmark = [pytest.mark.integration, pytest.mark.gpu]


def _gpu_present() -> str:
    """The first GPU line of `nvidia-smi -L`, or '' when there is none."""
    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = [line for line in out.stdout.splitlines() if line.startswith("GPU ")]
    return lines[0] if out.returncode == 0 and lines else ""


def test_repository_served_with_kind_gpu(triton):
    gpu = _gpu_present()
    if not gpu:
        pytest.skip("GPU check DID NOT RUN: no GPU found by `nvidia-smi -L` on this machine")
    http, grpc, metrics = (process.free_port() for _ in range(3))
    settings = triton.settings.model_copy(update={
        "triton_url": f"127.0.0.1:{grpc}", "triton_http_url": f"127.0.0.1:{http}",
        "triton_metrics_port": metrics, "triton_model_repository": triton.repo})
    try:
        stack_triton.start(settings, config_name=repository.GPU_CONFIG_NAME, name="triton-gpu")
        client = triton.client(url=settings.triton_url)
        for model in (repository.COLOG, repository.EMBEDDER):
            kinds = {group["kind"] for group in client.model_config(model)["instance_group"]}
            assert kinds == {"KIND_GPU"}, (model, kinds, gpu)
        tokens, sequence, mask = sample_inputs(40)
        served, version = client.infer(tokens, sequence, mask)
        model_dir = triton.repo / "colog" / version / repository.VERSION_MODEL_DIR
        expected = load_model_dir(model_dir).predict(tokens, sequence, mask)
        for name, value in expected.items():
            np.testing.assert_allclose(served[name], value, rtol=1e-3, atol=1e-4, err_msg=name)
        cpu_embedding = triton.client().embed(["disk full on /dev/sda1"])
        np.testing.assert_allclose(client.embed(["disk full on /dev/sda1"]), cpu_embedding,
                                   rtol=1e-3, atol=1e-4)
    finally:
        stack_triton.stop(settings, name="triton-gpu")
