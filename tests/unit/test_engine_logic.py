"""Pure logic of the engine layer: error translation, error lines, client options, Java choice,
secrets masked in `colog config` (no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from colog.app.cli.errors import EXIT_OPENSEARCH, classify
from colog.app.stack.java import JavaNeed, need_for
from colog.core.engine import errors
from colog.core.engine.opensearch_client import client_options, elasticsearch_options
from colog.core.settings import Settings

PASSWORD = "Sup3r-s3cret-pw"


def _es_error(cls, status: int, error_type: str, reason: str):
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig

    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(),
                           duration=0.0, node=NodeConfig("http", "localhost", 9200))
    return cls(error_type, meta, {"error": {"type": error_type, "reason": reason},
                                  "status": status})


@pytest.mark.parametrize("status,cls,wanted", [
    (404, "NotFoundError", errors.NotFound), (409, "ConflictError", errors.Conflict),
    (400, "BadRequestError", errors.BadRequest),
    (401, "AuthenticationException", errors.AuthenticationFailed),
])
def test_elasticsearch_errors_become_the_neutral_classes(status, cls, wanted):
    import elasticsearch

    from colog.core.engine.elasticsearch import translated

    with pytest.raises(wanted) as caught:
        with translated():
            raise _es_error(getattr(elasticsearch, cls), status, "some_exception", "why")
    assert caught.value.status_code == status and caught.value.engine == "elasticsearch"
    assert caught.value.error_type == "some_exception" and caught.value.reason == "why"


@pytest.mark.parametrize("status,cls,wanted", [
    (404, "NotFoundError", errors.NotFound), (409, "ConflictError", errors.Conflict),
    (400, "RequestError", errors.BadRequest),
    (401, "AuthenticationException", errors.AuthenticationFailed),
    (403, "AuthorizationException", errors.Forbidden),
])
def test_opensearch_errors_become_the_neutral_classes(status, cls, wanted):
    from opensearchpy import exceptions as os_exc

    from colog.core.engine.opensearch import translated

    with pytest.raises(wanted) as caught:
        with translated():
            raise getattr(os_exc, cls)(status, "some_exception",
                                       {"error": {"type": "some_exception", "reason": "why"}})
    assert caught.value.status_code == status and caught.value.engine == "opensearch"
    assert caught.value.reason == "why"


def test_connection_failures_become_unreachable_and_tls_failed():
    import ssl

    import elastic_transport
    from opensearchpy import exceptions as os_exc

    from colog.core.engine import elasticsearch as es_engine
    from colog.core.engine import opensearch as os_engine

    with pytest.raises(errors.TLSFailed):
        with es_engine.translated():
            raise elastic_transport.TlsError("verify failed",
                                             errors=(ssl.SSLCertVerificationError(),))
    with pytest.raises(errors.Unreachable):
        with es_engine.translated():
            raise elastic_transport.ConnectionError("refused")
    with pytest.raises(errors.TLSFailed):
        with os_engine.translated():
            raise os_exc.SSLError("N/A", "certificate verify failed", None)


def test_engine_errors_give_one_line_with_the_engine_and_exit_10():
    settings = Settings(engine="elasticsearch",
                        opensearch_url=f"https://colog:{PASSWORD}@es.example:9200")
    cases = [
        (errors.AuthenticationFailed("401", engine="elasticsearch", status_code=401),
         "rejected the credentials (401)"),
        (errors.TLSFailed("tls", engine="elasticsearch"), "failed the TLS handshake"),
        (errors.Unreachable("down", engine="elasticsearch"), "is unreachable"),
        (errors.BadRequest("bad", engine="elasticsearch", status_code=400,
                           error_type="parsing_exception", reason="no [query]"),
         "answered 400 (parsing_exception: no [query])"),
    ]
    for exc, words in cases:
        failure = classify(exc, settings)
        assert failure is not None and failure.code == EXIT_OPENSEARCH
        line = failure.line()
        assert line.startswith("error: Elasticsearch at https://colog:***@es.example:9200 ")
        assert words in line and PASSWORD not in line


def test_a_cluster_block_is_not_called_a_permission_problem():
    exc = errors.Forbidden("blocked", engine="opensearch", status_code=403,
                           error_type="cluster_block_exception", reason="index read-only")
    line = classify(exc, Settings()).line()
    assert "permissions" not in line and "cluster_block_exception" in line


def test_colog_config_masks_a_password_inside_urls():
    shown = Settings(opensearch_url=f"https://colog:{PASSWORD}@n1:9200,https://n2:9200",
                     redis_url=f"redis://:{PASSWORD}@127.0.0.1:6379/0",
                     opensearch_password=SecretStr(PASSWORD)).masked()
    assert PASSWORD not in str(shown)
    assert shown["opensearch_url"] == "https://colog:***@n1:9200,https://n2:9200"
    assert shown["redis_url"] == "redis://:***@127.0.0.1:6379/0"
    assert shown["opensearch_password"] == "**********"


def test_both_clients_get_the_same_auth_and_tls_options(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings(opensearch_url="https://a:9200,https://b:9200", opensearch_user="colog",
                        opensearch_password=SecretStr(PASSWORD), opensearch_ca_certs=ca)
    os_options, es_options = client_options(settings), elasticsearch_options(settings)
    assert os_options["http_auth"] == es_options["basic_auth"] == ("colog", PASSWORD)
    assert os_options["ca_certs"] == es_options["ca_certs"] == str(ca)
    assert os_options["hosts"] == es_options["hosts"] == ["https://a:9200", "https://b:9200"]
    assert es_options["request_timeout"] == settings.opensearch_timeout_s
    with pytest.raises(ValueError, match="no password"):
        elasticsearch_options(Settings(opensearch_user="colog"))
    with pytest.raises(ValueError, match="not a readable file"):
        elasticsearch_options(Settings(opensearch_ca_certs=tmp_path / "missing.pem"))


def test_connect_builds_the_configured_engine_without_touching_the_network():
    from colog.core.engine import connect
    from colog.core.engine.elasticsearch import ElasticsearchEngine
    from colog.core.engine.opensearch import OpenSearchEngine
    from colog.core.engine.reader import stream_sort

    os_engine = connect(Settings(engine="opensearch"))
    es_engine = connect(Settings(engine="elasticsearch"))
    assert isinstance(os_engine, OpenSearchEngine) and isinstance(es_engine, ElasticsearchEngine)
    assert stream_sort(os_engine)[-1] == {"_id": {"order": "asc"}}
    assert stream_sort(es_engine, descending=True)[-1] == {"_shard_doc": {"order": "desc"}}
    assert stream_sort(es_engine)[1]["event.sequence"]["missing"] == "_first"


@pytest.mark.parametrize("engine,version,fits,refuses", [
    ("opensearch", "2.19.1", [17, 21, 23], [11, 24, 25]),
    ("opensearch", "3.8.0", [21, 25], [17]),
    ("elasticsearch", "9.1.0", [21, 25], [17]),
    ("elasticsearch", "8.19.0", [17, 21], [11]),
])
def test_each_engine_version_names_the_java_it_runs_on(engine, version, fits, refuses):
    need = need_for(engine, version)
    assert all(need.fits(major) for major in fits)
    assert not any(need.fits(major) for major in refuses)
    assert "apt-get install openjdk-" in need.install_hint()


def test_java_need_describes_itself():
    assert JavaNeed(21).describe() == "Java 21 or newer"
    assert JavaNeed(17, 23).describe() == "Java 17 to 23"
