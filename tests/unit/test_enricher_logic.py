"""Pure logic of the enricher: stream keys, partitions, document validation."""

import pytest

from colog.core.fields import STATUS_FAILED, STATUS_SKIPPED
from colog.core.engine.streams import StreamRef, partition_of, stream_of_hit, stream_ref
from colog.services.enrich.validation import check_document

PRIMARY = ["host.name", "log.file.path"]
FALLBACK = ["event.dataset"]


def test_stream_key_from_primary_fields_nested_or_dotted():
    nested = {"_index": "logs-a", "_source": {"host": {"name": "web-1"},
                                               "log": {"file": {"path": "/var/log/app.log"}}}}
    dotted = {"_index": "logs-b", "_source": {"host.name": "web-1",
                                               "log.file.path": "/var/log/app.log"}}
    a = stream_of_hit(nested, PRIMARY, FALLBACK)
    b = stream_of_hit(dotted, PRIMARY, FALLBACK)
    assert a.key == b.key == "web-1|/var/log/app.log"  # one stream across daily indices


def test_stream_key_falls_back_to_dataset_then_index():
    only_dataset = stream_ref({"event.dataset": "nginx.access"}, "logs-x", PRIMARY, FALLBACK)
    assert only_dataset.key == "event.dataset:nginx.access"
    nothing = stream_ref({}, "logs-x", PRIMARY, FALLBACK)
    assert nothing.key == "index:logs-x"
    # The filter of the fallback stream excludes documents that do have a primary field.
    must_not = nothing.query()["bool"]["must_not"]
    assert {"exists": {"field": "host.name"}} in must_not
    assert {"exists": {"field": "event.dataset"}} in must_not
    assert {"term": {"_index": "logs-x"}} in nothing.query()["bool"]["filter"]


def test_partial_primary_fields_select_exactly_that_stream():
    ref = stream_ref({"host.name": "db-1"}, "logs-x", PRIMARY, FALLBACK)
    assert ref.key == "db-1|"
    query = ref.query()["bool"]
    assert {"term": {"host.name": "db-1"}} in query["filter"]
    assert {"exists": {"field": "log.file.path"}} in query["must_not"]


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


def test_stream_ref_is_hashable_and_comparable():
    assert StreamRef("a", (("host.name", "a"),)) == StreamRef("a", (("host.name", "a"),))


def test_two_class_scoring_covers_the_targets_neighbours_and_maps_back():
    """Buffer positions vs scored rows (the IndexError of a 2-class model): targets 3..5 of a
    buffer of 8, W = 1 context; their neighbours 2 and 6 are scored too, and each target finds
    its own row among the scored ones."""
    import numpy as np

    from colog.core.features.windows import window_indices
    from colog.core.features.windows import rows_of, scored_positions

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
