"""Pure logic behind the Kubernetes deployment: Triton endpoint resolution, seeding a shared
model repository, the liveness rule, the shutdown flag, the cache Redis setting."""

from __future__ import annotations

import socket

import pytest

from colog.core.serving import repository
from colog.core.serving.replicas import EndpointError, endpoints, resolve
from colog.core.serving.seed import build, seed
from colog.core.serving.seed import main as seed_main
from colog.core.settings import Settings
from colog.services.enrich import shutdown
from colog.services.enrich.health import Progress, liveness
from tests.fixtures.triton import build_tiny_model


def _resolver(table):
    def resolve_name(host, port, type=None):  # noqa: A002 — getaddrinfo's own keyword
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]
    return resolve_name


def test_headless_name_stands_for_every_pod():
    table = {"triton-headless": ["10.0.0.7", "10.0.0.3", "10.0.0.7"]}
    assert resolve("dns:triton-headless:8001", _resolver(table)) == ["10.0.0.3:8001",
                                                                     "10.0.0.7:8001"]


def test_endpoints_default_to_the_triton_url_and_merge_entries():
    assert endpoints(Settings(triton_url="t:8001")) == ["t:8001"]
    s = Settings(triton_load_endpoints="dns:h:8001, 10.0.0.3:8001,other:9001")
    assert endpoints(s, _resolver({"h": ["10.0.0.3", "10.0.0.4"]})) == [
        "10.0.0.3:8001", "10.0.0.4:8001", "other:9001"]


@pytest.mark.parametrize("entry,message", [
    ("triton", "is not host:port"), ("dns:triton", "is not host:port"),
    ("host:99999", "is not host:port"), ("dns:missing:8001", "does not resolve"),
])
def test_bad_endpoints_are_named(entry, message):
    with pytest.raises(EndpointError, match=message):
        resolve(entry, _resolver({}))


def test_build_then_seed_copies_versions_once(tmp_path):
    model = build_tiny_model(tmp_path / "model", seed=3)
    image_repo = tmp_path / "image"
    assert build(image_repo, model) == 1
    assert repository.list_versions(image_repo) == [1]
    with pytest.raises(repository.RepositoryError, match="already holds colog versions"):
        build(image_repo, model)
    volume = tmp_path / "volume"
    assert seed(image_repo, volume, "KIND_GPU") == [1]
    seeded = volume / "colog" / "1" / repository.VERSION_MODEL_DIR / "model.safetensors"
    assert seeded.read_bytes() == (model / "model.safetensors").read_bytes()
    assert repository.instance_kind(volume) == "KIND_GPU"
    assert (volume / "colog_embedder" / "1" / "model.py").is_file()
    # A published version is never replaced by the image's older one.
    assert repository.place_version(volume, model) == 2
    assert seed(image_repo, volume) == []
    assert repository.list_versions(volume) == [1, 2]
    assert not [p for p in (volume / "colog").iterdir() if p.name.startswith(".")]


def test_seed_without_a_version_in_the_image_fails_clearly(tmp_path, capsys):
    bare = repository.assemble(tmp_path / "bare")
    assert seed_main(["seed", "--from", str(bare), "--into", str(tmp_path / "v")]) == 2
    assert "holds no colog version to seed from" in capsys.readouterr().err
    assert not (tmp_path / "v" / "colog").exists() or not repository.list_versions(tmp_path / "v")


def test_liveness_needs_the_broker_and_progress():
    assert liveness(True, "ok", 0.0, 600) == (True, "ok")
    ok, why = liveness(False, "connection refused", 0.0, 600)
    assert not ok and "broker unreachable (connection refused)" in why
    ok, why = liveness(True, "ok", 601.0, 600)
    assert not ok and "no running task moved for 601s" in why


def test_progress_counts_only_while_tasks_run():
    now = [100.0]
    progress = Progress(clock=lambda: now[0])
    now[0] = 1000.0
    assert progress.stalled_for() == 0.0  # idle: nothing to stall
    progress.task_started("a")
    now[0] = 1030.0
    assert progress.stalled_for() == 30.0
    progress.mark()
    assert progress.stalled_for() == 0.0
    progress.task_finished("a")
    now[0] = 5000.0
    assert progress.stalled_for() == 0.0


def test_shutdown_flag_raises_at_the_check():
    shutdown.clear()
    shutdown.check_stop()
    shutdown.request_stop()
    try:
        with pytest.raises(shutdown.ShutdownRequested):
            shutdown.check_stop()
    finally:
        shutdown.clear()


def test_cache_redis_defaults_to_the_state_redis(monkeypatch):
    monkeypatch.setenv("COLOG_REDIS_URL", "redis://state:6379/0")
    assert Settings().effective_cache_redis_url == "redis://state:6379/0"
    monkeypatch.setenv("COLOG_CACHE_REDIS_URL", "redis://cache:6379/0")
    assert Settings().effective_cache_redis_url == "redis://cache:6379/0"


def test_repository_api_key_is_read_from_its_file_each_time(tmp_path):
    from colog.core.serving.client import TritonClient, TritonError

    key = tmp_path / "key"
    key.write_text("first\n")
    settings = Settings(triton_repository_api_header="Colog-Admin",
                        triton_repository_api_key_file=key)
    client = TritonClient(settings, protocol="grpc")
    assert client.repository_headers() == {"triton-grpc-protocol-colog-admin": "first"}
    key.write_text("rotated")
    assert client.repository_headers() == {"triton-grpc-protocol-colog-admin": "rotated"}
    assert TritonClient(settings, protocol="http").repository_headers() == {
        "Colog-Admin": "rotated"}
    assert TritonClient(Settings()).repository_headers() is None
    with pytest.raises(TritonError, match="no key"):
        TritonClient(Settings(triton_repository_api_header="x")).repository_headers()


def test_onnx_threads_default_to_the_setting_without_the_variable(monkeypatch):
    """A Triton started without COLOG_TRITON_ONNX_THREADS threads like one the stack or the chart
    started (one default, in the settings)."""
    from colog.core.serving.backend import onnx_options
    from colog.core.settings import Settings

    monkeypatch.delenv("COLOG_TRITON_ONNX_THREADS", raising=False)
    assert onnx_options({})["threads"] == Settings().triton_onnx_threads
    monkeypatch.setenv("COLOG_TRITON_ONNX_THREADS", "3")
    assert onnx_options({})["threads"] == 3
