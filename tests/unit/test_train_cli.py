"""`colog train` then `colog evaluate` end to end on a small generated JSONL, and bad input."""

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from colog.app.cli import app

# Wide terminal: rich would otherwise wrap long tmp paths in error messages.
runner = CliRunner(env={"COLUMNS": "500"})


def records(n_per_stream: int = 100, seed: int = 7) -> list[dict]:
    """Two streams; every 10th event is an anomaly worded unlike the normal ones."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    rows = []
    for offset, stream in enumerate(("web-1", "db-1")):
        for i in range(n_per_stream):
            anomaly = i % 10 == 7
            message = (f"disk controller fault on sector {rng.randint(1, 999)} unrecoverable"
                       if anomaly else
                       f"request served path /api/v{rng.randint(1, 3)} in {rng.randint(1, 90)} ms")
            rows.append({"@timestamp": (start + timedelta(seconds=5 * i + offset)).isoformat(),
                         "message": message, "stream": stream,
                         "label": "anomaly" if anomaly else "normal"})
    return rows


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("train_cli")
    data = base / "train.jsonl"
    write_jsonl(data, records())
    model = base / "model"
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(model),
                                 "--epochs", "2", "--max-tokens", "16", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return base, data, model, result


def test_train_writes_a_self_contained_model_dir(trained):
    _, _, model, result = trained
    assert result.stdout.strip().endswith(str(model))
    names = {p.name for p in model.iterdir()}
    assert {"model.safetensors", "config.json", "classes.json", "feature_config.json",
            "metrics.json", "version.json", "tokenizer.json"} <= names
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and len(metrics["history"]) == 2
    assert json.loads((model / "classes.json").read_text()) == ["normal", "anomaly"]
    features = json.loads((model / "feature_config.json").read_text())
    assert features["max_tokens"] == 16 and features["sequence_mode"] == "context"


def test_memory_holds_the_validation_labels_too(trained):
    """No refit by default: the network is the validated one, but the template memory counts
    every labelled event, the validation split's (the newest) included."""
    _, _, model, _ = trained
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["refit"]["enabled"] is False and metrics["valid_size"] > 0
    counts = json.loads((model / "memory.json").read_text())["counts"]
    assert sum(sum(c) for c in counts.values()) == len(records())
    assert sum(c[1] for c in counts.values()) == sum(r["label"] == "anomaly" for r in records())


def test_evaluate_json_and_plots(trained):
    base, data, model, _ = trained
    plots = base / "plots"
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(data),
                                 "--json", "--plots", str(plots)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("macro_f1", "precision", "recall", "accuracy", "roc_auc", "pr_auc",
                "confusion_matrix", "classes"):
        assert key in report, key
    assert report["classes"] == ["normal", "anomaly"]
    assert sum(map(sum, report["confusion_matrix"])) == 200
    assert 0.0 <= report["macro_f1"] <= 1.0
    for name in ("confusion_matrix.png", "roc_curve.png", "pr_curve.png"):
        png = plots / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reports_a_broken_model_dir(trained, tmp_path):
    _, data, _, _ = trained
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "missing"),
                                 "--data", str(data), "--json"])
    assert result.exit_code != 0
    assert "does not exist" in " ".join(result.output.split())  # rich wraps long lines


GOOD = {"@timestamp": "2024-03-01T00:00:00Z", "message": "request served", "label": "normal"}


@pytest.mark.parametrize("bad_line, reason", [
    (json.dumps({"@timestamp": "2024-03-01T00:00:09Z", "label": "normal"}), "missing message"),
    (json.dumps({"@timestamp": "last tuesday", "message": "x"}), "not ISO-8601"),
    (json.dumps({"@timestamp": "2024-03-01T00:00:09Z", "message": "x", "label": "weird"}),
     "label must be one of"),
    ('{"@timestamp": "2024-03-01T00:00:09Z", "message": ', "invalid JSON"),
])
def test_bad_record_fails_with_line_number_and_writes_no_model(tmp_path, bad_line, reason):
    data = tmp_path / "bad.jsonl"
    lines = [json.dumps(GOOD | {"@timestamp": f"2024-03-01T00:00:0{i}Z"}) for i in range(3)]
    lines.insert(2, bad_line)  # line 3
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(out),
                                 "--epochs", "1"])
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert f"{data}:3:" in output and reason in output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.jsonl"]
