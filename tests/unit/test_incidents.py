"""Collective incidents: the pure merge (no servers)."""

from datetime import datetime, timedelta, timezone

import pytest

from colog.services.enrich.incidents import (
    CLOSED,
    OPEN,
    IncidentInputError,
    incident_id,
    merge_incidents,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 5, 2, tzinfo=timezone.utc)
STREAM = "node-1|/var/log/app.log"


def hit(n: int, seconds: float, context: str = "anomaly", label: str = "normal",
        score: float = 0.9, template: str = "t1", status: str = "enriched") -> dict:
    return {"_id": f"e{n}", "_source": {
        "@timestamp": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "message": f"line {n}",
        "host": {"name": "node-1"},
        "log": {"file": {"path": "/var/log/app.log"}},
        "colog": {"status": status, "label": label, "score": 0.5,
                  "context": {"label": context, "score": score},
                  "template": {"id": template, "text": f"template {template}"},
                  "model": {"version": "3"}},
    }}


def merge(latest, events, quiet=60.0):
    return merge_incidents(latest, events, quiet, stream=STREAM, now=NOW)


def test_one_burst_gives_one_incident_with_start_end_and_count():
    events = [hit(0, 0, "normal"), hit(1, 10), hit(2, 20, label="anomaly", score=0.7),
              hit(3, 30, template="t2", score=0.8), hit(4, 40, "normal")]
    [incident] = merge(None, events)
    assert incident["status"] == OPEN
    assert incident["start"] == "2024-05-01T12:00:10.000Z"
    assert incident["end"] == "2024-05-01T12:00:30.000Z"
    assert incident["event_count"] == 3
    assert incident["point_count"] == 1
    assert incident["max_score"] == pytest.approx(0.9)
    assert incident["mean_score"] == pytest.approx((0.9 + 0.7 + 0.8) / 3)
    assert incident["top_templates"][0] == {"id": "t1", "text": "template t1", "count": 2}
    assert incident["top_templates"][1]["count"] == 1
    assert incident["host"]["name"] == "node-1"
    assert incident["model_version"] == "3"
    assert incident["incident_id"] == incident_id(STREAM, "e1")


def test_two_bursts_separated_by_quiet_period_give_two():
    events = [hit(1, 0), hit(2, 5), hit(3, 30, "normal"), hit(4, 200), hit(5, 210)]
    first, second = merge(None, events, quiet=60)
    assert first["status"] == CLOSED and first["event_count"] == 2
    assert first["closed_at"] == "2024-05-01T12:03:20.000Z"
    assert second["status"] == OPEN and second["event_count"] == 2
    assert second["start"] == "2024-05-01T12:03:20.000Z"
    assert first["incident_id"] != second["incident_id"]


def test_gap_shorter_than_quiet_period_keeps_one_incident():
    events = [hit(1, 0), hit(2, 30, "normal"), hit(3, 50)]
    [incident] = merge(None, events, quiet=60)
    assert incident["event_count"] == 2 and incident["status"] == OPEN


def test_long_run_of_normal_context_closes_incident():
    events = [hit(1, 0), hit(2, 20, "normal"), hit(3, 50, "normal"), hit(4, 61, "normal")]
    [incident] = merge(None, events, quiet=60)
    assert incident["status"] == CLOSED
    assert incident["end"] == "2024-05-01T12:00:00.000Z"


def test_growing_across_batches_updates_the_same_incident():
    [first] = merge(None, [hit(1, 0), hit(2, 10)])
    [grown] = merge(first, [hit(3, 20, label="anomaly"), hit(4, 30)])
    assert grown["incident_id"] == first["incident_id"]
    assert grown["start"] == first["start"]
    assert grown["event_count"] == 4 and grown["point_count"] == 1
    assert grown["created_at"] == first["created_at"]


def test_reprocessing_the_same_batch_changes_nothing():
    batch = [hit(1, 0), hit(2, 10), hit(3, 10)]
    [first] = merge(None, batch)
    assert merge(first, batch) == []
    # Overlapping replay: only the new event counts, including one at the watermark instant.
    [grown] = merge(first, batch + [hit(4, 10), hit(5, 11)])
    assert grown["event_count"] == 5


def test_replay_after_close_does_not_recreate_old_incident():
    events = [hit(1, 0), hit(2, 100, "normal")]
    [closed] = merge(None, events, quiet=60)
    assert closed["status"] == CLOSED
    assert merge(closed, events, quiet=60) == []
    [new] = merge(closed, events + [hit(3, 300)], quiet=60)
    assert new["incident_id"] == incident_id(STREAM, "e3") and new["status"] == OPEN


def test_closing_a_stored_open_incident_without_new_anomalies():
    [first] = merge(None, [hit(1, 0)])
    [closed] = merge(first, [hit(2, 500, "normal")], quiet=60)
    assert closed["status"] == CLOSED and closed["incident_id"] == first["incident_id"]
    assert closed["event_count"] == 1


def test_events_without_a_verdict_are_ignored():
    events = [hit(1, 0, status="failed"), hit(2, 1, status="pending"), hit(3, 2)]
    [incident] = merge(None, events)
    assert incident["event_count"] == 1 and incident["first_event_id"] == "e3"


def test_top_templates_keeps_five_by_count():
    events = [hit(i, i, template=f"t{i % 7}") for i in range(30)]
    [incident] = merge(None, events)
    counts = [entry["count"] for entry in incident["top_templates"]]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True) and counts[0] == 5


def test_mean_score_stays_exact_across_batches():
    [first] = merge(None, [hit(1, 0, score=1.0)])
    [grown] = merge(first, [hit(2, 1, score=0.5)])
    assert grown["mean_score"] == pytest.approx(0.75)
    assert grown["top_templates"] == [{"id": "t1", "text": "template t1", "count": 2}]


def test_no_anomalous_context_gives_nothing():
    assert merge(None, [hit(1, 0, "normal"), hit(2, 1, "normal")]) == []


@pytest.mark.parametrize("bad, message", [
    ({"_source": {}}, "no `_id`"),
    ({"_id": "x"}, "not a search hit"),
    ("text", "not a search hit"),
])
def test_malformed_events_raise_clear_errors(bad, message):
    with pytest.raises(IncidentInputError, match=message):
        merge(None, [hit(1, 0), bad])


def test_bad_timestamp_and_score_name_the_event():
    broken = hit(7, 0)
    broken["_source"]["@timestamp"] = "yesterday"
    with pytest.raises(IncidentInputError, match="event e7: bad @timestamp"):
        merge(None, [broken])
    wrong = hit(8, 0)
    wrong["_source"]["colog"]["context"]["score"] = "high"
    with pytest.raises(IncidentInputError, match="e8: colog.context.score"):
        merge(None, [wrong])


def test_negative_quiet_period_and_missing_stream_rejected():
    with pytest.raises(IncidentInputError, match="quiet period"):
        merge_incidents(None, [], -1, stream=STREAM)
    with pytest.raises(IncidentInputError, match="no stream"):
        merge_incidents(None, [hit(1, 0)], 60)


def test_caller_input_is_not_mutated():
    [first] = merge(None, [hit(1, 0)])
    snapshot = {**first, "tail_event_ids": list(first["tail_event_ids"])}
    merge(first, [hit(2, 0)])
    assert first == snapshot
