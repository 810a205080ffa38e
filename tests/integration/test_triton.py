"""The CoLog models served by a real Triton (tests/fixtures/triton.py) against in-process runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from colog.app.stack import process
from colog.app.stack import triton as stack_triton
from colog.core.features.spec import FeatureSpec
from colog.core.model.bundle import load_model_dir
from colog.core.serving import repository
from colog.core.serving.client import ModelNotReady, TritonClient, TritonError, TritonUnavailable
from tests.fixtures.triton import build_tiny_model, sample_inputs

integration = pytest.mark.integration


def _in_process(triton, version: str, tokens, sequence, mask):
    model_dir = triton.repo / "colog" / version / repository.VERSION_MODEL_DIR
    return load_model_dir(model_dir).predict(tokens, sequence, mask)


def _assert_close(served: dict, expected: dict) -> None:
    assert set(served) == set(expected)
    for name, value in expected.items():
        assert served[name].shape == value.shape, name
        np.testing.assert_allclose(served[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


@integration
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_colog_batch_matches_in_process(triton, protocol):
    client = triton.client(protocol)
    rows = client.max_batch_size() * 2 + 5  # three requests: the client splits at max_batch_size
    tokens, sequence, mask = sample_inputs(rows)
    served, version = client.infer(tokens, sequence, mask)
    assert version.isdigit()
    assert served["probs"].shape == (rows, 2)
    np.testing.assert_allclose(served["probs"].sum(axis=1), 1.0, atol=1e-5)
    _assert_close(served, _in_process(triton, version, tokens, sequence, mask))


@integration
def test_embedder_matches_sentence_transformers(triton):
    from colog.core.features.embedding import load_sentence_model

    texts = ["connection to <IP> refused", "user <*> logged in", "", "ünïcödé disk full"] * 40
    served = triton.client().embed(texts)  # 160 texts: two requests of at most 128
    expected = load_sentence_model().encode(texts, convert_to_numpy=True, show_progress_bar=False)
    assert served.shape == (160, 384) and served.dtype == np.float32
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)


@integration
def test_model_parameters_come_from_the_config(triton):
    from colog.core.verdict import Thresholds

    params = triton.client().model_parameters()
    assert params.features == FeatureSpec(1, "context", 16)
    assert params.classes == ["normal", "anomaly"]
    # Every served version's own decision thresholds, by version (seed 1 is version 1).
    assert params.thresholds_of("1") == Thresholds(0.21, 0.6)
    assert params.thresholds_of("999") == Thresholds()  # unknown version: the old 0.5


@integration
def test_new_version_is_served_without_restart(triton, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from colog.app.cli.app import app
    from colog.core.settings import get_settings

    pid = process.running_pid(triton.settings, stack_triton.NAME)
    client = triton.client()
    tokens, sequence, mask = sample_inputs(7, seed=3)
    _, before = client.infer(tokens, sequence, mask)

    # `colog serve` with the test server's settings in the environment.
    for key, value in {"COLOG_CACHE_DIR": str(triton.settings.cache_dir),
                       "COLOG_TRITON_URL": triton.settings.triton_url,
                       "COLOG_TRITON_HTTP_URL": triton.settings.triton_http_url}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        model_dir = build_tiny_model(tmp_path / "seed2", seed=2)
        result = CliRunner().invoke(app, ["serve", "--model", str(model_dir)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    new = str(int(before) + 1)
    assert f"serves colog version {new}" in result.output

    served, answered = client.infer(tokens, sequence, mask)
    assert answered == new
    assert process.running_pid(triton.settings, stack_triton.NAME) == pid  # no restart
    _assert_close(served, load_model_dir(model_dir).predict(tokens, sequence, mask))
    old_out, old = client.infer(tokens, sequence, mask, version=before)  # both versions served
    assert old == before
    assert not np.allclose(old_out["probs"], served["probs"])  # really a different model

    # A third version: with num_versions 2 the oldest is unloaded and says so clearly.
    third = repository.place_version(triton.repo, build_tiny_model(tmp_path / "seed3", seed=3))
    client.load_model()
    assert client.infer(tokens, sequence, mask)[1] == str(third)
    with pytest.raises(ModelNotReady) as info:
        client.infer(tokens, sequence, mask, version=before)
    assert "'colog' version " + before in str(info.value)
    assert triton.settings.triton_url in str(info.value)

    # Rollback: only the pinned version is served.
    client.load_model(version=new)
    assert client.infer(tokens, sequence, mask)[1] == new
    assert not client.is_model_ready(version=str(third))
    assert process.running_pid(triton.settings, stack_triton.NAME) == pid


@integration
def test_unknown_model_is_not_ready(triton):
    client = triton.client(model="colog_not_loaded")
    tokens, sequence, mask = sample_inputs(2)
    with pytest.raises(ModelNotReady) as info:
        client.infer(tokens, sequence, mask)
    assert "colog_not_loaded" in str(info.value) and triton.settings.triton_url in str(info.value)


@integration
def test_wrong_window_is_a_clear_error(triton):
    tokens, sequence, mask = sample_inputs(4, window=2)  # K=5, the model wants 3
    with pytest.raises(TritonError, match="needs 3 window rows"):
        triton.client().infer(tokens, sequence, mask)


@integration
def test_start_twice_is_harmless_and_ports_are_checked(triton, tmp_path):
    pid = process.running_pid(triton.settings, stack_triton.NAME)
    stack_triton.start(triton.settings, timeout=30)
    assert process.running_pid(triton.settings, stack_triton.NAME) == pid
    assert stack_triton.status(triton.settings)["healthy"] is True
    # A second server on the same ports (other state directory) must refuse, naming the port.
    other = triton.settings.model_copy(update={"cache_dir": tmp_path / "other"})
    with pytest.raises(process.StackError, match="already in use"):
        stack_triton.start(other, timeout=10)


def test_unreachable_server_fails_after_retries():
    port = process.free_port()
    for protocol in ("grpc", "http"):
        client = TritonClient(protocol=protocol, url=f"127.0.0.1:{port}", retries=2, backoff_s=0.01)
        with pytest.raises(TritonUnavailable, match=f"127.0.0.1:{port}.*3 attempts"):
            client.embed(["x"])


def test_bad_client_input_is_rejected_before_sending():
    client = TritonClient(url="127.0.0.1:1", retries=0)
    tokens, sequence, mask = sample_inputs(3)
    with pytest.raises(ValueError, match="disagree"):
        client.infer(tokens, sequence[:2], mask)
    with pytest.raises(ValueError, match="384"):
        client.infer(tokens, sequence[:, :, :10], mask)
    with pytest.raises(ValueError, match="at least one row"):
        client.infer(tokens[:0], sequence[:0], mask[:0])
    with pytest.raises(ValueError, match="strings"):
        client.embed(["ok", None])


def test_place_version_refuses_bad_model_dirs(tmp_path):
    repo = repository.assemble(tmp_path / "repo")
    with pytest.raises(repository.RepositoryError, match="does not exist"):
        repository.place_version(repo, tmp_path / "missing")
    broken = build_tiny_model(tmp_path / "broken", seed=5)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(repository.RepositoryError, match="config.json"):
        repository.place_version(repo, broken)
    assert repository.list_versions(repo) == []  # nothing half-placed
    assert not [p for p in (repo / "colog").iterdir() if p.name.startswith(".staging")]


def test_place_version_numbers_and_configs(tmp_path):
    repo = repository.assemble(tmp_path / "repo", "KIND_CPU")
    model = build_tiny_model(tmp_path / "m", seed=1, window=2, sequence_mode="background",
                             num_classes=4, max_tokens=8)
    assert [repository.place_version(repo, model) for _ in range(2)] == [1, 2]
    assert repository.list_versions(repo) == [1, 2]
    config = (repo / "colog" / "config.pbtxt").read_text()
    assert "kind: KIND_CPU" in config and "KIND_GPU" not in config
    assert 'key: "sequence_mode" value: { string_value: "background" }' in config
    assert json.dumps(json.dumps(["normal", "event", "context", "both"])) in config
    assert "kind: KIND_GPU" in (repo / "colog" / "configs" / "gpu.pbtxt").read_text()
    # On GPU hosts the embedder is the ensemble of the tokenizer and MiniLM on onnxruntime.
    embedder_gpu = (repo / "colog_embedder" / "configs" / "gpu.pbtxt").read_text()
    assert 'platform: "ensemble"' in embedder_gpu and 'model_name: "colog_sentence"' in embedder_gpu
    sentence = (repo / "colog_sentence" / "config.pbtxt").read_text()
    assert 'platform: "onnxruntime_onnx"' in sentence and "kind: KIND_GPU" in sentence
    assert (repo / "colog_sentence" / "1" / "model.onnx").is_file()
    assert (repo / "colog_tokenizer" / "1" / "model.py").is_file()
    assert (repo / "colog" / "2" / "model.py").is_file()
    assert (repo / "colog" / "2" / "model.onnx").is_file()  # placed with its checked export
    with pytest.raises(repository.RepositoryError, match="instance kind"):
        repository.render_config("colog", "KIND_TPU")
