import numpy as np

from colog.verdict import anomaly_type, event_and_context_scores, verdicts
from trainer.metrics import classification_report


def outputs(probs, k=3, length=4):
    n = len(probs)
    return {
        "probs": np.asarray(probs, np.float32),
        "modality_weights": np.tile([0.3, 0.7], (n, 1)).astype(np.float32),
        "context_attention": np.full((n, k), 1 / k, np.float32),
        "token_attention": np.tile(np.array([0.1, 0.6, 0.3, 0.0], np.float32), (n, 1))[:, :length],
    }


def test_four_class_scores_and_types():
    classes = ["normal", "event", "context", "both"]
    probs = [[0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.05, 0.05, 0.1, 0.8], [0.9, 0.05, 0.03, 0.02]]
    event, context = event_and_context_scores(np.array(probs), classes)
    np.testing.assert_allclose(event, [0.8, 0.2, 0.85, 0.07], atol=1e-6)
    found = verdicts(outputs(probs), classes, [["a", "b", "c"]] * 4)
    assert [v.anomaly_type for v in found] == ["point", "collective", "both", "none"]
    assert [v.label for v in found] == ["anomaly", "normal", "anomaly", "normal"]
    assert [v.polarity for v in found] == ["negative", "positive", "negative", "positive"]
    assert found[0].attention_tokens[0] == "b"
    fields = found[0].as_fields()
    assert fields["attention"]["semantic"] + fields["attention"]["sequence"] == 1.0
    assert fields["context"]["label"] == "normal"


def test_two_class_context_comes_from_neighbours():
    probs = [[0.9, 0.1], [0.2, 0.8], [0.9, 0.1]]
    idx = np.array([[-1, 0, 1], [0, 1, 2], [1, 2, -1]])
    found = verdicts(outputs(probs), ["normal", "anomaly"], [["x"]] * 3, window_index=idx, centre=1)
    assert [v.anomaly_type for v in found] == ["collective", "point", "collective"]
    assert anomaly_type(False, False) == "none"


def test_classification_report_keys_and_undefined_auc():
    targets = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    report = classification_report(targets, probs, ["normal", "anomaly"])
    for key in ("macro_f1", "precision", "recall", "accuracy", "roc_auc", "pr_auc",
                "confusion_matrix", "classes"):
        assert key in report
    assert report["confusion_matrix"] == [[1, 1], [0, 2]]
    assert report["roc_auc"] == 1.0
    one_class = classification_report(np.array([0, 0]), probs[:2], ["normal", "anomaly"])
    assert one_class["roc_auc"] is None
