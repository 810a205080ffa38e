"""Collective incidents written to a real OpenSearch: one burst -> one incident, two bursts
separated by the quiet period -> two, replays and growth across batches -> no duplicates."""

from __future__ import annotations

import uuid

import pytest

from colog.core.settings import Settings
from colog.services.enrich.incidents import (
    INCIDENT_MAPPING,
    IncidentInputError,
    incident_id,
    update_incidents,
)
from tests.integration.test_dashboards import enriched_docs, stream_of

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(opensearch):
    index = f"colog-incidents-test-{uuid.uuid4().hex[:8]}"
    yield Settings(incidents_index=index, incident_quiet_period_s=300.0)
    opensearch.delete_index(index)


def stored(client, settings) -> list[dict]:
    client.refresh(settings.incidents_index)
    answer = client.search(index=settings.incidents_index,
                           body={"size": 100, "sort": [{"start": "asc"}]})
    return [hit["_source"] | {"_id": hit["_id"]} for hit in answer["hits"]["hits"]]


def events_of(host: str) -> list[dict]:
    return [hit for hit in enriched_docs() if hit["_source"]["host"]["name"] == host]


def test_index_is_created_with_its_mapping(opensearch, settings):
    update_incidents(opensearch, settings, stream_of("host-c"), events_of("host-c"))
    mapping = opensearch.get_mapping(settings.incidents_index)
    properties = mapping[settings.incidents_index]["mappings"]["properties"]
    assert properties["stream"] == {"type": "keyword"}
    assert properties["start"]["type"] == "date"
    assert set(properties) == set(INCIDENT_MAPPING["properties"])


def test_one_burst_gives_one_incident(opensearch, settings):
    stream = stream_of("host-c")
    written = update_incidents(opensearch, settings, stream, events_of("host-c"))
    [incident] = stored(opensearch, settings)
    assert len(written) == 1
    assert incident["_id"] == incident["incident_id"] == incident_id(stream, "doc-019")
    assert (incident["start"], incident["end"]) == ("2024-05-01T12:30:00.000Z",
                                                    "2024-05-01T12:35:00.000Z")
    assert incident["event_count"] == 2 and incident["status"] == "open"
    assert incident["host"] == {"name": "host-c"}
    assert incident["top_templates"] == [
        {"id": "T4", "text": "T4 timeout talking to <*>", "count": 2}]


def test_bursts_separated_by_quiet_period_give_separate_incidents(opensearch, settings):
    update_incidents(opensearch, settings, stream_of("host-b"), events_of("host-b"))
    incidents = stored(opensearch, settings)
    assert [(i["start"][11:16], i["end"][11:16], i["event_count"], i["point_count"],
             i["status"]) for i in incidents] == [
        ("10:00", "10:05", 2, 0, "closed"),
        ("11:10", "11:10", 1, 0, "closed"),
        ("12:00", "12:10", 3, 3, "open"),
    ]


def test_reprocessing_gives_no_duplicates(opensearch, settings):
    stream, events = stream_of("host-b"), events_of("host-b")
    update_incidents(opensearch, settings, stream, events)
    first = stored(opensearch, settings)
    assert update_incidents(opensearch, settings, stream, events) == []
    again = stored(opensearch, settings)
    assert [(i["_id"], i["event_count"], i["status"]) for i in again] == \
        [(i["_id"], i["event_count"], i["status"]) for i in first]


def test_incident_growing_across_batches_is_updated_not_split(opensearch, settings):
    stream, events = stream_of("host-b"), events_of("host-b")
    cut = next(n for n, hit in enumerate(events) if hit["_source"]["@timestamp"].endswith(
        "12:05:00.000Z"))
    # Batch boundaries in the middle of the last burst, and a replay of the first half.
    update_incidents(opensearch, settings, stream, events[:cut])
    update_incidents(opensearch, settings, stream, events[:cut])
    update_incidents(opensearch, settings, stream, events[cut:])
    incidents = stored(opensearch, settings)
    assert len(incidents) == 3
    last = incidents[-1]
    assert (last["start"][11:16], last["end"][11:16], last["event_count"]) == (
        "12:00", "12:10", 3)


def test_streams_do_not_mix(opensearch, settings):
    update_incidents(opensearch, settings, stream_of("host-b"), events_of("host-b"))
    update_incidents(opensearch, settings, stream_of("host-c"), events_of("host-c"))
    incidents = stored(opensearch, settings)
    assert sorted({i["stream"] for i in incidents}) == [stream_of("host-b"), stream_of("host-c")]
    assert sum(i["status"] == "open" for i in incidents) == 2


def test_bad_input_is_rejected_and_writes_nothing(opensearch, settings):
    events = events_of("host-c")
    events[1] = {"_id": "broken"}
    with pytest.raises(IncidentInputError, match="not a search hit"):
        update_incidents(opensearch, settings, stream_of("host-c"), events)
    with pytest.raises(IncidentInputError, match="stream must be"):
        update_incidents(opensearch, settings, "", events_of("host-c"))
    opensearch.refresh(settings.incidents_index)
    assert opensearch.count(settings.incidents_index) == 0


def test_silent_streams_incidents_are_closed_by_wall_clock(opensearch, settings):
    from datetime import datetime, timedelta, timezone

    from colog.services.enrich.incidents import close_stale_incidents

    written_at = datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc)
    update_incidents(opensearch, settings, stream_of("host-b"), events_of("host-b"),
                     now=written_at)
    update_incidents(opensearch, settings, stream_of("host-c"), events_of("host-c"),
                     now=written_at + timedelta(minutes=30))
    # At 13:32 b's open incident is silent in event time (12:10) and wall time (13:00) for more
    # than the 5-minute quiet period; c's was updated at 13:30, so it stays open.
    closed = close_stale_incidents(opensearch, settings, now=written_at + timedelta(minutes=32))
    incidents = {i["incident_id"]: i for i in stored(opensearch, settings)}
    assert [incidents[i]["stream"] for i in closed] == [stream_of("host-b")]
    assert sorted((i["stream"], i["status"]) for i in incidents.values()
                  if i["status"] == "open") == [(stream_of("host-c"), "open")]
    assert close_stale_incidents(opensearch, settings,
                                 now=written_at + timedelta(minutes=32)) == []
