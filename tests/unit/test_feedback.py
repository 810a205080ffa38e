"""Pure logic of the feedback loop: label precedence, the holdout, the gate, the retrain lock,
and CLI input validation that needs no server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from colog.app.cli import app
from colog.services.train.export import in_holdout, merge_label
from colog.services.train.release import gate

runner = CliRunner(env={"COLUMNS": "200"})


# --- precedence ---------------------------------------------------------------------------------

def test_feedback_beats_source_label_and_weak_label():
    source = {"message": "kernel panic", "log": {"level": "ERROR"}, "label": "anomaly",
              "colog": {"feedback": {"label": "normal", "context_label": "anomaly"}}}
    assert merge_label(source) == ("normal", "anomaly", "feedback", None)


def test_flat_dotted_feedback_is_read_too():
    assert merge_label({"colog.feedback.label": "ANOMALY "})[:3] == ("anomaly", None, "feedback")


def test_source_label_beats_weak_label():
    source = {"message": "all fine", "log": {"level": "ERROR"}, "label": "normal"}
    assert merge_label(source) == ("normal", None, "source", None)


def test_unlabelled_documents_fall_back_to_weak_labels():
    assert merge_label({"message": "quota exceeded", "label": {"x": 1}})[:3] == (None, None,
                                                                                 "weak")


def test_invalid_feedback_is_ignored_and_reported_not_fatal():
    label, context, origin, problem = merge_label(
        {"label": "anomaly", "colog": {"feedback": {"label": "anomalous"}}})
    assert (label, origin) == ("anomaly", "source")
    assert "colog.feedback.label must be one of" in problem and "anomalous" in problem


def test_invalid_feedback_context_keeps_the_event_label():
    label, context, origin, problem = merge_label(
        {"colog": {"feedback": {"label": "normal", "context_label": 3}}})
    assert (label, context, origin) == ("normal", None, "feedback")
    assert "context_label" in problem


# --- holdout --------------------------------------------------------------------------------

def test_holdout_is_fixed_per_id_and_near_the_fraction():
    ids = [f"doc-{i}" for i in range(4000)]
    first = [in_holdout(i, 0.2) for i in ids]
    assert first == [in_holdout(i, 0.2) for i in ids]  # reproducible
    assert 0.17 < sum(first) / len(ids) < 0.23
    # Growing the fraction only adds documents: nothing moves from holdout into training.
    assert all(in_holdout(i, 0.3) for i, h in zip(ids, first) if h)
    assert not any(in_holdout(i, 0.0) for i in ids)


# --- gate -------------------------------------------------------------------------------------

def report(f1: float, classes=("normal", "anomaly"), point: float | None = None) -> dict:
    r = {"classes": list(classes), "macro_f1": f1, "precision": f1, "recall": f1,
         "accuracy": f1}
    if point is not None:
        r["point"] = {"macro_f1": point}
    return r


def test_gate_passes_equal_or_better_and_refuses_worse():
    assert gate(report(0.80), report(0.80), 0.0).passed
    assert gate(report(0.90), report(0.80), 0.0).passed
    refused = gate(report(0.79), report(0.80), 0.0)
    assert not refused.passed and "refused" in refused.reason and "0.7900" in refused.reason


def test_gate_margin_allows_a_slightly_lower_candidate():
    assert gate(report(0.78), report(0.80), 0.03).passed
    assert not gate(report(0.76), report(0.80), 0.03).passed


def test_gate_without_live_model_passes():
    result = gate(report(0.1), None, 0.0)
    assert result.passed and "no live model" in result.reason


def test_gate_compares_point_view_when_heads_differ():
    four = report(0.30, ("normal", "event", "context", "both"), point=0.95)
    result = gate(four, report(0.90), 0.0)
    assert result.passed and result.metric == "point.macro_f1"
    assert result.candidate_f1 == 0.95 and result.live_f1 == 0.90


# --- CLI input checks that fail before any server is asked ------------------------------------

@pytest.mark.parametrize("args, words", [
    (["label", "--id", "x", "--label", "bad"], "--label must be one of"),
    (["label", "--id", "x", "--label", "normal", "--context-label", "?"],
     "--context-label must be one of"),
    (["label", "--label", "normal"], "exactly one of --id or --query"),
    (["label", "--id", "x", "--query", "y", "--label", "normal"], "exactly one of --id or --query"),
    (["train", "--from-opensearch", "--data", "x.jsonl"], "drop --data"),
    (["train", "--from-opensearch", "--classes", "3"], "--classes must be 2 or 4"),
    (["train"], "--data and --out are required"),
])
def test_cli_rejects_bad_input_before_touching_servers(args, words, monkeypatch):
    monkeypatch.setenv("COLOG_OPENSEARCH_URL", "http://127.0.0.1:1")  # nothing must be asked
    from colog.core.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, args)
    get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())


def test_publish_rejects_a_malformed_model_directory(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = runner.invoke(app, ["publish", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a usable model directory" in " ".join(result.output.split())
