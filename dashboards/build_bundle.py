"""Builds dashboards/colog.ndjson, the OpenSearch Dashboards 2.x saved objects of CoLog.

Saved objects nest JSON inside JSON strings (visState, searchSourceJSON, panelsJSON), which is
error-prone to edit by hand; edit this file and run it instead:

    .venv/bin/python dashboards/build_bundle.py

A test checks that the committed ndjson is exactly what this script writes. Queries are Lucene
(not KQL) so that each visualization maps 1:1 onto an OpenSearch `query_string`, which lets the
tests run every panel's real query (colog/app/dashboards/saved_objects.py).
"""

from __future__ import annotations

import json
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "colog.ndjson"

LOGS, INC, DRIFT = "colog-logs", "colog-incidents", "colog-drift"
ANOMALIES = "colog.anomaly_type:(point OR collective OR both)"
REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def source(query):
    return json.dumps({"query": {"query": query, "language": "lucene"}, "filter": [],
                       "indexRefName": REF}, separators=(",", ":"))


def axes(title_y, category_title=""):
    return {
        "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom",
                          "show": True, "style": {}, "scale": {"type": "linear"},
                          "labels": {"show": True, "filter": True, "truncate": 100},
                          "title": {"text": category_title}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                       "position": "left", "show": True, "style": {},
                       "scale": {"type": "linear", "mode": "normal"},
                       "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                       "title": {"text": title_y}}],
        "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [],
        "addTimeMarker": False, "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full",
                          "color": "#E7664C"},
    }


def series(metric_id, label, mode):
    return {"show": True, "type": "histogram", "mode": mode,
            "data": {"label": label, "id": metric_id}, "valueAxis": "ValueAxis-1",
            "drawLinesBetweenPoints": True, "lineWidth": 2, "showCircles": True}


def terms(agg_id, schema, field, size, order_by="1", order="desc", label=None):
    params = {"field": field, "size": size, "order": order, "orderBy": order_by,
              "otherBucket": False, "otherBucketLabel": "Other", "missingBucket": False,
              "missingBucketLabel": "Missing"}
    if label:
        params["customLabel"] = label
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema, "params": params}


def metric(agg_id, kind, field=None, label=None):
    params = {}
    if field:
        params["field"] = field
    if label:
        params["customLabel"] = label
    return {"id": agg_id, "enabled": True, "type": kind, "schema": "metric", "params": params}


# The neighbour that drove a collective verdict opens in Discover, found by its document id.
NEIGHBOUR_LINK = {"colog.neighbour.id": {"id": "url", "params": {
    "type": "a", "labelTemplate": "{{value}}",
    "urlTemplate": "/app/discover#/?_a=(query:(language:lucene,query:'_id:\"{{value}}\"'))"}}}

TABLE_PARAMS = {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False,
                "showTotal": False, "totalFunc": "sum", "percentageCol": ""}


def vis(vis_id, title, description, vtype, params, aggs, query, index=LOGS):
    """A visualization whose search source is a Lucene query on one index pattern."""
    state = {"title": title, "type": vtype, "params": {"type": vtype, **params}, "aggs": aggs}
    return {
        "id": vis_id, "type": "visualization",
        "attributes": {"title": title, "description": description,
                       "visState": json.dumps(state, separators=(",", ":")),
                       "uiStateJSON": "{}", "version": 1,
                       "kibanaSavedObjectMeta": {"searchSourceJSON": source(query)}},
        "references": [{"name": REF, "type": "index-pattern", "id": index}],
        "migrationVersion": {"visualization": "7.10.0"},
    }


