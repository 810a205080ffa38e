"""`colog ingest` line handling without a server: every bad line is reported with its number."""

import pytest

from colog.core.parsing.formats import FormatError
from colog.services.enrich.ingest import jsonl_documents, raw_documents


def test_jsonl_lines_become_documents_or_numbered_rejections(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join([
        b'{"@timestamp": "2026-11-01T00:00:00Z", "message": "ok one", "stream": "s1", '
        b'"label": "anomaly", "level": "ERROR"}',
        b'{not json',
        b'{"@timestamp": "2026-11-01T00:00:00Z"}',
        b'{"@timestamp": "last tuesday", "message": "x"}',
        b'{"@timestamp": "2026-11-01T00:00:00Z", "message": "x", "label": "maybe"}',
        b'\xff\xfe binary',
        b'',
        b'{"@timestamp": "2026-11-01T00:00:01Z", "message": "ok two"}',
    ]))
    results = list(jsonl_documents(path, host="h1", labels_as_feedback=True))
    docs = [(line, doc) for line, doc, reason in results if doc is not None]
    rejected = {line: reason for line, doc, reason in results if doc is None}
    assert [line for line, _ in docs] == [1, 8]
    first = docs[0][1]
    assert first["host"]["name"] == "h1" and first["log"]["file"]["path"] == "s1"
    assert first["log"]["level"] == "ERROR"
    assert first["colog"]["feedback"]["label"] == "anomaly"
    assert set(rejected) == {2, 3, 4, 5, 6}
    assert "invalid JSON" in rejected[2]
    assert "message" in rejected[3]
    assert "@timestamp" in rejected[4]
    assert "label" in rejected[5]
    assert "UTF-8" in rejected[6]


def test_labels_are_dropped_unless_asked(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"@timestamp": "2026-11-01T00:00:00Z", "message": "m", "label": "anomaly"}\n')
    (_, doc, _), = list(jsonl_documents(path, host="h", labels_as_feedback=False))
    assert "colog" not in doc


def test_raw_log_lines_keep_level_apart_from_the_message(tmp_path):
    path = tmp_path / "zk.log"
    path.write_text(
        "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774]"
        " - Notification time out: 3200\n"
        "garbage that is not a zookeeper line\n")
    results = list(raw_documents(path, "Zookeeper", host="zk-1"))
    (line, doc, _), (bad_line, bad, reason) = results
    assert line == 1 and doc["log"]["level"] == "INFO"
    assert "INFO" not in doc["message"] and doc["message"].startswith("Notification time out")
    assert bad_line == 2 and bad is None and reason


def test_unknown_format_is_a_clear_error(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("x\n")
    with pytest.raises(FormatError, match="unknown format"):
        list(raw_documents(path, "NoSuchFormat", host="h"))
