"""The bundled Dashboards objects: they parse, their references resolve, and every
visualization's own query and aggregations, run on the real OpenSearch over enriched documents,
return the buckets an analyst should see (point vs collective split included)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from colog.app.dashboards import saved_objects as so
from colog.core.fields import mapping_properties

pytestmark = pytest.mark.integration

# (host, HH:MM on 2024-05-01 UTC, anomaly type) in stream order; one stream per host.
SPEC = [
    ("host-a", "10:00", "point"), ("host-a", "10:05", "point"), ("host-a", "10:10", "point"),
    ("host-a", "10:15", "none"),
    ("host-b", "10:00", "collective"), ("host-b", "10:05", "collective"),
    ("host-a", "11:00", "both"), ("host-a", "11:10", "none"), ("host-a", "11:15", "none"),
    ("host-a", "11:20", "none"), ("host-a", "11:25", "none"),
    ("host-b", "11:00", "point"), ("host-b", "11:05", "point"),
    ("host-b", "11:10", "collective"),
    ("host-b", "12:00", "both"), ("host-b", "12:05", "both"), ("host-b", "12:10", "both"),
    ("host-a", "12:00", "none"), ("host-a", "12:05", "none"),
    ("host-c", "12:30", "collective"), ("host-c", "12:35", "collective"),
]
# anomaly type -> (event label, context label, score, context score, semantic weight, template)
KINDS = {
    "none": ("normal", "normal", 0.07, 0.1, 0.6, "T0 request served in <*> ms"),
    "point": ("anomaly", "normal", 0.88, 0.3, 0.7, "T1 error writing block <*>"),
    "collective": ("normal", "anomaly", 0.22, 0.8, 0.2, "T2 retrying connection to <*>"),
    "both": ("anomaly", "anomaly", 0.97, 0.9, 0.5, "T3 fatal: disk <*> unavailable"),
}
HOUR = 3600 * 1000


def ts(hhmm: str) -> str:
    return f"2024-05-01T{hhmm}:00.000Z"


def epoch_ms(hhmm: str) -> int:
    hour, minute = map(int, hhmm.split(":"))
    return int(datetime(2024, 5, 1, hour, minute, tzinfo=timezone.utc).timestamp() * 1000)


def stream_of(host: str) -> str:
    return f"{host}|/var/log/{host}.log"


def enriched_docs(enriched_at: str | None = None) -> list[dict]:
    """Search-hit shaped documents as the enricher leaves them, plus two it could not score."""
    enriched_at = enriched_at or datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    hits = []
    for number, (host, hhmm, kind) in enumerate(SPEC):
        label, context, score, context_score, semantic, template = KINDS[kind]
        template_text = template if host != "host-c" else "T4 timeout talking to <*>"
        hits.append({"_id": f"doc-{number:03d}", "_source": {
            "@timestamp": ts(hhmm),
            "message": template_text.replace("<*>", str(number)),
            "host": {"name": host},
            "log": {"file": {"path": f"/var/log/{host}.log"}},
            "colog": {
                "status": "enriched", "label": label,
                "polarity": "negative" if label == "anomaly" else "positive",
                "score": score, "context": {"label": context, "score": context_score},
                "anomaly_type": kind,
                "attention": {"semantic": semantic, "sequence": round(1 - semantic, 6),
                              "context": [0.25, 0.5, 0.25],
                              "tokens": ["error", "block"], "token_weights": [0.6, 0.4]},
                "template": {"id": template_text.split()[0], "text": template_text},
                "stream": stream_of(host), "model": {"version": "1"},
                "enriched_at": enriched_at,
            }}})
        if kind != "none":  # the explanation the enricher writes on anomalies
            colog = hits[-1]["_source"]["colog"]
            parts = ['point: "error" (0.40)'] if label == "anomaly" else []
            if context == "anomaly":
                colog["neighbour"] = {"id": f"doc-{number - 1:03d}", "offset": -1,
                                      "weight": 0.5, "message": "the event before"}
                parts.append('context: previous event "the event before" (0.50)')
            colog["explanation"] = "; ".join(parts)
        if number % 3 == 0:  # a candidate in shadow scored every third event
            hits[-1]["_source"]["colog"]["shadow"] = {
                "label": "normal" if kind == "point" else label, "model": {"version": "7"}}
    for number, status in ((900, "failed"), (901, "pending")):
        hits.append({"_id": f"doc-{number}", "_source": {
            "@timestamp": ts("10:30"), "message": "\x00\x01", "host": {"name": "host-a"},
            "log": {"file": {"path": "/var/log/host-a.log"}},
            "colog": {"status": status, "error": "binary" if status == "failed" else None}}})
    return hits


def create_logs_index(client, index: str, hits: list[dict]) -> None:
    client.create_index(index, {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": mapping_properties()}})
    lines = []
    for hit in hits:
        lines.append(json.dumps({"index": {"_index": index, "_id": hit["_id"]}}))
        lines.append(json.dumps(hit["_source"]))
    answer = client.bulk([json.loads(line) for line in lines], refresh=True)
    assert not answer["errors"], answer


@pytest.fixture(scope="module")
def bundle():
    return so.check_bundle()


@pytest.fixture(scope="module")
def logs_index(opensearch):
    index = f"logs-colog-dash-{uuid.uuid4().hex[:8]}"
    create_logs_index(opensearch, index, enriched_docs())
    yield index
    opensearch.delete_index(index)


@pytest.fixture(scope="module")
def incidents_index(opensearch):
    """colog-incidents as the enricher would fill it from these events (quiet period 5 min)."""
    from colog.core.settings import Settings
    from colog.services.enrich.incidents import update_incidents

    index = f"colog-incidents-dash-{uuid.uuid4().hex[:8]}"
    settings = Settings(incidents_index=index, incident_quiet_period_s=300.0)
    hits = enriched_docs()
    for host in ("host-a", "host-b", "host-c"):
        stream = [h for h in hits if h["_source"]["host"]["name"] == host
                  and h["_source"]["colog"]["status"] == "enriched"]
        update_incidents(opensearch, settings, stream_of(host), stream)
    opensearch.refresh(index)
    yield index
    opensearch.delete_index(index)


def run(client, bundle, vis_id, index, **kwargs) -> list[dict]:
    request = so.visualization_request(so.by_id(bundle)[vis_id], bundle, **kwargs)
    answer = client.search(request.body, index)
    return so.rows(request, answer)


# --- the bundle itself ----------------------------------------------------------------------


def test_every_saved_object_parses_and_references_resolve(bundle):
    kinds = sorted(obj["type"] for obj in bundle)
    assert kinds.count("visualization") == 10
    assert kinds.count("index-pattern") == 3 and kinds.count("dashboard") == 1
    assert kinds.count("search") == 1
    assert so.reference_problems(bundle) == []
    titles = {obj["attributes"]["title"] for obj in bundle if obj["type"] == "index-pattern"}
    assert titles == {"logs-*", "colog-incidents", "colog-drift"}
    dashboard = so.by_id(bundle)["colog-dashboard"]
    on_dashboard = {ref["id"] for ref in dashboard["references"]}
    assert on_dashboard == {obj["id"] for obj in bundle
                            if obj["type"] in ("visualization", "search")}
    for obj in bundle:
        if obj["type"] == "visualization":
            state = so.vis_state(obj)
            assert state["title"] == obj["attributes"]["title"]
            assert state["aggs"], obj["id"]


def test_committed_bundle_is_what_the_builder_writes(bundle):
    import importlib.util

    from colog.core.settings import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location(
        "build_bundle", PROJECT_ROOT / "dashboards" / "build_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_objects() == bundle, "run: .venv/bin/python dashboards/build_bundle.py"


def test_saved_search_lists_every_anomaly_with_its_explanation(bundle):
    search = so.by_id(bundle)["colog-anomalies-search"]
    assert so.search_source(search)["query"] == {
        "query": "colog.anomaly_type:(point OR collective OR both)", "language": "lucene"}
    columns = search["attributes"]["columns"]
    for column in ("host.name", "message", "colog.anomaly_type", "colog.score",
                   "colog.explanation", "colog.neighbour.id", "colog.template.text"):
        assert column in columns
    assert columns.index("colog.explanation") == columns.index("message") + 2
    formats = json.loads(so.by_id(bundle)["colog-logs"]["attributes"]["fieldFormatMap"])
    link = formats["colog.neighbour.id"]
    assert link["id"] == "url" and "{{value}}" in link["params"]["urlTemplate"]


def test_saved_search_finds_collective_verdicts_and_their_explanations(opensearch, bundle,
                                                                       logs_index):
    search = so.by_id(bundle)["colog-anomalies-search"]
    query = so.search_source(search)["query"]["query"]
    found = opensearch.search({"size": 100, "query": {"query_string": {"query": query}},
                               "_source": ["colog"]}, logs_index)["hits"]["hits"]
    kinds = {h["_source"]["colog"]["anomaly_type"] for h in found}
    assert kinds == {"point", "collective", "both"}
    assert len(found) == sum(1 for _, _, kind in SPEC if kind != "none")
    for hit in found:
        colog = hit["_source"]["colog"]
        assert ("context: previous event" in colog["explanation"]) == \
            (colog["anomaly_type"] in ("collective", "both"))


def test_broken_bundles_are_rejected_with_the_reason(tmp_path, bundle):
    bad_json = tmp_path / "bad.ndjson"
    bad_json.write_text('{"id": "x", "type": "search", "attributes": {}}\n{oops\n')
    with pytest.raises(so.BundleError, match="bad.ndjson:2: not JSON"):
        so.load_bundle(bad_json)
    dangling = [obj for obj in bundle if obj["id"] != "colog-logs"]
    problems = so.reference_problems(dangling)
    assert any("missing index-pattern 'colog-logs'" in line for line in problems)
    duplicate = tmp_path / "dup.ndjson"
    line = json.dumps(bundle[0])
    duplicate.write_text(line + "\n" + line + "\n")
    with pytest.raises(so.BundleError, match="duplicate"):
        so.load_bundle(duplicate)
    with pytest.raises(so.BundleError, match="no such saved-objects file"):
        so.load_bundle(tmp_path / "absent.ndjson")


# --- every visualization against the real OpenSearch ----------------------------------------


def test_anomalies_over_time_split_point_collective_both(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-anomalies-over-time", logs_index, interval="1h")
    table = {(row["2"], row["3"]): row["1"] for row in got}
    assert table == {
        (epoch_ms("10:00"), "point"): 3, (epoch_ms("10:00"), "collective"): 2,
        (epoch_ms("11:00"), "point"): 2, (epoch_ms("11:00"), "collective"): 1,
        (epoch_ms("11:00"), "both"): 1,
        (epoch_ms("12:00"), "both"): 3, (epoch_ms("12:00"), "collective"): 2,
    }
    # With the dashboard's time picker narrowed to 11:00-11:59 only that hour remains.
    narrowed = run(opensearch, bundle, "colog-anomalies-over-time", logs_index, interval="1h",
                   time_range=(ts("11:00"), ts("11:59")))
    assert {row["3"]: row["1"] for row in narrowed} == {"point": 2, "collective": 1, "both": 1}


def test_anomalies_by_host_heatmap(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-anomalies-host-heatmap", logs_index)
    assert {(row["2"], row["3"]): row["1"] for row in got} == {
        ("host-a", "point"): 3, ("host-a", "both"): 1,
        ("host-b", "collective"): 3, ("host-b", "point"): 2, ("host-b", "both"): 3,
        ("host-c", "collective"): 2,
    }


def test_anomalies_by_host_and_stream_table(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-anomalies-host-stream", logs_index)
    assert [(row["2"], row["3"], row["1"]) for row in got] == [
        ("host-b", stream_of("host-b"), 8), ("host-a", stream_of("host-a"), 4),
        ("host-c", stream_of("host-c"), 2)]
    assert {row["2"]: round(row["4"], 2) for row in got} == {
        "host-a": 0.97, "host-b": 0.97, "host-c": 0.22}


def test_top_anomalous_templates_with_counts_and_mean_score(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-top-templates", logs_index)
    assert [(row["2"].split()[0], row["1"]) for row in got] == [
        ("T1", 5), ("T3", 4), ("T2", 3), ("T4", 2)]
    assert [round(row["3"], 2) for row in got] == [0.88, 0.97, 0.22, 0.22]
    assert not any(row["2"].startswith("T0") for row in got)  # normal events stay out


def test_modality_attention_of_anomalous_events(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-modality-attention", logs_index)
    assert [(row["3"], round(row["1"], 3), round(row["2"], 3)) for row in got] == [
        ("both", 0.5, 0.5), ("collective", 0.2, 0.8), ("point", 0.7, 0.3)]


def test_score_distribution(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-score-distribution", logs_index)
    table = {(round(row["2"], 2), row["3"]): row["1"] for row in got}
    assert table == {(0.05, "normal"): 7, (0.2, "normal"): 5,
                     (0.85, "anomaly"): 5, (0.95, "anomaly"): 4}
    # failed / pending documents carry no score and are not counted
    assert sum(table.values()) == len(SPEC)


def test_open_incidents_table(opensearch, bundle, incidents_index):
    got = run(opensearch, bundle, "colog-open-incidents", incidents_index)
    rows = [(row["1"], row["2"], row["3"], row["4"], row["5"], round(row["6"], 2))
            for row in got]
    assert rows == [
        (stream_of("host-c"), 2, 0, epoch_ms("12:30"), epoch_ms("12:35"), 0.8),
        (stream_of("host-b"), 3, 3, epoch_ms("12:00"), epoch_ms("12:10"), 0.9),
    ]
    everything = opensearch.count(incidents_index)
    assert everything == 5  # a: 1 closed; b: 2 closed + 1 open; c: 1 open


@pytest.fixture(scope="module")
def drift_index(opensearch):
    """colog-drift as two drift checks would leave it (one hour apart)."""
    from colog.core.settings import Settings
    from colog.services.drift.store import write_checks

    index = f"colog-drift-dash-{uuid.uuid4().hex[:8]}"
    docs = []
    for hhmm, js_a, js_b, unseen in (("10:00", 0.1, 0.2, 0.05), ("11:00", 0.7, 0.3, 0.4)):
        docs.append({"@timestamp": ts(hhmm), "scope": "index", "index": "logs-x",
                     "templates": {"js": max(js_a, js_b), "unseen_share": unseen},
                     "score": {"js": js_a / 2}, "events": {"recent": 300}, "drifted": js_a > .5})
        for stream, js in (("a", js_a), ("b", js_b)):
            docs.append({"@timestamp": ts(hhmm), "scope": "stream", "index": "logs-x",
                         "stream": stream, "templates": {"js": js, "new_share": js / 2,
                                                         "unseen_share": unseen},
                         "score": {"js": js / 4}, "events": {"recent": 150},
                         "drifted": js > .5})
    write_checks(opensearch, Settings(drift_index=index), docs)
    yield index
    opensearch.delete_index(index)


def test_drift_per_stream_table(opensearch, bundle, drift_index):
    got = run(opensearch, bundle, "colog-drift-streams", drift_index)
    assert [(row["1"], round(row["2"], 2), round(row["3"], 2), round(row["4"], 2),
             round(row["5"], 3), row["6"]) for row in got] == [
        ("a", 0.7, 0.35, 0.4, 0.175, 150), ("b", 0.3, 0.15, 0.4, 0.075, 150)]


def test_drift_over_time_line(opensearch, bundle, drift_index):
    got = run(opensearch, bundle, "colog-drift-over-time", drift_index, interval="1h")
    assert [(row["4"], round(row["1"], 2), round(row["2"], 2), round(row["3"], 2))
            for row in got] == [(epoch_ms("10:00"), 0.2, 0.05, 0.05),
                                (epoch_ms("11:00"), 0.7, 0.4, 0.35)]


def test_shadow_agreement_table(opensearch, bundle, logs_index):
    got = run(opensearch, bundle, "colog-shadow-agreement", logs_index)
    expected: dict = {}
    for hit in enriched_docs():
        colog = hit["_source"].get("colog", {})
        if "shadow" in colog:
            key = ("7", colog["label"], colog["shadow"]["label"])
            expected[key] = expected.get(key, 0) + 1
    assert {(row["2"], row["3"], row["4"]): row["1"] for row in got} == expected
    assert any(live != shadow for _, live, shadow in expected)  # the table shows flips


def test_every_visualization_is_covered(bundle):
    tested = {"colog-anomalies-over-time", "colog-anomalies-host-heatmap",
              "colog-anomalies-host-stream", "colog-top-templates",
              "colog-modality-attention", "colog-score-distribution", "colog-open-incidents",
              "colog-drift-streams", "colog-drift-over-time", "colog-shadow-agreement"}
    assert {obj["id"] for obj in bundle if obj["type"] == "visualization"} == tested


# --- the import report (Dashboards' answer shape, no server) --------------------------------


def test_import_report_tells_created_from_updated(bundle):
    existing = {("index-pattern", "colog-logs")}
    answer = {"success": False, "successCount": 2, "successResults": [
        {"type": "index-pattern", "id": "colog-logs", "meta": {}},
        {"type": "dashboard", "id": "colog-dashboard", "meta": {}}],
        "errors": [{"type": "visualization", "id": "v1",
                    "error": {"type": "unknown", "message": "boom"}}]}
    report = so.import_report(bundle, existing, answer)
    assert report.updated == ["index-pattern colog-logs"]
    assert report.created == ["dashboard colog-dashboard"]
    assert report.errors == ["visualization v1: unknown boom"] and not report.ok


def test_import_to_unreachable_dashboards_is_a_clear_error():
    with pytest.raises(so.BundleError, match="cannot reach OpenSearch Dashboards"):
        so.import_bundle("http://127.0.0.1:9", timeout=2)


# --- the README picture ---------------------------------------------------------------------


def test_render_charts_draws_the_dashboard_from_its_queries(opensearch, logs_index,
                                                            incidents_index, tmp_path):
    import importlib.util

    from colog.core.settings import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location(
        "render_charts", PROJECT_ROOT / "scripts" / "render_charts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.pick_interval(opensearch, logs_index) == "5m"  # 10:00-12:35 in <= 60 bars
    out = module.render(opensearch, tmp_path / "dash.png", logs_index, incidents_index)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
