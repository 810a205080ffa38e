"""The local stack against real servers: round trips, idempotent start, clean stop, clear errors."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
import redis
from opensearchpy import TransportError
from redis.backoff import NoBackoff
from redis.retry import Retry

from colog.app.stack import manager, process
from colog.app.stack import opensearch as opensearch_stack
from colog.app.stack import redis as redis_stack
from colog.app.stack.process import StackError
from colog.core.engine.opensearch_client import make_client
from colog.core.settings import Settings

pytestmark = pytest.mark.integration


def _own_redis_settings(tmp_path: Path) -> Settings:
    """A Redis of the test's own, on a free port, so the session servers stay untouched."""
    port = process.free_port()
    return Settings(redis_url=f"redis://127.0.0.1:{port}/0", cache_dir=tmp_path / "cache")


@pytest.fixture
def listening_socket():
    """A port held by something that is not ours."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


# --- OpenSearch -----------------------------------------------------------------------------


def test_opensearch_index_search_round_trip(opensearch):
    index = f"colog-test-{uuid.uuid4().hex[:8]}"
    try:
        opensearch.index(index, id="e1", document={"message": "disk full on sda1"},
                         refresh=True)
        hits = opensearch.search(index=index, body={"query": {"match": {"message": "disk"}}})
        assert [h["_id"] for h in hits["hits"]["hits"]] == ["e1"]
        assert hits["hits"]["hits"][0]["_source"]["message"] == "disk full on sda1"
    finally:
        opensearch.delete_index(index)


def test_capabilities_match_what_the_server_does(opensearch, stack_started):
    caps = opensearch_stack.capabilities(opensearch)
    assert set(caps) == {"ingest_pipeline_processors", "painless", "reindex", "alerting"}
    body = {
        "pipeline": {"processors": [{"set": {"field": "a", "value": 1}},
                                    {"script": {"source": "ctx.b = ctx.a + 1"}}]},
        "docs": [{"_source": {}}],
    }
    if caps["ingest_pipeline_processors"] and caps["painless"]:
        doc = opensearch.native.ingest.simulate(body=body)["docs"][0]["doc"]["_source"]
        assert doc == {"a": 1, "b": 2}
    else:
        with pytest.raises(TransportError):
            opensearch.native.ingest.simulate(body=body)
    if stack_started.get("opensearch"):
        # Our own node: fetch() installed these modules from Maven Central.
        assert caps["painless"] and caps["reindex"] and caps["ingest_pipeline_processors"]
    if not caps["alerting"]:
        with pytest.raises(opensearch_stack.FeatureMissing, match="Alerting"):
            opensearch_stack.require(opensearch, "alerting")
    with pytest.raises(ValueError, match="unknown OpenSearch feature"):
        opensearch_stack.require(opensearch, "time-travel")


def test_update_by_query_with_painless_when_available(opensearch):
    index = f"colog-test-{uuid.uuid4().hex[:8]}"
    caps = opensearch_stack.capabilities(opensearch)
    try:
        opensearch.index(index, id="1", document={"n": 1}, refresh=True)
        if caps["reindex"] and caps["painless"]:
            opensearch.native.update_by_query(index=index, refresh=True,
                                       body={"script": {"source": "ctx._source.n += 1"}})
            assert opensearch.get(index=index, id="1")["_source"]["n"] == 2
        else:
            with pytest.raises(TransportError):
                opensearch.native.update_by_query(index=index,
                                           body={"script": {"source": "ctx._source.n += 1"}})
    finally:
        opensearch.delete_index(index)


def test_opensearch_start_again_is_harmless(opensearch, stack_settings, stack_started):
    before = process.running_pid(stack_settings, "opensearch")
    if stack_started.get("opensearch"):
        opensearch_stack.start(stack_settings)  # already running: returns once healthy
        assert process.running_pid(stack_settings, "opensearch") == before
    elif before is None:
        # Someone else's server holds the URL: start must refuse, not start a second one.
        with pytest.raises(StackError, match="already in use"):
            opensearch_stack.start(stack_settings)
    else:  # a `colog stack up` server from before the session
        opensearch_stack.start(stack_settings)
        assert process.running_pid(stack_settings, "opensearch") == before
    assert opensearch.native.cluster.health()["status"] in ("yellow", "green")


def test_opensearch_port_in_use_says_what_to_do(listening_socket, tmp_path):
    settings = Settings(opensearch_url=f"http://127.0.0.1:{listening_socket}",
                        cache_dir=tmp_path / "cache")
    with pytest.raises(StackError, match=r"already in use.*COLOG_OPENSEARCH_URL") as info:
        opensearch_stack.start(settings)
    assert str(listening_socket) in str(info.value)
    assert f"pid {os.getpid()}" in str(info.value)  # names the holder


def test_opensearch_missing_java_says_what_to_do(monkeypatch, tmp_path, capfd):
    """A JAVA_HOME without Java is skipped (said on stderr); with no fitting Java anywhere, start
    says which Java the version needs and what to install."""
    from colog.app.stack import java

    monkeypatch.delenv("OPENSEARCH_JAVA_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no `java` on PATH either
    monkeypatch.setattr(java, "JVM_DIR", tmp_path / "no-jvms")
    settings = Settings(opensearch_url=f"http://127.0.0.1:{process.free_port()}",
                        cache_dir=tmp_path / "cache", opensearch_version="2.19.1")
    with pytest.raises(StackError, match=r"opensearch 2\.19\.1 needs Java 17 to 23; found: none"
                                         r".*apt-get install openjdk-17-jre-headless"):
        opensearch_stack.start(settings)
    assert "JAVA_HOME=" in capfd.readouterr().err
    assert process.running_pid(settings, "opensearch") is None


def test_failed_download_says_what_to_do(tmp_path):
    settings = Settings(opensearch_version="0.0.1-colog-missing", cache_dir=tmp_path / "cache")
    with pytest.raises(StackError, match=r"could not download.*0\.0\.1-colog-missing") as info:
        opensearch_stack.fetch(settings)
    assert "COLOG_OPENSEARCH_VERSION" in str(info.value)
    assert not opensearch_stack.home(settings).exists()  # nothing half-unpacked left behind


def test_fetch_is_idempotent_and_installs_modules(opensearch, stack_settings):
    opensearch_stack.fetch(stack_settings)  # downloads only if this machine never did
    again = opensearch_stack.fetch(stack_settings)
    assert again["downloaded"] is False
    assert set(again["modules"]) == {"lang-painless", "ingest-common", "reindex"}
    # 3.x ships all three in its zip (kept as they are); 2.19 gets them from Maven jars.
    bundled = set(again["modules"]) if stack_settings.opensearch_version >= "3" else set()
    assert set(again["bundled"]) == bundled
    modules = opensearch_stack.home(stack_settings) / "modules"
    for name in again["modules"]:
        assert (modules / name / "plugin-descriptor.properties").is_file()
    assert (opensearch_stack.home(stack_settings) / "bin" / "opensearch").stat().st_mode & 0o111


# --- Redis --------------------------------------------------------------------------------


def test_redis_round_trip(redis_server):
    key = f"colog:test:{uuid.uuid4().hex}"
    try:
        assert redis_server.set(key, "v1", ex=60)
        assert redis_server.get(key) == b"v1"
        assert redis_server.lpush(key + ":q", "a", "b") == 2
        assert redis_server.rpop(key + ":q") == b"a"
    finally:
        redis_server.delete(key, key + ":q")


def test_redis_start_twice_then_stop_leaves_no_process(tmp_path):
    settings = _own_redis_settings(tmp_path)
    redis_stack.start(settings)
    pid = process.running_pid(settings, "redis")
    assert pid is not None
    try:
        redis_stack.start(settings)  # harmless: same process, still answering
        assert process.running_pid(settings, "redis") == pid
        assert redis.Redis.from_url(settings.redis_url).ping()
    finally:
        redis_stack.stop(settings)
    assert not process.group_alive(pid)
    assert not process.is_running(pid)
    _, port, _ = redis_stack.address(settings)
    assert not process.port_in_use("127.0.0.1", port)
    assert redis_stack.status(settings)["running"] is False
    redis_stack.stop(settings)  # stopping what is stopped is harmless too


def test_redis_password_stays_out_of_log_and_argv(tmp_path):
    port = process.free_port()
    settings = Settings(redis_url=f"redis://:s3cr%40t@127.0.0.1:{port}/0",
                        cache_dir=tmp_path / "cache")
    redis_stack.start(settings)
    try:
        assert redis.Redis.from_url(settings.redis_url).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, password="wrong",
                        retry=Retry(NoBackoff(), 0)).ping()
        assert "s3cr@t" not in process.log_file(settings, "redis").read_text()
        pid = process.running_pid(settings, "redis")
        assert b"s3cr@t" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    finally:
        redis_stack.stop(settings)


def test_redis_port_in_use_says_what_to_do(listening_socket, tmp_path):
    settings = Settings(redis_url=f"redis://127.0.0.1:{listening_socket}/0",
                        cache_dir=tmp_path / "cache")
    with pytest.raises(StackError, match=r"already in use.*COLOG_REDIS_URL"):
        redis_stack.start(settings)
    assert process.running_pid(settings, "redis") is None


# --- manager --------------------------------------------------------------------------------


def test_manager_up_status_down_for_one_component(tmp_path):
    settings = _own_redis_settings(tmp_path)
    timings = manager.up(settings, ("redis",))
    assert set(timings) == {"redis"}
    [record] = manager.status(settings, ("redis",))
    assert record["healthy"] and record["pid"] and record["log"].endswith("redis.log")
    pid = record["pid"]
    assert manager.down(settings, ("redis",)) == []
    assert not process.group_alive(pid)
    [record] = manager.status(settings, ("redis",))
    assert record["running"] is False and record["healthy"] is False


def test_make_client_talks_to_the_configured_node(opensearch, stack_settings):
    client = make_client(stack_settings)  # the raw opensearch-py client (dashboards, alerting)
    try:
        assert client.info()["version"]["number"]
    finally:
        client.close()
