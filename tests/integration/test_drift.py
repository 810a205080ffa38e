"""Drift monitor against the real OpenSearch and Redis: a stream whose templates change raises
drift over the threshold and sets the retrain flag, a stable one does not; the flag gates
scheduled retraining; the live model's training profile is used as the reference when its
release recorded one.

The documents are written as the enricher leaves them (status, stream, template id, score,
model version), with event times spread over the reference and recent windows.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from colog.core.settings import Settings
from colog.services.drift.check import run_check
from colog.services.drift.store import FLAG_KEY, clear_flag, read_flag
from colog.services.train.scheduled import retrain_once
from tests.fixtures.enrich import colog_env

pytestmark = pytest.mark.integration
NEWEST = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _docs(index: str, stream: str, templates: list[str], start: datetime, span_s: float,
          count: int, seed: int, version: str = "3") -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        at = start + timedelta(seconds=span_s * i / count)
        docs.append({"_index": index, "_source": {
            "@timestamp": at.isoformat().replace("+00:00", "Z"), "message": f"event {i}",
            "colog": {"status": "enriched", "stream": stream, "template": {"id": rng.choice(templates)},
                      "score": rng.random() * 0.2, "model": {"version": version}}}})
    return docs


@pytest.fixture()
def drift_settings(opensearch, redis_server, stack_settings):
    tag = f"{time.time_ns()}"
    settings = stack_settings.model_copy(update={
        "index_pattern": f"logs-drifttest-{tag}", "drift_index": f"colog-drift-test-{tag}",
        "models_index": f"colog-models-drifttest-{tag}", "drift_min_events": 50,
        "drift_window_s": 3600.0, "drift_reference_s": 86400.0})
    redis_server.delete(FLAG_KEY)
    yield settings
    redis_server.delete(FLAG_KEY)
    opensearch.delete_index(f"logs-drifttest-{tag},colog-drift-test-{tag},"
                              f"colog-models-drifttest-{tag}")


def bulk_load(engine, actions: list[dict]) -> None:
    failed = [item for ok, item in engine.stream_bulk(actions) if not ok]
    assert not failed, failed[:3]
    engine.refresh(actions[0]["_index"])


def _load(opensearch, settings: Settings, changed_templates: list[str], version: str = "3"):
    index = settings.index_pattern
    opensearch.create_index(index, {"mappings": {"properties": {
        "@timestamp": {"type": "date"}, "colog": {"properties": {
            "status": {"type": "keyword"}, "stream": {"type": "keyword"},
            "template": {"properties": {"id": {"type": "keyword"}}}, "score": {"type": "float"},
            "model": {"properties": {"version": {"type": "keyword"}}}}}}}})
    usual = ["t1", "t2", "t3", "t4"]
    reference_start = NEWEST - timedelta(hours=20)
    recent_start = NEWEST - timedelta(minutes=50)
    docs = (_docs(index, "stable", usual, reference_start, 19 * 3600, 400, 1, version)
            + _docs(index, "stable", usual, recent_start, 50 * 60, 200, 2, version)
            + _docs(index, "changing", usual, reference_start, 19 * 3600, 400, 3, version)
            + _docs(index, "changing", changed_templates, recent_start, 50 * 60, 200, 4, version))
    docs[-1]["_source"]["@timestamp"] = NEWEST.isoformat().replace("+00:00", "Z")
    bulk_load(opensearch, docs)


def test_changed_templates_raise_drift_and_the_flag_stable_ones_do_not(opensearch, redis_server,
                                                                        drift_settings):
    _load(opensearch, drift_settings, ["n1", "n2", "t1"])
    report = run_check(opensearch, drift_settings, redis_server)
    by_stream = {m.stream: m for m in report.measures}
    changing, stable = by_stream["changing"], by_stream["stable"]
    assert stable.recent_events == 200 and stable.reference_events == 400
    assert not stable.drifted, stable
    assert stable.templates_js < drift_settings.drift_templates_js / 5
    assert changing.drifted
    assert {"template_frequencies", "new_templates"} <= set(changing.reasons)
    assert changing.templates_js >= drift_settings.drift_templates_js
    assert changing.new_templates == 2 and changing.new_share > 0.5
    assert changing.unseen_share is None  # no release profile: trailing reference only
    assert changing.reference_kind == "trailing"
    # recorded: one document per stream and one for the index, the flag names the stream
    flag = read_flag(redis_server)
    assert report.flag_raised and flag["check_id"] == report.check_id
    assert "changing" in flag["where"] and "stable" not in flag["where"]
    opensearch.refresh(drift_settings.drift_index)
    stored = opensearch.search(index=drift_settings.drift_index, body={
        "size": 10, "query": {"term": {"check_id": report.check_id}}})["hits"]["hits"]
    assert sorted((h["_source"]["scope"], h["_source"]["stream"], h["_source"]["drifted"])
                  for h in stored) == [("index", None, True), ("stream", "changing", True),
                                       ("stream", "stable", False)]


def test_a_stable_index_raises_no_flag(opensearch, redis_server, drift_settings):
    _load(opensearch, drift_settings, ["t1", "t2", "t3", "t4"])
    report = run_check(opensearch, drift_settings, redis_server)
    assert report.measures and not report.drifted
    assert read_flag(redis_server) is None and not report.flag_raised


def test_scheduled_retraining_obeys_the_flag(opensearch, redis_server, drift_settings):
    settings = drift_settings.model_copy(update={"retrain_interval_s": 60.0,
                                                 "retrain_on_drift": True})
    _load(opensearch, settings, ["n1", "n2", "t1"])
    assert retrain_once(opensearch, settings, redis_server) == {
        "skipped": "no drift flagged (COLOG_RETRAIN_ON_DRIFT=true)"}
    run_check(opensearch, settings, redis_server)
    assert read_flag(redis_server) is not None
    # With the flag set the tick goes on to the export (no analyst labels here, so it stops there)
    outcome = retrain_once(opensearch, settings, redis_server)
    assert "no analyst-labelled documents" in outcome["skipped"]
    assert read_flag(redis_server) is not None  # nothing was published: the flag stays
    assert clear_flag(redis_server) and read_flag(redis_server) is None


def test_the_training_profile_is_the_reference_when_the_release_recorded_one(
        opensearch, redis_server, drift_settings):
    from colog.services.train.release import record

    # The live version 5 was trained on t1..t3; the recent traffic also carries t9, never seen.
    record(opensearch, drift_settings, {"action": "release", "version": "5", "profile": {
        "events": 300, "templates": {"t1": 100, "t2": 100, "t3": 100}, "complete": True,
        "streams": {"stable": {"t1": 100, "t2": 100, "t3": 100}}}})
    _load(opensearch, drift_settings, ["t1", "t9"], version="5")
    report = run_check(opensearch, drift_settings, redis_server, record=False)
    by_stream = {m.stream: m for m in report.measures}
    assert {m.reference_kind for m in report.measures} == {"training"}
    # t4 is in the stable stream's traffic but not in training: a quarter of its events
    assert by_stream["stable"].unseen_share == pytest.approx(0.25, abs=0.1)
    assert not by_stream["stable"].drifted
    assert by_stream["changing"].unseen_share == pytest.approx(0.5, abs=0.1)
    assert "unseen_templates" in by_stream["changing"].reasons
    assert read_flag(redis_server) is None  # record=False: a look, not a check


def test_a_partial_training_profile_is_not_a_reference(opensearch, redis_server, drift_settings):
    from colog.services.train.release import record

    # Fine-tuned from a model trained from files: what the parent saw is unknown.
    record(opensearch, drift_settings, {"action": "release", "version": "5", "profile": {
        "events": 100, "templates": {"t1": 100}, "complete": False, "streams": {}}})
    _load(opensearch, drift_settings, ["t1", "t2", "t3", "t4"], version="5")
    report = run_check(opensearch, drift_settings.model_copy(
        update={"drift_reference": "training"}), redis_server, record=False)
    assert {m.reference_kind for m in report.measures} == {"trailing"}
    assert all(m.unseen_share is None for m in report.measures)
    assert all("fine-tuned from a model trained outside OpenSearch" in m.note
               for m in report.measures)
    assert not report.drifted


def test_each_stream_is_judged_on_its_own_timeline(opensearch, redis_server, drift_settings):
    """A stream replayed from another year (or shipped late) is measured on its own last hour,
    not found empty because the index's newest event is elsewhere."""
    _load(opensearch, drift_settings, ["t1", "t2", "t3", "t4"])
    year_before = NEWEST - timedelta(days=365)
    index = drift_settings.index_pattern
    bulk_load(opensearch, _docs(index, "replayed", ["t1", "t2"], year_before - timedelta(
        hours=20), 19 * 3600, 300, 5) + _docs(index, "replayed", ["n7", "n8"],
                                              year_before - timedelta(minutes=50), 50 * 60, 250,
                                              6))
    report = run_check(opensearch, drift_settings, redis_server, record=False)
    replayed = {m.stream: m for m in report.measures}["replayed"]
    assert (replayed.recent_events, replayed.reference_events) == (250, 300)
    assert "template_frequencies" in replayed.reasons and replayed.templates_js == 1.0
    window = report.windows[index].bounds_of("replayed")
    assert window.end.year == year_before.year


