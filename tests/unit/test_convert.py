"""`colog convert`: real Loghub lines in, JSONL records out that `colog train` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from colog.app.cli import app
from colog.core.records import read_records

runner = CliRunner()

# Real Hadoop_2k.log lines, deliberately out of time order (line 3 is the earliest).
HADOOP = (
    "2015-10-18 18:05:27,570 WARN [LeaseRenewer:msrabi@msra-sa-41:9000] "
    "org.apache.hadoop.ipc.Client: Address change detected. Old: msra-sa-41/10.190.173.170:9000 "
    "New: msra-sa-41:9000\n"
    "2015-10-18 18:04:11,034 ERROR [RMCommunicator Allocator] "
    "org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Container complete event for "
    "unknown container id container_1445144423722_0020_01_000001\n"
    "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: "
    "Created MRAppMaster for application appattempt_1445144423722_0020_000001\n"
)
# Real HPC_2k.log lines from two nodes.
HPC = (
    "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: "
    "Component \\042alt0\\042 is in the unavailable state (HWID=1973)\n"
    "350766 node-109 unix.hw state_change.unavailable 1084680778 1 Component State Change: "
    "Component \\042alt0\\042 is in the unavailable state (HWID=3180)\n"
    "344518 node-246 unix.hw state_change.unavailable 1077804741 1 Component State Change: "
    "Component \\042alt0\\042 is in the unavailable state (HWID=5089)\n"
)


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _invoke(*args: str):
    return runner.invoke(app, ["convert", *map(str, args)])


def _records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_level_labels_time_order_and_round_trip_into_train(tmp_path):
    log = _write(tmp_path, "Hadoop_2k.log", HADOOP)
    result = _invoke("--format", "Hadoop", "--label-rule", "level", log)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert [r["@timestamp"] for r in records] == [
        "2015-10-18T18:01:47.978Z", "2015-10-18T18:04:11.034Z", "2015-10-18T18:05:27.570Z"]
    assert [(r["level"], r["label"]) for r in records] == [
        ("INFO", "normal"), ("ERROR", "anomaly"), ("WARN", "anomaly")]
    assert {r["stream"] for r in records} == {"Hadoop_2k"}
    assert records[0]["message"].startswith("Created MRAppMaster")
    assert "3 record(s)" in result.stderr and "0 unparsable" in result.stderr

    out = _write(tmp_path, "out.jsonl", result.stdout)
    back = read_records(out)
    assert [r.message for r in back] == [r["message"] for r in records]
    assert [r.label for r in back] == ["normal", "anomaly", "anomaly"]


def test_host_field_splits_streams_and_stream_option_names_them(tmp_path):
    log = _write(tmp_path, "HPC_2k.log", HPC)
    result = _invoke("-f", "hpc", "--stream", "cluster", log)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert [r["stream"] for r in records] == ["cluster/node-246", "cluster/node-246",
                                              "cluster/node-109"]
    assert "HWID=5089" in records[0]["message"]  # earlier epoch first within node-246
    assert all("label" not in r and "level" not in r for r in records)


def test_bad_lines_are_reported_with_numbers_and_counted(tmp_path):
    data = (HADOOP.encode() + b"\x00\x01binary\xff\xfe\n" + b"not a hadoop line\n\n"
            + b"2015-13-45 18:01:47,978 INFO [main] a.B: bad month\n")
    log = _write(tmp_path, "mixed.log", data)
    result = _invoke("--format", "Hadoop", log)
    assert result.exit_code == 0
    assert len(_records(result.stdout)) == 3
    assert f"{log}:4: not UTF-8" in result.stderr
    assert f"{log}:5: does not match" in result.stderr
    assert f"{log}:7: bad timestamp" in result.stderr
    assert "3 unparsable" in result.stderr
    strict = _invoke("--format", "Hadoop", "--strict", log)
    assert strict.exit_code == 1 and len(_records(strict.stdout)) == 3


@pytest.mark.parametrize("content", ["", "\n\n", "garbage\nmore garbage\n"])
def test_nothing_parsed_exits_non_zero(tmp_path, content):
    log = _write(tmp_path, "empty.log", content)
    result = _invoke("--format", "HDFS", log)
    assert result.exit_code == 1
    assert "no line of" in result.stderr and result.stdout == ""


def test_usage_errors(tmp_path):
    log = _write(tmp_path, "x.log", HADOOP)
    unknown = _invoke("--format", "nope", log)
    assert unknown.exit_code == 2 and "unknown format 'nope'" in unknown.stderr
    missing = _invoke("--format", "HDFS", tmp_path / "absent.log")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    no_level = _invoke("--format", "Linux", "--label-rule", "level", log)
    assert no_level.exit_code == 2 and "has no level field" in no_level.stderr
    bad_rule = _invoke("--format", "HDFS", "--label-rule", "maybe", log)
    assert bad_rule.exit_code == 2 and "--label-rule" in bad_rule.stderr
    no_format = _invoke(log)
    assert no_format.exit_code == 2 and "--format is required" in no_format.stderr


def test_custom_spec_and_year(tmp_path):
    log = _write(tmp_path, "app.log", "Mar 02 10:00:00 web1 ERROR disk failed\n"
                                      "Mar 02 10:00:01 web2 INFO disk ok\n")
    result = _invoke("--format", "custom", "--format-spec", "<Month> <Day> <Time> <Host> "
                     "<Level> <Content>", "--time-format", "%b %d %H:%M:%S",
                     "--time-fields", "Month,Day,Time", "--year", "2023",
                     "--label-rule", "level", log)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert records[0] == {"@timestamp": "2023-03-02T10:00:00.000Z", "message": "disk failed",
                          "stream": "app/web1", "level": "ERROR", "label": "anomaly"}
    assert records[1]["stream"] == "app/web2" and records[1]["label"] == "normal"


def test_jsonl_passthrough_keeps_explicit_labels(tmp_path):
    rows = [{"@timestamp": "2024-01-01T00:00:01Z", "message": "b", "level": "ERROR",
             "label": "normal", "stream": "s1"},
            {"@timestamp": "2024-01-01T00:00:00Z", "message": "a", "level": "ERROR"}]
    log = _write(tmp_path, "in.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = _invoke("--format", "jsonl", "--label-rule", "level", "--stream", "dflt", log)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert records[0]["label"] == "normal" and records[0]["stream"] == "s1"
    assert records[1]["label"] == "anomaly" and records[1]["stream"] == "dflt"


def test_list_formats_names_every_sample():
    result = _invoke("--list-formats")
    assert result.exit_code == 0
    for name in ("HDFS", "Thunderbird", "Proxifier", "jsonl", "plain", "custom"):
        assert name in result.stdout
