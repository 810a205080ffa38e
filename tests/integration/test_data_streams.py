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
from colog.services.enrich.setup import COMPONENT, PIPELINE, run_setup
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


@pytest.mark.parametrize("site_custom", [True, False], ids=["site-has-custom", "no-custom-yet"])
def test_a_managed_logs_template_gets_the_fields_through_its_custom_component(
        opensearch, enrich_env, site_custom):
    """Elasticsearch's built-in `logs` template (priority 100, `_meta.managed`, composing
    `logs@mappings`, `logs@settings`, `logs@custom`, `ecs@mappings`; `logs@custom` is optional,
    in `ignore_missing_component_templates`) is rewritten by the engine on upgrade, so setup
    leaves it as it is and fills `logs@custom`, merged into the site's own. Neither engine's
    minimal distribution ships that template: this one has its shape under a unique name."""
    tag = uuid.uuid4().hex[:8]
    name, custom, settings_part = f"logs{tag}", f"logs{tag}@custom", f"logs{tag}@settings"
    opensearch.put_component_template(settings_part, {"template": {"mappings": {
        "date_detection": False, "properties": {"data_stream": {"properties": {
            "type": {"type": "keyword"}}}}}}, "_meta": {"managed": True}})
    if site_custom:
        opensearch.put_component_template(custom, {
            "template": {"mappings": {"properties": {
                "site": {"properties": {"owner": {"type": "keyword"}}},
                # The site maps an input field its own way: that stays.
                "host": {"properties": {"name": {"type": "text"}}}}}},
            "_meta": {"owner": "soc"}})
    template = {"index_patterns": [f"logs{tag}-*-*"], "data_stream": {}, "priority": 100,
                "composed_of": [settings_part, custom],
                "_meta": {"managed": True, "description": "default logs template (its shape)"}}
    if not site_custom:
        template["ignore_missing_component_templates"] = [custom]
        if opensearch.product == "OpenSearch":
            # OpenSearch has no ignore_missing_component_templates: a template cannot name a
            # component that does not exist, so there a `@custom` always exists already.
            with pytest.raises(BadRequest):
                opensearch.put_index_template(name, template)
            return
    opensearch.put_index_template(name, template)
    settings = enrich_env.settings(f"logs{tag}-*", max_message_bytes=2048)
    report = run_setup(opensearch, settings)
    assert report.ok, report.conflicts
    # The managed template itself is untouched.
    body = opensearch.index_templates()[name]
    assert body["composed_of"] == [settings_part, custom] and COMPONENT not in body["composed_of"]
    assert any(line.startswith(f"component template {custom}")
               for line in report.created + report.updated), report
    stored = opensearch.get_component_template(custom)
    mapped = stored["template"]["mappings"]["properties"]
    assert mapped["colog"]["properties"]["stream"] == {"type": "keyword"}
    with_pipeline = opensearch.get_pipeline(PIPELINE) is not None
    index_settings = stored["template"].get("settings", {}).get("index", {})
    assert index_settings.get("final_pipeline") == (PIPELINE if with_pipeline else None)
    if site_custom:
        assert stored["_meta"] == {"owner": "soc"}
        assert mapped["site"]["properties"]["owner"] == {"type": "keyword"}
        assert mapped["host"]["properties"]["name"] == {"type": "text"}
    # A new data stream of the template: a data stream, with the site's and the colog fields,
    # and (where the node runs pipelines) stamped pending on arrival.
    stream = f"logs{tag}-app-default"
    opensearch.index(stream, {"@timestamp": "2026-11-01T00:00:00Z", "message": "hello",
                              "host": {"name": "h"}}, create=True, refresh=True)
    (backing, parent), = opensearch.data_stream_of(stream).items()
    assert parent == stream and backing.startswith(".ds-")
    properties = opensearch.get_mapping(backing)[backing]["mappings"]["properties"]
    assert properties["colog"]["properties"]["status"]["type"] == "keyword"
    assert properties["data_stream"]["properties"]["type"]["type"] == "keyword"  # logs@settings
    (source,) = [h["_source"] for h in hits(opensearch, stream)]
    assert get_path(source, "colog.status") == ("pending" if with_pipeline else None)
    # Setup again changes nothing.
    again = run_setup(opensearch, settings)
    assert not [u for u in again.updated + again.created if custom in u], again
    drop_data_stream(opensearch, stream, name)


def test_a_logsdb_data_stream_is_enriched(opensearch, enrich_env):
    """Elasticsearch 9 makes `logs-*-*` data streams LogsDB (`index.mode: logsdb`: synthetic
    `_source`, sorted by host.name and @timestamp): the worker must read and update documents
    there like anywhere else. OpenSearch has no LogsDB: it refuses the setting."""
    tag = uuid.uuid4().hex[:8]
    template, name = f"site-ldb{tag}", f"logs-ldb{tag}-default"
    body = {"index_patterns": [f"logs-ldb{tag}-*"], "data_stream": {}, "priority": 100,
            "template": {"settings": {"index.mode": "logsdb"}}}
    if opensearch.product == "OpenSearch":
        with pytest.raises(BadRequest):
            opensearch.put_index_template(template, body)
        return
    opensearch.put_index_template(template, body)
    settings = enrich_env.settings(f"logs-ldb{tag}*", max_message_bytes=2048)
    assert run_setup(opensearch, settings).ok
    rows = [r for r in enrich_env.records if r["stream"] in ("stream-0", "stream-1")]
    for row in rows:
        opensearch.index(name, ecs(row), create=True)
    opensearch.refresh(name)
    (backing,) = opensearch.data_stream_of(name)
    assert opensearch.get_index_settings(backing)[backing].get("index.mode") == "logsdb"
    summary = run_pass(build_context(settings), flush=True, progress=False)
    assert summary.still_pending == 0 and summary.scored == len(rows) and not summary.unwritten
    found = hits(opensearch, name)
    assert len(found) == len(rows)
    for hit in found:
        colog = hit["_source"]["colog"]
        assert colog["status"] == "enriched" and 0.0 <= colog["score"] <= 1.0, colog
        assert colog["stream"] == f"web-1|{get_path(hit['_source'], 'process.name')}"
    drop_data_stream(opensearch, name, template)
