"""Pure logic of the local stack and the OpenSearch client options (no servers)."""

from __future__ import annotations

import pytest

from colog.app.stack import manager
from colog.app.stack import opensearch as opensearch_stack
from colog.app.stack import redis as redis_stack
from colog.app.stack.process import StackError, status_record, tail
from colog.core.engine.opensearch_client import client_options
from colog.core.settings import Settings


def test_parse_components_orders_and_dedupes():
    assert manager.parse_components(None) == ("opensearch", "redis", "triton")
    assert manager.parse_components(" Redis ,opensearch,redis") == ("opensearch", "redis")


@pytest.mark.parametrize("only", ["kafka", "redis,kafka", " , "])
def test_parse_components_rejects_unknown(only):
    with pytest.raises(StackError, match="choose from engine, opensearch, elasticsearch, redis"):
        manager.parse_components(only)


def test_engine_in_the_list_means_the_configured_engine():
    assert manager.parse_components(None, "elasticsearch") == ("elasticsearch", "redis", "triton")
    assert manager.parse_components("engine,redis", "elasticsearch") == ("elasticsearch", "redis")
    assert manager.parse_components("engine", "opensearch") == ("opensearch",)


def test_unknown_component_module_is_a_clear_error():
    with pytest.raises(StackError, match="unknown stack component"):
        manager.component("kafka")


def test_opensearch_address_uses_first_node_and_default_port():
    settings = Settings(opensearch_url="http://127.0.0.1:9311, http://127.0.0.1:9312")
    assert opensearch_stack.http_address(settings) == ("127.0.0.1", 9311, "http://127.0.0.1:9311")
    assert opensearch_stack.http_address(Settings(opensearch_url="http://localhost"))[1] == 9200


def test_redis_address_reads_password_and_rejects_other_schemes():
    assert redis_stack.address(Settings(redis_url="redis://:p%40ss@127.0.0.1:6390/1")) == (
        "127.0.0.1", 6390, "p@ss")
    with pytest.raises(StackError, match="must start with redis://"):
        redis_stack.address(Settings(redis_url="http://127.0.0.1:6379"))


def test_client_options_defaults_have_no_auth():
    options = client_options(Settings(opensearch_url="http://a:9200,http://b:9200"))
    assert options["hosts"] == ["http://a:9200", "http://b:9200"]
    assert options["retry_on_timeout"] is True and options["max_retries"] >= 1
    assert "http_auth" not in options


def test_client_options_password_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    options = client_options(Settings(opensearch_user="colog", opensearch_password="env-pw",
                                      opensearch_password_file=secret))
    assert options["http_auth"] == ("colog", "from-file")


def test_client_options_user_without_password_is_an_error():
    with pytest.raises(ValueError, match="no password"):
        client_options(Settings(opensearch_user="colog"))


def test_client_options_password_without_user_is_an_error():
    with pytest.raises(ValueError, match="USER is not"):
        client_options(Settings(opensearch_password="x"))


def test_client_options_missing_ca_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="CA_CERTS"):
        client_options(Settings(opensearch_ca_certs=tmp_path / "nope.pem"))


def test_tail_and_status_record(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert tail(log, 2) == "line 98\nline 99"
    assert tail(tmp_path / "missing.log") == ""
    record = status_record("redis", None, 6379, False)
    assert record["running"] is False and record["port"] == 6379


def test_get_client_is_one_per_server_not_one_per_process():
    from colog.core.serving.client import get_client

    first = Settings(triton_url="127.0.0.1:18001", triton_protocol="grpc")
    second = first.model_copy(update={"triton_url": "127.0.0.1:28001"})
    assert get_client(first) is get_client(first.model_copy())
    assert get_client(second) is not get_client(first)
    assert (get_client(first).url, get_client(second).url) == ("127.0.0.1:18001", "127.0.0.1:28001")
