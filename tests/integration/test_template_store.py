"""The shared Drain state in a real Redis: workers exchange only what changed (a log of template
changes beside a snapshot), agree on every id, and repair a damaged or lost state."""

from __future__ import annotations

import time

import pytest

from colog.core.parsing.drain import TemplateParser
from colog.core.settings import PROJECT_ROOT
from colog.services.enrich.template_store import TemplateStore


def _messages() -> list[str]:
    folder = PROJECT_ROOT / "samples" / "loghub"
    return [line.rstrip("\n") for path in sorted(folder.glob("*_2k.log"))
            for line in path.open(encoding="utf-8", errors="replace")]


@pytest.fixture
def key(redis_server):
    name = f"colog:test:drain:{time.time_ns()}"
    yield name
    for found in redis_server.scan_iter(match=name + "*"):
        redis_server.delete(found)


def test_two_workers_share_changes_not_snapshots(redis_server, key):
    messages = _messages()
    one, two = TemplateStore(redis_server, key), TemplateStore(redis_server, key)
    for n, start in enumerate(range(0, len(messages), 250)):
        (one if n % 2 == 0 else two).assign(messages[start:start + 250])
    # The first batch wrote the state's snapshot; every later one appended its changes.
    assert one.snapshots_written + two.snapshots_written == 1
    assert redis_server.llen(key + ":log") > 0
    # Both copies, and a third worker loading snapshot + log, agree on every template.
    third = TemplateStore(redis_server, key)
    sample = messages[::7]
    expected = one.assign(sample)
    assert two.assign(sample) == expected and third.assign(sample) == expected
    assert one._parser.templates() == third._parser.templates()
    assert int(redis_server.get(key + ":last_id")) == one._parser.last_id


def test_log_is_folded_into_a_snapshot_past_its_limit(redis_server, key):
    messages = _messages()
    mixed = messages[::2]  # every sample, so templates keep being created
    writer = TemplateStore(redis_server, key, compact_after=20)
    reader = TemplateStore(redis_server, key)
    reader.assign(mixed[:10])
    for start in range(0, 4000, 200):
        writer.assign(mixed[start:start + 200])
    assert writer.snapshots_written >= 2
    assert redis_server.llen(key + ":log") <= 20
    # The reader's copy came from an older snapshot: it reloads the new one and gives the same
    # ids (texts may differ: the reader's own call generalises templates the writer then reads).
    ids = [template_id for template_id, _ in reader.assign(mixed[4000:4400])]
    assert ids == [template_id for template_id, _ in writer.assign(mixed[4000:4400])]


def test_damaged_log_entry_is_kept_and_the_state_repaired(redis_server, key, caplog):
    messages = _messages()
    writer = TemplateStore(redis_server, key)
    writer.assign(messages[:300])
    writer.assign(messages[2000:2300])  # appends changes to the log
    redis_server.rpush(key + ":log", b"\x00 not a change")
    last_id = writer._parser.last_id
    fresh = TemplateStore(redis_server, key)  # holds no copy: starts a new state
    new = fresh.assign(["a message shape nobody has seen before 1"])
    assert int(new[0][0]) == last_id + 1  # above every id ever given
    assert redis_server.lrange(key + ":corrupt:log", -1, -1) == [b"\x00 not a change"]
    assert redis_server.llen(key + ":log") == 0
    assert "is unreadable (log" in caplog.text
    # The worker with a copy reloads the repaired state (a new version) and keeps going.
    assert writer.assign(["a message shape nobody has seen before 2"]) == \
        fresh.assign(["a message shape nobody has seen before 2"])


def test_lost_state_is_written_back_from_a_copy(redis_server, key, caplog):
    messages = _messages()
    worker = TemplateStore(redis_server, key)
    before = worker.assign(messages[:500])
    for found in redis_server.scan_iter(match=key + "*"):
        redis_server.delete(found)  # Redis restarted without persistence
    assert worker.assign(messages[:500]) == before
    assert "restored from this worker's copy" in caplog.text
    saved = TemplateParser.from_bytes(redis_server.get(key))
    assert saved.templates() == worker._parser.templates()


def test_a_snapshot_without_a_log_loads(redis_server, key):
    """State written before the log existed (one whole-miner snapshot) is read as it was."""
    messages = _messages()
    parser = TemplateParser()
    expected = [parser.add(m) for m in messages[:800]]
    redis_server.set(key, parser.to_bytes())
    redis_server.set(key + ":version", 7)
    assert TemplateStore(redis_server, key).assign(messages[:800]) == expected
