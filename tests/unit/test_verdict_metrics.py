import numpy as np
import pytest

from colog.core.verdict import (
    Thresholds,
    anomaly_type,
    event_and_context_scores,
    neighbour_max,
    predicted_classes,
    verdicts,
)
from colog.services.train.metrics import classification_report
from colog.services.train.thresholds import choose_threshold, choose_thresholds


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
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1]])
    idx = np.array([[-1, 0, 1], [0, 1, 2], [1, 2, -1]])
    context = neighbour_max(probs[:, 1], idx, centre=1)
    np.testing.assert_allclose(context, [0.8, 0.1, 0.8])
    found = verdicts(outputs(probs), ["normal", "anomaly"], [["x"]] * 3, context_scores=context)
    assert [v.anomaly_type for v in found] == ["collective", "point", "collective"]
    assert anomaly_type(False, False) == "none"


def test_neighbour_max_refuses_a_neighbour_without_a_score():
    idx = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match="no point score"):
        neighbour_max(np.array([0.1, 0.2, np.nan]), idx, centre=1)


def test_thresholds_decide_labels_and_classes():
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]])
    at_half = verdicts(outputs(probs), ["normal", "anomaly"], [["x"]] * 3)
    at_quarter = verdicts(outputs(probs), ["normal", "anomaly"], [["x"]] * 3,
                          thresholds=Thresholds(0.25, 0.25))
    assert [v.label for v in at_half] == ["normal", "anomaly", "normal"]
    assert [v.label for v in at_quarter] == ["anomaly", "anomaly", "normal"]
    four = np.array([[0.5, 0.1, 0.3, 0.1], [0.1, 0.1, 0.1, 0.7]])
    classes = ["normal", "event", "context", "both"]
    # event 0.2 / 0.8, context 0.4 / 0.8
    assert predicted_classes(four, classes, Thresholds()).tolist() == [0, 3]
    assert predicted_classes(four, classes, Thresholds(0.9, 0.35)).tolist() == [2, 2]


def test_threshold_moves_from_half_only_for_a_real_gain():
    truth = np.array([0, 0, 0, 1, 1])
    score = np.array([0.05, 0.1, 0.2, 0.8, 0.9])
    # Every cut in (0.2, 0.8] separates perfectly: 0.5 stays.
    assert choose_threshold(truth, score) == 0.5
    # Best only above 0.7: the nearest of the best cuts to 0.5, not the far end.
    high = np.array([0.6, 0.65, 0.7, 0.8, 0.9])
    assert 0.7 < choose_threshold(truth, high) <= 0.72
    # A model that ranks well but scores low gets a low cut.
    low = np.array([0.01, 0.02, 0.03, 0.2, 0.3])
    assert choose_threshold(truth, low) <= 0.2
    assert choose_threshold(np.zeros(4), np.full(4, 0.9)) == 0.5  # one class: no judgement
    thresholds = choose_thresholds(truth, np.stack([1 - low, low], axis=1), ["normal", "anomaly"])
    assert thresholds.event == thresholds.context <= 0.2


def test_thresholds_round_trip_and_reject_nonsense():
    assert Thresholds.from_dict(Thresholds(0.3, 0.7).to_dict()) == Thresholds(0.3, 0.7)
    assert Thresholds.from_dict({}) == Thresholds()
    for bad in ({"event": 1.5}, {"context": 0}, {"event": "high"}, {"event": True}):
        with pytest.raises(ValueError, match="threshold"):
            Thresholds.from_dict(bad)
    with pytest.raises(ValueError, match="object"):
        Thresholds.from_dict([0.5])


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


def test_shadow_label_fields_cut_like_the_full_verdicts():
    import numpy as np

    from colog.core.verdict import Thresholds, label_fields, verdicts

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
    classes = ["normal", "event", "context", "both"]
    cuts = Thresholds(0.4, 0.6)
    outputs = {"probs": probs, "modality_weights": np.full((50, 2), 0.5),
               "context_attention": np.full((50, 3), 1 / 3),
               "token_attention": np.zeros((50, 4))}
    full = verdicts(outputs, classes, [["a", "b", "c", "d"]] * 50, thresholds=cuts)
    light = label_fields(probs, classes, cuts)
    assert [(v.label, v.score, v.context_label, v.context_score, v.anomaly_type) for v in full] \
        == [(r["label"], r["score"], r["context"]["label"], r["context"]["score"],
             r["anomaly_type"]) for r in light]
    assert {r["anomaly_type"] for r in light} == {"none", "point", "collective", "both"}


def test_triton_infer_refuses_unknown_outputs_before_any_call():
    import numpy as np
    import pytest

    from colog.core.serving.client import TritonClient
    from colog.core.settings import Settings

    client = TritonClient(Settings(triton_url="127.0.0.1:9"), retries=0)
    tokens = np.ones((1, 4), np.int64)
    sequence, mask = np.zeros((1, 3, 384), np.float32), np.ones((1, 3), np.float32)
    with pytest.raises(ValueError, match="outputs must be some of"):
        client.infer(tokens, sequence, mask, outputs=("probs", "logits"))
    with pytest.raises(ValueError, match="outputs must be some of"):
        client.infer(tokens, sequence, mask, outputs=())
