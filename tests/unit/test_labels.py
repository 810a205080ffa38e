import numpy as np
import pytest

from colog.core.labels import (
    WEAK_ANOMALY_PHRASES,
    LabelError,
    class_index,
    derive_context_labels,
    level_is_anomalous,
    negative_keywords_in,
    resolve_label,
    validate_label,
    weak_label,
    weak_reason,
)


def test_weak_label_from_level_and_phrases():
    assert weak_label("Connection established", "ERROR") == "anomaly"
    assert weak_label("Connection established", "INFO") == "normal"
    assert weak_label("Failed password for root", None) == "anomaly"
    assert weak_label("kernel: Out of memory: Kill process 4242", "INFO") == "anomaly"
    # Word boundaries: "exceptional" is not "exception", "failover" is not "failure".
    assert weak_label("exceptional throughput, failover test passed", "INFO") == "normal"
    assert negative_keywords_in("Could not connect: Connection refused") == ["connection refused"]


def test_routine_warnings_and_generic_words_are_not_weak_anomalies():
    # WARN is where services log retries and reconnects; generic words are everywhere.
    assert weak_label("Connection established", "warn") == "normal"
    assert weak_label("Interrupted while waiting for message on queue", "WARN") == "normal"
    assert weak_label("request timeout set to 30s, invalid entries 0", "INFO") == "normal"
    assert level_is_anomalous("warn")  # but WARN is anomalous for `colog convert --label-by-level`


def test_every_weak_rule_names_itself():
    assert weak_reason("all good", "FATAL") == "level FATAL"
    assert weak_reason("Failed password for root from 10.0.0.1", "INFO") == "phrase 'failed password'"
    assert weak_reason("all good", "INFO") is None
    assert all(reason for _, reason in WEAK_ANOMALY_PHRASES)


def test_explicit_labels_always_override_weak_rules():
    assert resolve_label("normal", "FATAL error everything failed", "FATAL") == ("normal", "explicit")
    assert resolve_label("anomaly", "all good", "INFO") == ("anomaly", "explicit")
    assert resolve_label(None, "all good", "INFO") == ("normal", "weak")


@pytest.mark.parametrize("bad", ["ANOMALOUS", "", None, 1, "abnormal"])
def test_invalid_label_values_are_rejected(bad):
    with pytest.raises(LabelError, match="must be one of"):
        validate_label(bad)


def test_context_label_derived_from_other_events_in_window():
    anomaly = np.array([False, True, False, False, False])
    idx = np.array([[-1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, -1]])
    context = derive_context_labels(anomaly, idx, centre=1)
    # Event 1 itself is anomalous, but its own context (0 and 2) is not.
    assert context.tolist() == [True, False, True, False, False]


def test_class_index_two_and_four_classes():
    event = np.array([0, 1, 0, 1], dtype=bool)
    context = np.array([0, 0, 1, 1], dtype=bool)
    assert class_index(event, None, 2).tolist() == [0, 1, 0, 1]
    assert class_index(event, context, 4).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        class_index(event, None, 4)
