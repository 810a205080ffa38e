"""Data streams on both engines: `colog setup` composes into the site's data-stream template
instead of competing with it, the worker reads pending documents of `logs-<dataset>-<namespace>`
and writes each verdict to the backing index that holds the document (guarded by
if_seq_no/if_primary_term), a rollover in the middle of a pass loses nothing, and bad or late
shipped documents get a clear status.
"""

from __future__ import annotations

import uuid

import pytest

from colog.core.engine.errors import BadRequest
from colog.core.fields import get_path
from colog.services.enrich.context import build_context
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.setup import COMPONENT, run_setup
from tests.integration.test_shipped_logs import drop_data_stream

pytestmark = pytest.mark.integration


def ecs(row: dict, host: str = "web-1") -> dict:
    """A synthetic record as a shipper writes it: ECS keys, the program as process.name."""
    return {"@timestamp": row["@timestamp"], "message": row["message"],
            "host": {"name": host}, "process": {"name": row["stream"]}}


def hits(engine, index: str) -> list[dict]:
    engine.refresh(index)
    return engine.search({"size": 10000, "seq_no_primary_term": True,
                          "sort": [{"@timestamp": "asc"}]}, index)["hits"]["hits"]


@pytest.fixture
def site_stream(opensearch, enrich_env):
    """A site's data-stream template for `logs-<dataset>-*` (as Elastic Agent or an OpenSearch
    site has one), then `colog setup` with a pattern that also covers it."""
    tag = uuid.uuid4().hex[:8]
    template = f"site-ds{tag}"
    opensearch.put_index_template(template, {
        "index_patterns": [f"logs-ds{tag}-*"], "data_stream": {}, "priority": 100,
        "template": {"mappings": {"properties": {"site": {"properties": {
            "owner": {"type": "keyword"}}}}}}})
    settings = enrich_env.settings(f"logs-ds{tag}*", max_message_bytes=2048)
    report = run_setup(opensearch, settings)
    name = f"logs-ds{tag}-default"
    yield {"name": name, "template": template, "settings": settings, "report": report}
    drop_data_stream(opensearch, name, template)


def test_setup_leaves_a_logs_data_stream_a_data_stream(site_stream, opensearch):
    report = site_stream["report"]
    assert report.ok, report.conflicts
    assert f"index template {site_stream['template']} (now composes {COMPONENT})" in report.updated
    body = opensearch.index_templates()[site_stream["template"]]
    assert body["composed_of"][0] == COMPONENT and "data_stream" in body
    opensearch.index(site_stream["name"], {"@timestamp": "2026-11-01T00:00:00Z",
                                           "message": "hello", "site": {"owner": "soc"}},
                     create=True, refresh=True)
    (backing, stream), = opensearch.data_stream_of(site_stream["name"]).items()
    assert stream == site_stream["name"] and backing.startswith(".ds-")
    properties = opensearch.get_mapping(backing)[backing]["mappings"]["properties"]
    assert properties["site"]["properties"]["owner"]["type"] == "keyword"  # the site's template
    assert properties["colog"]["properties"]["stream"]["type"] == "keyword"  # and ours
    # Setup again changes nothing.
    again = run_setup(opensearch, site_stream["settings"])
    assert not [u for u in again.updated if "index template" in u], again.updated


