"""The engine interface (colog.engine) against the session's real node, whichever engine it is:
what the enricher and the trainer rely on, operation by operation."""

from __future__ import annotations

import uuid

import pytest

from colog.core.engine import as_engine, errors
from colog.core.engine.reader import PIT_KEEP_ALIVE, point_in_time, stream_sort

pytestmark = pytest.mark.integration


@pytest.fixture()
def index(opensearch):
    name = f"colog-engine-{uuid.uuid4().hex[:8]}"
    yield name
    opensearch.delete_index(name)


def test_the_node_is_the_configured_engine_and_version(opensearch, stack_settings):
    info = opensearch.info()
    assert opensearch.kind == stack_settings.engine
    assert opensearch.version()[0] >= 2 and info["version"]["number"]


def test_pit_scan_with_search_after_sees_every_document_once_in_order(opensearch, index):
    # Three documents per timestamp, all with the same sequence: only the engine's tie-breaker
    # tells them apart, and a page boundary falls inside such a group.
    docs = [{"@timestamp": f"2026-11-01T00:00:{i // 3:02d}Z", "event": {"sequence": 0},
             "message": f"m{i}"} for i in range(25)]
    ok = [ok for ok, _ in opensearch.stream_bulk(
        ({"_op_type": "create", "_index": index, "_id": f"d{i}", "_source": d}
         for i, d in enumerate(docs)), chunk_size=7)]
    assert ok == [True] * 25
    opensearch.refresh(index, lenient=False)
    with point_in_time(opensearch, index) as pit:
        seen, after = [], None
        while True:
            body = {"size": 4, "sort": stream_sort(opensearch), "track_total_hits": False,
                    "pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE}}
            if after is not None:
                body["search_after"] = after
            hits = opensearch.search(body)["hits"]["hits"]
            seen += [h["_source"]["message"] for h in hits]
            if len(hits) < 4:
                break
            after = hits[-1]["sort"]
    assert len(seen) == 25 and len(set(seen)) == 25
    assert [int(m[1:]) // 3 for m in seen] == sorted(i // 3 for i in range(25))


def test_guarded_partial_update_conflicts_on_a_stale_sequence_number(opensearch, index):
    opensearch.index(index, {"message": "x"}, "a", refresh=True)
    doc = opensearch.get(index, "a")
    opensearch.update(index, "a", {"colog": {"feedback": {"label": "anomaly"}}}, refresh=True)
    answer = opensearch.bulk([
        {"update": {"_index": index, "_id": "a", "if_seq_no": doc["_seq_no"],
                    "if_primary_term": doc["_primary_term"]}},
        {"doc": {"colog": {"status": "enriched"}}}], refresh=True)
    assert answer["items"][0]["update"]["status"] == 409
    fresh = opensearch.get(index, "a", source_includes=["colog.feedback"])
    assert fresh["_source"] == {"colog": {"feedback": {"label": "anomaly"}}}
    with pytest.raises(errors.Conflict):
        opensearch.index(index, {"message": "y"}, "a", if_seq_no=doc["_seq_no"],
                         if_primary_term=doc["_primary_term"])


def test_errors_are_the_engine_neutral_classes(opensearch, index):
    with pytest.raises(errors.NotFound) as missing:
        opensearch.get(index, "nope")
    assert missing.value.status_code == 404 and missing.value.engine == opensearch.kind
    with pytest.raises(errors.BadRequest):
        opensearch.search({"query": {"no_such_query": {}}}, index, lenient=True)
    opensearch.create_index(index)
    with pytest.raises(errors.EngineError) as exists:
        opensearch.create_index(index)
    assert exists.value.error_type == "resource_already_exists_exception"


def test_lenient_reads_of_a_pattern_that_matches_nothing_answer_empty(opensearch):
    pattern = f"colog-none-{uuid.uuid4().hex[:8]}-*"
    assert opensearch.count(pattern, {"match_all": {}}, lenient=True) == 0
    assert opensearch.search({"size": 1}, pattern, lenient=True)["hits"]["hits"] == []
    assert opensearch.list_indices(pattern) == []
    assert not opensearch.index_exists(pattern, allow_no_indices=False)


def test_templates_round_trip(opensearch):
    name = f"colog-test-{uuid.uuid4().hex[:8]}"
    body = {"template": {"mappings": {"properties": {"x": {"type": "keyword"}}}},
            "_meta": {"managed_by": "colog-test"}}
    opensearch.put_component_template(name, body)
    try:
        assert opensearch.get_component_template(name)["_meta"] == body["_meta"]
        opensearch.put_index_template(name, {"index_patterns": [f"{name}-*"],
                                             "composed_of": [name], "priority": 1})
        assert opensearch.index_templates()[name]["composed_of"] == [name]
    finally:
        opensearch.native.indices.delete_index_template(name=name)
        opensearch.native.cluster.delete_component_template(name=name)
    assert opensearch.get_component_template(name) is None


def test_the_pipeline_is_installed_exactly_where_the_node_has_the_set_processor(
        opensearch, stack_settings):
    from colog.services.enrich.setup import PIPELINE, SetupReport, install_pipeline

    report = SetupReport()
    install_pipeline(opensearch, stack_settings, report)
    if "set" in opensearch.ingest_processors():
        assert opensearch.get_pipeline(PIPELINE) is not None
    else:
        assert opensearch.get_pipeline(PIPELINE) is None
        assert any("no `set` processor" in note for note in report.notes), report.notes


def test_as_engine_wraps_the_raw_client_of_the_same_engine(opensearch):
    wrapped = as_engine(opensearch.native)
    assert type(wrapped) is type(opensearch) and wrapped.info() == opensearch.info()
    with pytest.raises(TypeError):
        as_engine(object())
