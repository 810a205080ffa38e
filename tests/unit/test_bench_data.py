"""`colog bench`'s data sets come from files the project ships, and its table adds up."""

import json

import pytest

from colog.app import bench


def test_synthetic_documents_come_from_the_shipped_template_lists():
    docs = list(bench.synthetic_documents(200, seed=3))
    assert len(docs) == 200 and all("<*>" not in d["message"] for d in docs)
    assert {d["log"]["file"]["path"] for d in docs} == {f"/var/log/s{i}.log"
                                                       for i in range(bench.STREAMS)}
    assert docs == list(bench.synthetic_documents(200, seed=3))  # seeded
    assert all(p.is_relative_to(bench.TEMPLATES) for p in bench.template_files())


def test_missing_template_lists_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="HDFS_2k.log_templates.csv"):
        bench.template_files(tmp_path)


def test_syslog_sample_is_ecs_documents_of_two_hosts():
    docs = list(bench.syslog_documents())
    assert len(docs) == 3992
    assert {d["host"]["name"] for d in docs} == {"combo", "LabSZ"}
    assert all(d["message"] and d["process"]["name"] and d["@timestamp"].endswith("Z")
               for d in docs)
    with pytest.raises(FileNotFoundError, match="syslog sample"):
        list(bench.syslog_documents(bench.SYSLOG_SAMPLE.with_name("absent.ndjson")))


def test_syslog_lines_become_documents_and_bad_lines_are_refused():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_syslog_sample", bench.PROJECT_ROOT / "benchmarks" / "build_syslog_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = module.document("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
    assert doc["process"] == {"name": "sshd(pam_unix)", "pid": 19939}
    assert doc["message"] == "check pass; user unknown" and doc["host"]["name"] == "combo"
    assert json.loads(json.dumps(doc))["@timestamp"] == "2026-06-14T15:16:01Z"
    assert module.document("not a syslog line") is None


def test_stage_columns_and_other_add_up_to_the_wall_time():
    result = bench.BenchResult("demo data: x", 100, 2.0, stages={"read": 0.5, "write": 0.7})
    assert result.other_seconds == pytest.approx(0.8)
    table = bench.results_markdown([result], "test machine", "opensearch")
    row = next(line for line in table.splitlines() if line.startswith("| demo data: x"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in table.splitlines() if line.startswith("| scenario"))
    names = [c.strip() for c in header.strip("|").split("|")]
    stage_cells = [float(cells[i]) for i, n in enumerate(names)
                   if n.endswith(" s") and n != "seconds"]
    assert sum(stage_cells) == pytest.approx(float(cells[names.index("seconds")]), abs=0.02)
