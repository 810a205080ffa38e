"""Drift measures: divergences, shares and which thresholds a comparison crosses."""

import math

import pytest

from colog.services.drift.measures import (
    DriftThresholds,
    WindowCounts,
    histogram_mean,
    js_divergence,
    measure,
    share_outside,
)
from colog.services.drift.profile import (
    build_profile,
    fine_tuned_profile,
    read_profile,
    usable,
    write_profile,
)

LIMITS = DriftThresholds(min_events=10, templates_js=0.5, new_share=0.3, unseen_share=0.3,
                         score_js=0.3)


def test_js_divergence_bounds_and_symmetry():
    p, q = {"a": 8, "b": 2}, {"a": 2, "b": 8}
    assert js_divergence(p, p) == pytest.approx(0.0)
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))
    assert 0.0 < js_divergence(p, q) < 1.0
    assert js_divergence({"a": 5}, {"b": 5}) == pytest.approx(1.0)  # disjoint: the maximum
    # scale of the counts does not matter, only the frequencies
    assert js_divergence({"a": 80, "b": 20}, q) == pytest.approx(js_divergence(p, q))


def test_js_divergence_known_value():
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4)
    expected = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75)
                                                   + 0.5 * math.log2(0.5 / 0.25))
    assert js_divergence({"a": 1}, {"a": 1, "b": 1}) == pytest.approx(expected)


def test_js_divergence_refuses_an_empty_side():
    with pytest.raises(ValueError, match="at least one count"):
        js_divergence({}, {"a": 1})


def test_share_outside_and_histogram_mean():
    assert share_outside({"a": 3, "b": 1}, {"a"}) == pytest.approx(0.25)
    assert share_outside({}, {"a"}) == 0.0
    assert histogram_mean({0.0: 1, 0.9: 1}) == pytest.approx((0.025 + 0.925) / 2)
    assert histogram_mean({}) is None


def _window(templates, scores=None):
    return WindowCounts({k: float(v) for k, v in templates.items()},
                        {k: float(v) for k, v in (scores or {0.0: sum(templates.values())}).items()})


def test_a_stable_stream_does_not_drift():
    m = measure("stream", "logs", "s", _window({"a": 50, "b": 50}), _window({"a": 55, "b": 45}),
                "trailing", {"a", "b"}, LIMITS)
    assert not m.drifted and m.templates_js < 0.01 and m.unseen_share == 0.0


def test_new_templates_cross_every_template_threshold():
    m = measure("stream", "logs", "s", _window({"x": 60, "y": 40}), _window({"a": 50, "b": 50}),
                "trailing", {"a", "b"}, LIMITS)
    assert set(m.reasons) == {"template_frequencies", "new_templates", "unseen_templates"}
    assert m.new_templates == 2 and m.new_share == pytest.approx(1.0)


def test_score_shift_alone_is_reported():
    m = measure("stream", "logs", "s", _window({"a": 100}, {0.9: 100}),
                _window({"a": 100}, {0.0: 100}), "trailing", None, LIMITS)
    assert m.reasons == ["score_distribution"]
    assert m.unseen_share is None  # no training profile: no unseen share
    assert m.score_mean_recent > m.score_mean_reference


def test_too_few_events_give_no_verdict():
    m = measure("stream", "logs", "s", _window({"x": 5}), _window({"a": 100}), "trailing",
                {"a"}, LIMITS)
    assert not m.drifted and "too few recent events" in m.note and m.templates_js is None
    # few reference events: only the comparison with training is possible
    m = measure("stream", "logs", "s", _window({"x": 50}), _window({"a": 3}), "trailing",
                {"a"}, LIMITS)
    assert m.reasons == ["unseen_templates"] and "too few reference events" in m.note


def test_profile_counts_templates_per_stream_and_round_trips(tmp_path):
    profile = build_profile(["1", "2", "1", None], ["s1", "s1", "s2", "s2"])
    assert profile["templates"] == {"1": 2, "2": 1} and profile["events"] == 3
    assert profile["streams"] == {"s1": {"1": 1, "2": 1}, "s2": {"1": 1}}
    assert profile["complete"] is True
    write_profile(tmp_path, profile)
    assert read_profile(tmp_path) == profile
    (tmp_path / "profile.json").write_text("not json")
    assert read_profile(tmp_path) is None
    assert read_profile(tmp_path / "missing") is None


def test_a_fine_tuned_model_knows_its_parents_templates():
    parent = build_profile(["1", "1", "3"], ["s1", "s1", "s3"])
    own = build_profile(["2"], ["s1"])
    merged = fine_tuned_profile(parent, own)
    assert merged["templates"] == {"1": 2, "2": 1, "3": 1} and merged["events"] == 4
    assert merged["streams"] == {"s1": {"1": 2, "2": 1}, "s3": {"3": 1}}
    assert merged["complete"] is True
    # The parent was trained from files (no profile): what it saw is unknown.
    assert fine_tuned_profile(None, own)["complete"] is False
    assert fine_tuned_profile({**parent, "complete": False}, own)["complete"] is False


@pytest.mark.parametrize("profile", [
    None, [], {"templates": []}, {"templates": {}}, {"templates": {"1": "many"}},
    {"templates": {"1": -3}}, {"templates": {"1": True}},
    {"templates": {"1": 2}, "streams": {"s": [1]}},
    {"templates": {"1": 2}, "streams": {"s": {"1": "x"}}},
])
def test_malformed_profiles_are_no_profile(profile):
    assert not usable(profile)


def test_a_well_formed_profile_is_usable():
    assert usable({"templates": {"1": 2, "2": 0.5}, "streams": {"s": {"1": 2}}})