def build_objects() -> list[dict]:
    """Every saved object, in import order (index patterns first, dashboard last)."""
    objects = []
    objects.append({"id": LOGS, "type": "index-pattern",
                    "attributes": {"title": "logs-*", "timeFieldName": "@timestamp", "fields": "[]",
                                   "fieldFormatMap": json.dumps(NEIGHBOUR_LINK,
                                                                separators=(",", ":"))},
                    "references": [], "migrationVersion": {"index-pattern": "7.6.0"}})
    objects.append({"id": INC, "type": "index-pattern",
                    "attributes": {"title": "colog-incidents", "timeFieldName": "@timestamp",
                                   "fields": "[]"},
                    "references": [], "migrationVersion": {"index-pattern": "7.6.0"}})

    objects.append({"id": DRIFT, "type": "index-pattern",
                    "attributes": {"title": "colog-drift", "timeFieldName": "@timestamp",
                                   "fields": "[]"},
                    "references": [], "migrationVersion": {"index-pattern": "7.6.0"}})

    over_time = axes("anomalies")
    over_time["seriesParams"] = [series("1", "anomalies", "stacked")]
    objects.append(vis(
        "colog-anomalies-over-time", "CoLog: anomalies over time (point / collective / both)",
        "Anomalous events per time bucket, split by colog.anomaly_type.",
        "histogram", over_time,
        [metric("1", "count", label="anomalies"),
         {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
          "params": {"field": "@timestamp", "useNormalizedOpenSearchInterval": True,
                     "interval": "auto", "drop_partials": False, "min_doc_count": 1,
                     "extended_bounds": {}}},
         terms("3", "group", "colog.anomaly_type", 4, label="anomaly type")],
        ANOMALIES))

    heat = {"addTooltip": True, "addLegend": True, "enableHover": False, "legendPosition": "right",
            "times": [], "colorsNumber": 5, "colorSchema": "Reds", "setColorRange": False,
            "colorsRange": [], "invertColors": False, "percentageMode": False,
            "valueAxes": [{"show": False, "id": "ValueAxis-1", "type": "value",
                           "scale": {"type": "linear", "defaultYExtents": False},
                           "labels": {"show": True, "rotate": 0, "overwriteColor": False,
                                      "color": "black"}}]}
    objects.append(vis(
        "colog-anomalies-host-heatmap", "CoLog: anomalies by host and type (heat map)",
        "Anomalous events per host (x) and anomaly type (y).",
        "heatmap", heat,
        [metric("1", "count", label="anomalies"),
         terms("2", "segment", "host.name", 20, label="host"),
         terms("3", "group", "colog.anomaly_type", 4, label="anomaly type")],
        ANOMALIES))

    objects.append(vis(
        "colog-anomalies-host-stream", "CoLog: anomalies by host and stream",
        "Anomalous events per host and stream, most first.",
        "table", dict(TABLE_PARAMS),
        [metric("1", "count", label="anomalies"),
         terms("2", "bucket", "host.name", 20, label="host"),
         terms("3", "bucket", "colog.stream", 20, label="stream"),
         metric("4", "max", "colog.score", label="max score")],
        ANOMALIES))

    objects.append(vis(
        "colog-top-templates", "CoLog: top anomalous templates",
        "Drain3 templates of anomalous events with their counts and mean scores.",
        "table", dict(TABLE_PARAMS),
        [metric("1", "count", label="anomalies"),
         terms("2", "bucket", "colog.template.text.keyword", 10, label="template"),
         metric("3", "avg", "colog.score", label="mean score"),
         metric("4", "avg", "colog.context.score", label="mean context score")],
        ANOMALIES))

    att = axes("mean modality weight", "anomaly type")
    att["seriesParams"] = [series("1", "semantic", "normal"), series("2", "sequence", "normal")]
    objects.append(vis(
        "colog-modality-attention", "CoLog: modality attention of anomalous events",
        "Mean balancing-layer weight of the semantic and the sequence modality, per anomaly type.",
        "histogram", att,
        [metric("1", "avg", "colog.attention.semantic", label="semantic"),
         metric("2", "avg", "colog.attention.sequence", label="sequence"),
         terms("3", "segment", "colog.anomaly_type", 4, order_by="_key", order="asc",
               label="anomaly type")],
        ANOMALIES))

    score = axes("events", "colog.score")
    score["seriesParams"] = [series("1", "events", "stacked")]
    objects.append(vis(
        "colog-score-distribution", "CoLog: score distribution",
        "Histogram of colog.score over enriched events, split by verdict.",
        "histogram", score,
        [metric("1", "count", label="events"),
         {"id": "2", "enabled": True, "type": "histogram", "schema": "segment",
          "params": {"field": "colog.score", "interval": 0.05, "min_doc_count": False,
                     "has_extended_bounds": True, "extended_bounds": {"min": 0, "max": 1}}},
         terms("3", "group", "colog.label", 2, label="verdict")],
        "colog.status:enriched"))

    objects.append(vis(
        "colog-open-incidents", "CoLog: open collective incidents",
        "Open incidents in colog-incidents, one row per stream (a stream has at most one open).",
        "table", dict(TABLE_PARAMS),
        [terms("1", "bucket", "stream", 50, order_by="5", label="stream"),
         metric("2", "sum", "event_count", label="events"),
         metric("3", "sum", "point_count", label="point anomalies"),
         metric("4", "min", "start", label="start"),
         metric("5", "max", "end", label="last anomalous event"),
         metric("6", "max", "max_score", label="max context score"),
         metric("7", "max", "mean_score", label="mean context score")],
        "status:open", index=INC))

    objects.append(vis(
        "colog-drift-streams", "CoLog: model drift per stream",
        "Worst drift measures of each stream over the time range (colog-drift): template "
        "frequencies (JS), share of new and of never-trained templates, score distribution (JS).",
        "table", dict(TABLE_PARAMS),
        [terms("1", "bucket", "stream", 50, order_by="2", label="stream"),
         metric("2", "max", "templates.js", label="templates JS"),
         metric("3", "max", "templates.new_share", label="new template share"),
         metric("4", "max", "templates.unseen_share", label="unseen in training"),
         metric("5", "max", "score.js", label="score JS"),
         metric("6", "max", "events.recent", label="recent events")],
        "scope:stream", index=DRIFT))

    drift_time = axes("divergence / share")
    drift_time["seriesParams"] = [series("1", "templates JS", "normal"),
                                  series("2", "unseen in training", "normal"),
                                  series("3", "score JS", "normal")]
    for entry in drift_time["seriesParams"]:
        entry["type"] = "line"
    objects.append(vis(
        "colog-drift-over-time", "CoLog: drift of each index over time",
        "Per drift check, the worst index-level measures: template-frequency and score "
        "divergence, share of events whose template the live model never saw.",
        "line", drift_time,
        [metric("1", "max", "templates.js", label="templates JS"),
         metric("2", "max", "templates.unseen_share", label="unseen in training"),
         metric("3", "max", "score.js", label="score JS"),
         {"id": "4", "enabled": True, "type": "date_histogram", "schema": "segment",
          "params": {"field": "@timestamp", "useNormalizedOpenSearchInterval": True,
                     "interval": "auto", "drop_partials": False, "min_doc_count": 1,
                     "extended_bounds": {}}}],
        "scope:index", index=DRIFT))

    objects.append(vis(
        "colog-shadow-agreement", "CoLog: shadow candidate vs live verdicts",
        "Events scored by both the live model and the candidate in shadow: live verdict, "
        "candidate verdict, count, per shadow version.",
        "table", dict(TABLE_PARAMS),
        [metric("1", "count", label="events"),
         terms("2", "bucket", "colog.shadow.model.version", 5, label="shadow version"),
         terms("3", "bucket", "colog.label", 2, label="live"),
         terms("4", "bucket", "colog.shadow.label", 2, label="shadow")],
        "_exists_:colog.shadow.model.version"))

    objects.append({
        "id": "colog-anomalies-search", "type": "search",
        "attributes": {
            "title": "CoLog: anomalous events",
            "description": "Point, collective and both: each with its explanation (the words "
                           "that made it, the neighbour that drove a collective verdict, a link "
                           "to that neighbour).",
            "hits": 0,
            "columns": ["host.name", "colog.stream", "message", "colog.anomaly_type",
                        "colog.explanation", "colog.score", "colog.context.score",
                        "colog.neighbour.id", "colog.template.text", "colog.model.version"],
            "sort": [["@timestamp", "desc"]], "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": ANOMALIES, "language": "lucene"}, "filter": [],
                 "highlightAll": True, "version": True, "indexRefName": REF},
                separators=(",", ":"))}},
        "references": [{"name": REF, "type": "index-pattern", "id": LOGS}],
        "migrationVersion": {"search": "7.9.3"},
    })

    layout = [  # (id, type, x, y, w, h)
        ("colog-anomalies-over-time", "visualization", 0, 0, 48, 14),
        ("colog-anomalies-host-heatmap", "visualization", 0, 14, 24, 14),
        ("colog-anomalies-host-stream", "visualization", 24, 14, 24, 14),
        ("colog-top-templates", "visualization", 0, 28, 24, 16),
        ("colog-modality-attention", "visualization", 24, 28, 24, 16),
        ("colog-score-distribution", "visualization", 0, 44, 24, 14),
        ("colog-open-incidents", "visualization", 24, 44, 24, 14),
        ("colog-anomalies-search", "search", 0, 58, 48, 18),
        ("colog-drift-over-time", "visualization", 0, 76, 24, 14),
        ("colog-drift-streams", "visualization", 24, 76, 24, 14),
        ("colog-shadow-agreement", "visualization", 0, 90, 24, 12),
    ]
    panels, refs = [], []
    for n, (obj_id, obj_type, x, y, w, h) in enumerate(layout):
        index = str(n + 1)
        panels.append({"version": "2.19.0", "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                       "panelIndex": index, "embeddableConfig": {}, "panelRefName": f"panel_{n}"})
        refs.append({"name": f"panel_{n}", "type": obj_type, "id": obj_id})
    objects.append({
        "id": "colog-dashboard", "type": "dashboard",
        "attributes": {
            "title": "CoLog: anomalies and incidents",
            "description": "Point and collective anomalies found by CoLog, their hosts, templates, "
                           "modality attention, scores and open incidents; model drift and the "
                           "shadow candidate.",
            "hits": 0, "timeRestore": False, "version": 1,
            "optionsJSON": json.dumps({"hidePanelTitles": False, "useMargins": True}),
            "panelsJSON": json.dumps(panels, separators=(",", ":")),
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "lucene"}, "filter": []})}},
        "references": refs,
        "migrationVersion": {"dashboard": "7.9.3"},
    })
    return objects


def write(path: Path = BUNDLE) -> int:
    objects = build_objects()
    with open(path, "w", encoding="utf-8") as out:
        for obj in objects:
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    return len(objects)


if __name__ == "__main__":
    print(f"{write()} saved objects -> {BUNDLE}")
