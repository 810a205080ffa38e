import json

import pytest

from colog.core.records import RecordsError, read_records


def write(tmp_path, lines):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good(ts, msg, **extra):
    return json.dumps({"@timestamp": ts, "message": msg, **extra})


def test_reads_and_orders_by_time_within_stream(tmp_path):
    path = write(tmp_path, [
        good("2024-01-01T00:00:02Z", "b2", stream="b"),
        good("2024-01-01T00:00:03Z", "a2", stream="a", label="anomaly"),
        good("2024-01-01T00:00:01Z", "a1", stream="a"),
        good("2024-01-01T00:00:01", "b1", stream="b", level="INFO"),
    ])
    records = read_records(path)
    assert [r.message for r in records] == ["b1", "b2", "a1", "a2"]
    assert records[3].label == "anomaly"
    assert records[0].timestamp.tzinfo is not None


@pytest.mark.parametrize("line, reason", [
    (json.dumps({"@timestamp": "2024-01-01T00:00:00Z"}), "missing message"),
    (json.dumps({"@timestamp": "2024-01-01T00:00:00Z", "message": "  "}), "empty message"),
    (json.dumps({"@timestamp": "2024-01-01T00:00:00Z", "message": 5}), "message must be a string"),
    (json.dumps({"message": "x"}), "missing @timestamp"),
    (json.dumps({"@timestamp": "yesterday", "message": "x"}), "not ISO-8601"),
    (json.dumps({"@timestamp": "2024-01-01T00:00:00Z", "message": "x", "label": "bad"}),
     "label must be one of"),
    (json.dumps({"@timestamp": "2024-01-01T00:00:00Z", "message": "x", "context_label": "?"}),
     "context_label must be one of"),
    ('{"@timestamp": "2024-01-01T00:00:00Z", "message": ', "invalid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_each_bad_record_is_reported_with_its_line_number(tmp_path, line, reason):
    path = write(tmp_path, [good("2024-01-01T00:00:00Z", "fine"), line])
    with pytest.raises(RecordsError) as info:
        read_records(path)
    assert info.value.problems[0][0] == 2
    assert reason in info.value.problems[0][1]
    assert f"{path}:2:" in str(info.value)


def test_empty_file_and_missing_file(tmp_path):
    with pytest.raises(RecordsError, match="no records"):
        read_records(write(tmp_path, [""]))
    with pytest.raises(FileNotFoundError):
        read_records(tmp_path / "absent.jsonl")


def test_binary_file_is_rejected_clearly(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(RecordsError, match="not UTF-8"):
        read_records(path)


def test_chronological_split_per_stream_keeps_every_source_in_validation():
    import numpy as np

    from colog.services.train.dataset import chronological_split

    # Source "a" logs in 2015, source "b" in 2020: a global split would validate on "b" only.
    timestamps = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 101.0, 102.0, 103.0, 104.0])
    groups = ["a"] * 5 + ["b"] * 5
    train, valid = chronological_split(timestamps, [0.8, 0.2], groups)
    assert valid.tolist() == [4, 9]
    assert sorted(train.tolist() + valid.tolist()) == list(range(10))
    _, global_valid = chronological_split(timestamps, [0.8, 0.2])
    assert global_valid.tolist() == [8, 9]
