"""Pure logic of the enricher: stream keys, partitions, document validation."""

import pytest

from colog.core.engine.streams import StreamRef, partition_of, stream_of_hit, stream_ref
from colog.core.fields import STATUS_FAILED, STATUS_SKIPPED
from colog.core.settings import DEFAULT_STREAM_SOURCE_FIELDS, Settings
from colog.services.enrich.validation import check_document

PRIMARY = ["host.name"]
FALLBACK = list(DEFAULT_STREAM_SOURCE_FIELDS)


def test_default_stream_key_is_the_host_and_the_first_present_source_field():
    settings = Settings()
    assert settings.stream_fields == PRIMARY and settings.stream_fallback_fields == FALLBACK
    syslog = {"host.name": "web-1", "log.syslog.appname": "sshd", "process.name": "sshd-session",
              "data_stream.dataset": "system.syslog"}
    assert stream_ref(syslog, "logs-x", PRIMARY, FALLBACK).key == "web-1|sshd"
    # Filebeat reading /var/log/syslog: the program, not the shared file.
    filebeat = {"host.name": "web-1", "process.name": "cron", "log.file.path": "/var/log/syslog"}
    assert stream_ref(filebeat, "logs-x", PRIMARY, FALLBACK).key == "web-1|cron"
    # What `colog ingest` writes keeps the key it always had.
    ingested = {"host.name": "web-1", "log.file.path": "/var/log/app.log"}
    assert stream_ref(ingested, "logs-x", PRIMARY, FALLBACK).key == "web-1|/var/log/app.log"
    agent = {"host.name": "web-1", "data_stream.dataset": "nginx.access"}
    assert stream_ref(agent, "logs-x", PRIMARY, FALLBACK).key == "web-1|nginx.access"


def test_stream_key_from_nested_or_dotted_fields():
    nested = {"_index": "logs-a", "_source": {"host": {"name": "web-1"},
                                               "process": {"name": "cron"}}}
    dotted = {"_index": "logs-b", "_source": {"host.name": "web-1", "process.name": "cron"}}
    a = stream_of_hit(nested, PRIMARY, FALLBACK)
    b = stream_of_hit(dotted, PRIMARY, FALLBACK)
    assert a.key == b.key == "web-1|cron"  # one stream across daily indices
    assert a.query() == b.query()


def test_the_stream_query_selects_the_first_present_source_field():
    ref = stream_ref({"host.name": "h", "process.name": "cron"}, "logs-x", PRIMARY, FALLBACK)
    query = ref.query()["bool"]
    assert {"term": {"host.name": "h"}} in query["filter"]
    chain = query["filter"][1]["bool"]["should"]
    assert len(chain) == len(FALLBACK)
    by_field = {next(iter(o["bool"]["filter"][0]["term"])): o["bool"]["filter"][1:]
                for o in chain}
    # process.name holds the value only where appname and service.name are absent (or "").
    assert by_field["process.name"] == [ref._absent("log.syslog.appname"),
                                        ref._absent("service.name")]
    assert ref._absent("service.name") == {"bool": {"should": [
        {"bool": {"must_not": [{"exists": {"field": "service.name"}}]}},
        {"term": {"service.name": ""}}], "minimum_should_match": 1}}
    # The same value named by another field is the same stream (the key says which program).
    other = stream_ref({"host.name": "h", "log.syslog.appname": "cron"}, "logs-x", PRIMARY,
                       FALLBACK)
    assert other == ref


def test_stream_key_without_a_source_field_then_the_index():
    host_only = stream_ref({"host.name": "ubuntu"}, "logs-x", PRIMARY, FALLBACK)
    assert host_only.key == "ubuntu|"
    assert host_only._absent("process.name") in host_only.query()["bool"]["filter"]
    # A shipper's empty string names nothing: the same stream as a missing field.
    assert stream_ref({"host.name": "ubuntu", "process.name": ""}, "logs-x", PRIMARY,
                      FALLBACK) == host_only
    only_dataset = stream_ref({"event.dataset": "nginx.access"}, "logs-x", PRIMARY, FALLBACK)
    assert only_dataset.key == "|nginx.access"
    nothing = stream_ref({}, "logs-x", PRIMARY, FALLBACK)
    assert nothing.key == "index:logs-x"
    clauses = nothing.query()["bool"]["filter"]
    assert nothing._absent("host.name") in clauses
    assert nothing._absent("event.dataset") in clauses
    assert {"term": {"_index": "logs-x"}} in clauses


def test_the_old_key_is_one_setting_away():
    """COLOG_STREAM_FIELDS=host.name,log.file.path and no fallback: the key before issue 21."""
    settings = Settings(stream_fields="host.name,log.file.path", stream_fallback_fields="")
    assert settings.stream_fallback_fields == []
    ref = stream_ref({"host.name": "ubuntu", "process.name": "su"}, "logs-x",
                     settings.stream_fields, settings.stream_fallback_fields)
    assert ref.key == "ubuntu|"