def test_colog_drift_prints_the_state_per_stream(opensearch, redis_server, drift_settings):
    _load(opensearch, drift_settings, ["n1", "n2", "t1"])
    env = {**colog_env(drift_settings), "COLOG_DRIFT_INDEX": drift_settings.drift_index,
           "COLOG_DRIFT_MIN_EVENTS": "50", "COLOG_MODELS_INDEX": drift_settings.models_index}
    import os

    run = subprocess.run([sys.executable, "-m", "colog.app.cli", "drift", "--record"],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if "changing" in line or "stable" in line]
    assert any("changing" in line and "template_frequencies" in line for line in lines), run.stdout
    assert any("stable" in line and "none" in line for line in lines), run.stdout
    assert "retrain flag: set" in run.stdout


def test_drift_of_streams_enriched_by_the_real_pipeline(opensearch, redis_server, enrich_env,
                                                        tmp_path):
    """Template ids from the worker's own Drain state, scores from the served model: halfway
    through, one stream starts logging messages of other templates, the other carries on."""
    from colog.services.enrich.context import build_context
    from colog.services.enrich.ingest import ingest_file
    from colog.services.enrich.one_pass import run_pass
    from colog.services.enrich.setup import run_setup
    from tests import synthetic
    from tests.integration.test_enrichment import write_jsonl

    changed = ["disk quota of volume {w} reached {n} percent",
               "user {w} logged out after {n} seconds", "backup job {w} finished with {n} files"]
    rows = synthetic.records(streams=2, per_stream=300, anomaly_rate=0.0, seed=13)
    rng = random.Random(2)
    for n, row in enumerate(rows):
        if row["stream"] == "stream-1" and n >= len(rows) // 2:
            row["message"] = rng.choice(changed).format(w=f"w{n}x", n=rng.randint(1, 99))
    tag = time.time_ns()
    settings = enrich_env.settings(f"logs-driftreal-{tag}", drift_index=f"colog-drift-real-{tag}",
                                   drift_window_s=1500.0, drift_reference_s=1500.0,
                                   drift_min_events=100)
    try:
        run_setup(opensearch, settings)
        ingest_file(opensearch, write_jsonl(tmp_path / "drift.jsonl", rows), settings.index_pattern)
        assert run_pass(build_context(settings), flush=True, progress=False).still_pending == 0
        redis_server.delete(FLAG_KEY)
        report = run_check(opensearch, settings, redis_server)
        by_stream = {m.stream: m for m in report.measures if m.scope == "stream"}
        [steady_key] = [key for key in by_stream if key.endswith("stream-0")]
        [moved_key] = [key for key in by_stream if key.endswith("stream-1")]
        steady, moved = by_stream[steady_key], by_stream[moved_key]
        assert steady.recent_events == moved.recent_events == 150
        assert not steady.drifted and steady.templates_js < 0.1, steady
        assert moved.drifted and moved.templates_js > 0.9 and moved.new_templates >= 3, moved
        flagged = read_flag(redis_server)["where"]
        assert moved_key in flagged and steady_key not in flagged
    finally:
        redis_server.delete(FLAG_KEY)
        opensearch.delete_index(f"logs-driftreal-{tag},colog-drift-real-{tag}")


def test_a_corrupt_flag_or_profile_is_reported_not_fatal(opensearch, redis_server,
                                                          drift_settings):
    from colog.services.train.release import record

    record(opensearch, drift_settings, {"action": "release", "version": "5",
                                        "profile": {"templates": {"t1": "lots"}}})
    _load(opensearch, drift_settings, ["n1", "n2", "t1"], version="5")
    redis_server.set(FLAG_KEY, b"\xff not json")
    assert read_flag(redis_server)["unreadable"]  # still a flag: retraining obeys it
    report = run_check(opensearch, drift_settings, redis_server)
    assert {m.reference_kind for m in report.measures} == {"trailing"}  # profile ignored
    assert report.drifted and report.flag_raised  # the drifted check rewrote the flag
    assert "new_templates" in report.flag["reasons"] and not report.flag.get("unreadable")
    assert clear_flag(redis_server) and read_flag(redis_server) is None
