"""The chart's publish path with real servers: two tritonservers serve ONE shared model
repository (the ReadWriteMany volume of the chart), both with the repository API restricted to
a header, and a publish (colog.services.train.release.place_and_load, what `colog train --from-opensearch`
and `colog rollback` run in the trainer Job) loads the new version on both."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from colog.core.serving import repository
from colog.core.serving.seed import build
from colog.core.settings import Settings
from tests.fixtures.triton import build_tiny_model, sample_inputs

pytestmark = pytest.mark.integration
HEADER, KEY = "colog-admin", "s3cret-repository-key"


def _start(root: Path, name: str, shared: Path):
    """A tritonserver of its own (ports, cache) on the shared repository, `colog` only."""
    from colog.app.stack import process
    from colog.app.stack import triton as stack_triton

    http, grpc, metrics = (process.free_port() for _ in range(3))
    settings = Settings(cache_dir=root / name, triton_url=f"127.0.0.1:{grpc}",
                        triton_http_url=f"127.0.0.1:{http}", triton_protocol="grpc",
                        triton_metrics_port=metrics, triton_model_repository=shared)
    argv = stack_triton.command(settings, shared, stack_triton.backend_directory(settings),
                                load=[repository.COLOG])
    argv += [f"--http-restricted-api=model-repository:{HEADER}={KEY}",
             f"--grpc-restricted-protocol=model-repository:{HEADER}={KEY}"]
    log = process.log_file(settings, name)
    pid = process.start_process(name, argv, stack_triton.server_env(settings),
                                process.state_dir(settings, name), log)
    try:
        process.wait_until(lambda: stack_triton.ready(settings, [repository.COLOG]),
                           stack_triton.READY_TIMEOUT_S, name, log_path=log, pid=pid)
    except process.StackError as exc:
        process.stop_process(name, settings, timeout=30.0)
        pytest.fail(f"tritonserver {name} did not start: {exc}")
    return settings


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    from colog.app.stack import process

    root = tmp_path_factory.mktemp("replicas")
    shared = root / "shared-models"
    models = {seed: build_tiny_model(root / f"model-{seed}", seed=seed) for seed in (1, 2)}
    build(shared, models[1])  # what the Triton image bakes and the init container seeds
    servers = []
    try:
        for name in ("triton-a", "triton-b"):
            servers.append((name, _start(root, name, shared)))
        yield shared, models, [s for _, s in servers]
    finally:
        for name, settings in servers:
            process.stop_process(name, settings, timeout=30.0)


def _answers(settings: Settings):
    from colog.core.serving.client import TritonClient

    client = TritonClient(settings, retries=1)
    try:
        outputs, version = client.infer(*sample_inputs(5, max_tokens=16), outputs=("probs",))
    finally:
        client.close()
    return outputs["probs"], version


def _publisher(shared: Path, servers: list[Settings], **extra) -> Settings:
    return Settings(triton_model_repository=shared, triton_instance_kind="KIND_CPU",
                    triton_load_endpoints=",".join(s.triton_url for s in servers), **extra)


def test_a_publish_loads_the_new_version_on_every_replica(replicas, tmp_path):
    from colog.services.train.release import ReleaseError, place_and_load

    shared, models, servers = replicas
    before = [_answers(s) for s in servers]
    assert [v for _, v in before] == ["1", "1"]

    # Without the header the restricted repository API refuses both loads, and says so.
    with pytest.raises(ReleaseError, match=r"loaded on 0 of 2 Triton servers"):
        place_and_load(_publisher(shared, servers), models[2])
    assert repository.list_versions(shared) == [1, 2]  # placed, not yet served
    assert [v for _, v in (_answers(s) for s in servers)] == ["1", "1"]

    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    publisher = _publisher(shared, servers, triton_repository_api_header=HEADER,
                           triton_repository_api_key_file=key_file)
    from colog.core.serving.replicas import load_everywhere

    report = load_everywhere(publisher)
    assert report.ok and report.loaded == [s.triton_url for s in servers]
    after = [_answers(s) for s in servers]
    assert [v for _, v in after] == ["2", "2"]
    np.testing.assert_allclose(after[0][0], after[1][0], atol=1e-6)
    assert not np.allclose(after[0][0], before[0][0], atol=1e-4), "version 2 has other weights"

    # Rollback the same way: version 1's model placed again as version 3, loaded on both.
    copy = tmp_path / "rollback" / repository.VERSION_MODEL_DIR
    shutil.copytree(shared / "colog" / "1" / repository.VERSION_MODEL_DIR, copy)
    assert place_and_load(publisher, copy) == 3
    rolled = [_answers(s) for s in servers]
    assert [v for _, v in rolled] == ["3", "3"]
    for probs, _ in rolled:
        np.testing.assert_allclose(probs, before[0][0], atol=1e-5)