def test_rollover_in_the_middle_of_a_pass_loses_nothing(site_stream, opensearch, enrich_env):
    name = site_stream["name"]
    rows = enrich_env.records  # 3 programs x 40 events
    first, later = rows[:90], rows[90:]
    for row in first:
        opensearch.index(name, ecs(row), create=True)
    opensearch.refresh(name)
    ctx = build_context(site_stream["settings"])
    rolled = []

    def roll_over_once(ctx, stream, updates, report):
        """After the first write of the pass: a new write index, and events land in it."""
        if rolled:
            return
        rolled.append(opensearch.rollover(name))
        for row in later:
            opensearch.index(name, ecs(row), create=True)

    ctx.after_write_hooks.append(roll_over_once)
    summary = run_pass(ctx, flush=True, progress=False)
    assert rolled and rolled[0]["rolled_over"]
    docs = hits(opensearch, name)
    assert len(docs) == len(rows) and summary.still_pending == 0 and not summary.unwritten
    backing = {h["_index"] for h in docs}
    assert len(backing) == 2, backing
    for hit in docs:
        assert get_path(hit["_source"], "colog.status") == "enriched", hit
        assert get_path(hit["_source"], "colog.stream") == \
            f"web-1|{get_path(hit['_source'], 'process.name')}"
    # Each verdict sits in the backing index that holds the document, and nowhere else.
    assert sum(opensearch.count(b) for b in backing) == len(rows)


def test_bad_shipped_documents_get_a_status_and_nothing_is_lost(site_stream, opensearch):
    name = site_stream["name"]
    good = {"@timestamp": "2026-11-01T00:00:00Z", "host": {"name": "h"},
            "process": {"name": "app"}}
    bad = {
        "no-message": (dict(good), "skipped", "no message"),
        "empty": ({**good, "message": ""}, "skipped", "empty message"),
        "not-text": ({**good, "message": 404}, "failed", "not text"),
        "huge": ({**good, "message": "y" * 5000}, "failed", "over the limit"),
        "binary": ({**good, "message": "\x00\x01\x02\x03payload"}, "failed", "binary"),
        "two-hosts": ({**good, "message": "login ok", "host.name": "other"}, "failed",
                      "host.name has two values"),
        "same-host-twice": ({**good, "message": "login ok", "host.name": "h"}, "enriched",
                            None),
    }
    for doc_id, (source, _, _) in bad.items():
        opensearch.index(name, source, id=doc_id, create=True)
    # A data stream needs @timestamp: the engine refuses the document at the door, so the
    # shipper keeps it (rsyslog's error file); it never becomes a silent gap.
    no_time = {k: v for k, v in good.items() if k != "@timestamp"}
    with pytest.raises(BadRequest):
        opensearch.index(name, {**no_time, "message": "no time"}, create=True)
    with pytest.raises(BadRequest):
        opensearch.index(name, {**good, "@timestamp": "yesterday", "message": "x"}, create=True)
    summary = run_pass(build_context(site_stream["settings"]), flush=True, progress=False)
    assert summary.still_pending == 0
    for doc_id, (_, status, words) in bad.items():
        (hit,) = [h for h in hits(opensearch, name) if h["_id"] == doc_id]
        colog = hit["_source"]["colog"]
        assert colog["status"] == status, (doc_id, colog)
        if words:
            assert words in colog["error"], (doc_id, colog["error"])


def test_a_late_event_is_scored_with_its_neighbours_and_theirs_stay(site_stream, opensearch,
                                                                    enrich_env):
    """An event that arrives after its neighbours were scored gets its verdict from the stream
    as it now is; the neighbours' verdicts are not rewritten (documented in docs/operations.md)."""
    name = site_stream["name"]
    rows = [r for r in enrich_env.records if r["stream"] == "stream-0"][:20]
    late, on_time = rows[10], rows[:10] + rows[11:]
    for row in on_time:
        opensearch.index(name, ecs(row), create=True)
    settings = site_stream["settings"]
    run_pass(build_context(settings), flush=True, progress=False)
    before = {h["_id"]: h["_seq_no"] for h in hits(opensearch, name)}
    opensearch.index(name, ecs(late), id="late", create=True, refresh=True)
    summary = run_pass(build_context(settings), flush=True, progress=False)
    assert summary.scored == 1 and summary.still_pending == 0
    after = {h["_id"]: h for h in hits(opensearch, name)}
    assert get_path(after["late"]["_source"], "colog.status") == "enriched"
    assert {i: after[i]["_seq_no"] for i in before} == before