def test_exact_keyword_fields_take_the_terms_but_not_the_exists():
    from dataclasses import replace

    ref = replace(stream_ref({"host.name": "h", "process.name": "cron"}, "logs-x", PRIMARY,
                             FALLBACK), exact=(("host.name", "host.name.keyword"),
                                               ("process.name", "process.name.keyword")))
    text = str(ref.query())
    assert "'host.name.keyword': 'h'" in text and "'process.name.keyword': 'cron'" in text
    assert "{'exists': {'field': 'log.syslog.appname'}}" in text
    assert "{'term': {'log.syslog.appname': ''}}" in text


def test_partitions_are_stable_and_spread():
    keys = [f"host-{i}|/var/log/{i % 7}.log" for i in range(400)]
    first = [partition_of(k, 8) for k in keys]
    assert first == [partition_of(k, 8) for k in keys]
    counts = [first.count(p) for p in range(8)]
    assert min(counts) > 20, counts  # no partition starves: roughly uniform
    assert partition_of("x", 1) == 0


@pytest.mark.parametrize("source, status, words", [
    ({"@timestamp": "2026-01-01T00:00:00Z"}, STATUS_SKIPPED, "no message"),
    ({"@timestamp": "2026-01-01T00:00:00Z", "message": "   "}, STATUS_SKIPPED, "empty"),
    ({"@timestamp": "2026-01-01T00:00:00Z", "message": 42}, STATUS_FAILED, "not text"),
    ({"@timestamp": "2026-01-01T00:00:00Z", "message": {"a": 1}}, STATUS_FAILED, "not text"),
    ({"@timestamp": "2026-01-01T00:00:00Z", "message": "x" * 5000}, STATUS_FAILED, "over the limit"),
    ({"@timestamp": "2026-01-01T00:00:00Z", "message": "\x00\x01\x02binary\x03"}, STATUS_FAILED,
     "binary"),
    ({"message": "fine text"}, STATUS_FAILED, "no @timestamp"),
    ({"@timestamp": "yesterday", "message": "fine text"}, STATUS_FAILED, "bad @timestamp"),
])
def test_bad_documents_get_a_status_and_a_reason(source, status, words):
    rejection = check_document(source, max_message_bytes=4096)
    assert rejection is not None
    assert rejection.status == status
    assert words in rejection.reason


def test_good_documents_pass_including_unknown_fields_and_tabs():
    source = {"@timestamp": 1700000000000, "message": "GET /index.html\t200", "extra": [1, 2]}
    assert check_document(source, max_message_bytes=4096) is None


def test_dotted_and_nested_forms_of_a_key_field_with_two_values_fail_clearly():
    source = {"@timestamp": "2026-01-01T00:00:00Z", "message": "ok",
              "host.name": "a", "host": {"name": "b"}}
    rejection = check_document(source, 4096, ["host.name"])
    assert rejection is not None and rejection.status == STATUS_FAILED
    assert "host.name has two values" in rejection.reason
    same = {**source, "host": {"name": "a"}}
    assert check_document(same, 4096, ["host.name"]) is None


def test_stream_ref_is_hashable_and_comparable():
    assert StreamRef("a", (("host.name", "a"),)) == StreamRef("a", (("host.name", "a"),))


def test_two_class_scoring_covers_the_targets_neighbours_and_maps_back():
    """Buffer positions vs scored rows (the IndexError of a 2-class model): targets 3..5 of a
    buffer of 8, W = 1 context; their neighbours 2 and 6 are scored too, and each target finds
    its own row among the scored ones."""
    import numpy as np

    from colog.core.features.windows import rows_of, scored_positions, window_indices

    index = window_indices(["s"] * 8, 1, "context")
    targets = [3, 4, 5]
    rows = scored_positions(index, targets, point_only=True)
    assert rows.tolist() == [2, 3, 4, 5, 6]
    assert rows_of(rows, targets).tolist() == [1, 2, 3]
    # A 4-class model has a context head: only the targets are scored.
    assert scored_positions(index, targets, point_only=False).tolist() == targets
    # At the stream start the window holds -1: nothing before position 0 is asked for.
    assert scored_positions(index, [0], point_only=True).tolist() == [0, 1]
    with pytest.raises(ValueError, match="not scored"):
        rows_of(np.array([2, 3]), [3, 4])


def test_ingest_time_of_a_hit_for_the_latency_metric():
    from colog.services.enrich.stream_pass import _ingested_at

    hit = {"_source": {"event": {"ingested": "2026-12-02T10:00:00.500Z"}}}
    assert _ingested_at(hit) == pytest.approx(1796205600.5)
    assert _ingested_at({"_source": {"event.ingested": "2026-12-02T10:00:00Z"}}) == 1796205600.0
    assert _ingested_at({"_source": {}}) is None
    assert _ingested_at({"_source": {"event": {"ingested": "yesterday"}}}) is None
