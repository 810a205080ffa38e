"""Write-back outcomes per bulk item, against the real OpenSearch: conflicts, deletions, blocks."""

import pytest

from colog.services.enrich.writer import Update, write_updates

pytestmark = pytest.mark.integration
INDEX = "logs-writer-1"


@pytest.fixture()
def index(opensearch):
    opensearch.delete_index(INDEX)
    opensearch.create_index(INDEX)
    yield INDEX
    opensearch.put_index_settings(INDEX, {"index.blocks.write": False})
    opensearch.delete_index(INDEX)


def _doc(client, doc_id, source):
    client.index(INDEX, id=doc_id, document=source, refresh=True)
    got = client.get(index=INDEX, id=doc_id)
    return got["_seq_no"], got["_primary_term"]


VERDICT = {"status": "enriched", "label": "normal", "score": 0.1}


def test_conflict_with_analyst_feedback_is_retried_and_keeps_the_feedback(opensearch, index):
    seq, term = _doc(opensearch, "a", {"message": "m"})
    # An analyst labels the document after the worker read it: the worker's seq_no is stale.
    opensearch.update(index, "a", partial={"colog": {"feedback": {
        "label": "anomaly", "by": "ana"}}}, refresh=True)
    report = write_updates(opensearch, [Update(index, "a", seq, term, dict(VERDICT))])
    assert report.conflicts_resolved == 1 and report.written["enriched"] == 1
    colog = opensearch.get(index=index, id="a")["_source"]["colog"]
    assert colog["feedback"] == {"label": "anomaly", "by": "ana"}
    assert colog["status"] == "enriched"


def test_conflict_with_a_finished_document_leaves_it_alone(opensearch, index):
    seq, term = _doc(opensearch, "b", {"message": "m"})
    opensearch.update(index, "b", partial={"colog": {
        "status": "enriched", "label": "anomaly", "score": 0.9}}, refresh=True)
    report = write_updates(opensearch, [Update(index, "b", seq, term, dict(VERDICT))])
    assert report.already_final == 1 and not report.written
    assert opensearch.get(index=index, id="b")["_source"]["colog"]["label"] == "anomaly"


def test_deleted_document_is_counted_not_recreated(opensearch, index):
    seq, term = _doc(opensearch, "c", {"message": "m"})
    opensearch.delete(index=index, id="c", refresh=True)
    report = write_updates(opensearch, [Update(index, "c", seq, term, dict(VERDICT))])
    assert report.deleted == 1
    assert not opensearch.exists(index=index, id="c")


def test_identical_replay_is_a_noop(opensearch, index):
    _doc(opensearch, "d", {"message": "m"})
    first = opensearch.get(index=index, id="d")
    write_updates(opensearch, [Update(index, "d", first["_seq_no"], first["_primary_term"],
                                      dict(VERDICT))])
    again = opensearch.get(index=index, id="d")
    report = write_updates(opensearch, [Update(index, "d", again["_seq_no"],
                                               again["_primary_term"], dict(VERDICT))])
    assert report.noop == 1
    assert opensearch.get(index=index, id="d")["_seq_no"] == again["_seq_no"]


def test_rejected_write_is_reported_never_dropped_silently(opensearch, index):
    seq, term = _doc(opensearch, "e", {"message": "m"})
    opensearch.put_index_settings(index, {"index.blocks.write": True})
    report = write_updates(opensearch, [Update(index, "e", seq, term, dict(VERDICT))],
                           max_attempts=2, backoff_s=0.01)
    assert [doc_id for doc_id, _ in report.unwritten] == ["e"]
    assert "cluster_block_exception" in report.unwritten[0][1]
