"""The bundled OpenSearch Dashboards objects (`dashboards/colog.ndjson`): load, check, query, import.

- `load_bundle` / `check_bundle`: parse the ndjson and check that every reference (index
  pattern of a visualization, panel of the dashboard) resolves inside the bundle.
- `visualization_request` / `rows`: the OpenSearch request a visualization stands for (its
  visState aggregations and its searchSourceJSON query, which are Lucene so they map 1:1 onto a
  `query_string`), and its response flattened into table rows. Tests and the chart renderer use
  these to run the dashboard's own queries against a real OpenSearch.
- `import_bundle`: `POST /api/saved_objects/_import?overwrite=true` on a Dashboards URL, with a
  report of what was created and what was updated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colog.core.settings import PROJECT_ROOT

BUNDLE = PROJECT_ROOT / "dashboards" / "colog.ndjson"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
BUCKET_SCHEMAS = ("segment", "group", "split", "bucket")
METRICS = ("count", "avg", "sum", "min", "max", "cardinality")


class BundleError(ValueError):
    """The saved-objects bundle is malformed; the message names the line or object."""


# --- loading and checking -------------------------------------------------------------------


def load_bundle(path: Path | str = BUNDLE) -> list[dict]:
    """Every saved object of an ndjson export, in file order."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such saved-objects file")
    objects, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise BundleError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(obj, dict):
            raise BundleError(f"{path}:{number}: a saved object must be a JSON object")
        missing = [key for key in ("id", "type", "attributes") if key not in obj]
        if missing:
            raise BundleError(f"{path}:{number}: missing {', '.join(missing)}")
        key = (obj["type"], obj["id"])
        if key in seen:
            raise BundleError(f"{path}:{number}: duplicate {obj['type']} {obj['id']!r}")
        seen.add(key)
        objects.append(obj)
    if not objects:
        raise BundleError(f"{path}: no saved objects")
    return objects


def _json_attr(obj: dict, *path: str) -> Any:
    node: Any = obj["attributes"]
    for part in path:
        node = node[part]
    try:
        return json.loads(node)
    except (TypeError, json.JSONDecodeError) as error:
        raise BundleError(f"{obj['type']} {obj['id']!r}: {'.'.join(path)} is not JSON") from error


def search_source(obj: dict) -> dict:
    return _json_attr(obj, "kibanaSavedObjectMeta", "searchSourceJSON")


def vis_state(obj: dict) -> dict:
    return _json_attr(obj, "visState")


def reference_problems(objects: list[dict]) -> list[str]:
    """Every reference that does not resolve inside the bundle, as readable lines."""
    present = {(obj["type"], obj["id"]) for obj in objects}
    problems = []
    for obj in objects:
        name = f"{obj['type']} {obj['id']!r}"
        refs = {ref.get("name"): ref for ref in obj.get("references", [])}
        for ref in obj.get("references", []):
            if (ref.get("type"), ref.get("id")) not in present:
                problems.append(f"{name}: reference {ref.get('name')!r} points at missing "
                                f"{ref.get('type')} {ref.get('id')!r}")
        wanted = []
        if "kibanaSavedObjectMeta" in obj["attributes"]:
            ref_name = search_source(obj).get("indexRefName")
            if ref_name:
                wanted.append(ref_name)
            elif obj["type"] in ("visualization", "search"):
                problems.append(f"{name}: searchSourceJSON names no index pattern")
        if obj["type"] == "visualization":
            vis_state(obj)  # must parse
        if obj["type"] == "dashboard":
            wanted += [panel.get("panelRefName") for panel in _json_attr(obj, "panelsJSON")]
        for ref_name in wanted:
            if ref_name not in refs:
                problems.append(f"{name}: names reference {ref_name!r} but has no such reference")
    return problems


def check_bundle(path: Path | str = BUNDLE) -> list[dict]:
    objects = load_bundle(path)
    problems = reference_problems(objects)
    if problems:
        raise BundleError("; ".join(problems))
    return objects


def by_id(objects: list[dict]) -> dict[str, dict]:
    return {obj["id"]: obj for obj in objects}


def index_pattern_of(obj: dict, objects: list[dict]) -> dict:
    ref_name = search_source(obj)["indexRefName"]
    [ref] = [ref for ref in obj["references"] if ref["name"] == ref_name]
    return by_id(objects)[ref["id"]]


# --- a visualization as an OpenSearch request -----------------------------------------------


@dataclass
class VisRequest:
    """What a visualization runs: index pattern, body, and how to read the response."""

    title: str
    vis_type: str
    index: str
    body: dict
    buckets: list[dict] = field(default_factory=list)  # bucket aggs, outermost first
    metrics: list[dict] = field(default_factory=list)


def _metric_dsl(agg: dict) -> dict | None:
    kind = agg["type"]
    if kind == "count":
        return None  # doc_count of the enclosing bucket
    if kind not in METRICS:
        raise BundleError(f"metric aggregation {kind!r} is not supported here")
    return {kind: {"field": agg["params"]["field"]}}


def _bucket_dsl(agg: dict, metrics: list[dict], interval: str) -> dict:
    params, kind = agg["params"], agg["type"]
    if kind == "terms":
        order_by = params.get("orderBy", "1")
        metric = next((m for m in metrics if m["id"] == order_by), None)
        if order_by == "_key":
            key = "_key"
        elif metric is None or metric["type"] == "count":
            key = "_count"
        else:
            key = order_by
        return {"terms": {"field": params["field"], "size": int(params.get("size", 5)),
                          "order": {key: params.get("order", "desc")}}}
    if kind == "date_histogram":
        chosen = interval if params.get("interval", "auto") == "auto" else params["interval"]
        unit = "calendar_interval" if chosen[-1] in "wMqy" else "fixed_interval"
        return {"date_histogram": {"field": params["field"], unit: chosen,
                                   "min_doc_count": int(params.get("min_doc_count", 1))}}
    if kind == "histogram":
        dsl = {"field": params["field"], "interval": params["interval"],
               "min_doc_count": 1 if params.get("min_doc_count") else 0}
        if params.get("has_extended_bounds"):
            dsl["extended_bounds"] = params["extended_bounds"]
        return {"histogram": dsl}
    raise BundleError(f"bucket aggregation {kind!r} is not supported here")


def visualization_request(obj: dict, objects: list[dict], time_range: tuple | None = None,
                          interval: str = "1h") -> VisRequest:
    """The `_search` a visualization stands for.

    `time_range` is (gte, lte) on the index pattern's time field, as the dashboard's time picker
    would add; `interval` stands in for a date histogram's `auto` interval.
    """
    state, source = vis_state(obj), search_source(obj)
    pattern = index_pattern_of(obj, objects)
    aggs = [agg for agg in state["aggs"] if agg.get("enabled", True)]
    metrics = [agg for agg in aggs if agg["schema"] == "metric"]
    buckets = [agg for agg in aggs if agg["schema"] in BUCKET_SCHEMAS]
    metric_dsl = {m["id"]: dsl for m in metrics if (dsl := _metric_dsl(m)) is not None}

    # Metrics ride on every bucket level so that a terms agg can be ordered by any of them.
    inner: dict = dict(metric_dsl)
    for agg in reversed(buckets):
        node = _bucket_dsl(agg, metrics, interval)
        node["aggs"] = {**metric_dsl, **inner} if inner else dict(metric_dsl)
        if not node["aggs"]:
            del node["aggs"]
        inner = {agg["id"]: node}

    query = source.get("query") or {}
    if query.get("language", "lucene") != "lucene":
        raise BundleError(f"{obj['id']}: only Lucene queries are translated, not "
                          f"{query.get('language')!r}")
    must = ([{"query_string": {"query": query["query"], "analyze_wildcard": True}}]
            if query.get("query") else [{"match_all": {}}])
    filters = []
    time_field = pattern["attributes"].get("timeFieldName")
    if time_range is not None and time_field:
        filters.append({"range": {time_field: {"gte": time_range[0], "lte": time_range[1]}}})
    body = {"size": 0, "track_total_hits": True,
            "query": {"bool": {"must": must, "filter": filters}}, "aggs": inner}
    return VisRequest(title=state["title"], vis_type=state["type"],
                      index=pattern["attributes"]["title"], body=body, buckets=buckets,
                      metrics=metrics)


def _metric_value(bucket: dict, metric: dict):
    if metric["type"] == "count":
        return bucket["doc_count"]
    return bucket[metric["id"]]["value"]


def rows(request: VisRequest, response: dict) -> list[dict]:
    """Innermost buckets as rows keyed by agg id (bucket keys and metric values)."""
    out: list[dict] = []

    def walk(node: dict, depth: int, keys: dict) -> None:
        if depth == len(request.buckets):
            row = dict(keys)
            for metric in request.metrics:
                row[metric["id"]] = _metric_value(node, metric)
            out.append(row)
            return
        agg = request.buckets[depth]
        for bucket in node[agg["id"]]["buckets"]:
            walk(bucket, depth + 1, {**keys, agg["id"]: bucket["key"]})

    walk({**response["aggregations"], "doc_count": response["hits"]["total"]["value"]}, 0, {})
    return out



def labels(request: VisRequest) -> dict[str, str]:
    """Agg id -> a human label (custom label, else field)."""
    out = {}
    for agg in request.buckets + request.metrics:
        params = agg.get("params", {})
        out[agg["id"]] = params.get("customLabel") or params.get("field") or agg["type"]
    return out


# --- import into Dashboards -----------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return ([f"created {name}" for name in self.created]
                + [f"updated {name}" for name in self.updated]
                + [f"error   {name}" for name in self.errors])


def _existing(session: Any, base: str, objects: list[dict], timeout: float) -> set:
    """(type, id) of the bundle's objects that Dashboards already has."""
    response = session.post(f"{base}/api/saved_objects/_bulk_get",
                            json=[{"type": o["type"], "id": o["id"]} for o in objects],
                            headers={"osd-xsrf": "true"}, timeout=timeout)
    response.raise_for_status()
    return {(o["type"], o["id"]) for o in response.json().get("saved_objects", [])
            if not o.get("error")}


def import_report(objects: list[dict], existing: set, answer: dict) -> ImportReport:
    """Read the `_import` answer: which objects were created, updated, or failed."""
    report = ImportReport()
    for result in answer.get("successResults", []):
        key = (result.get("type"), result.get("id"))
        name = f"{key[0]} {key[1]}"
        (report.updated if key in existing else report.created).append(name)
    for error in answer.get("errors", []):
        detail = error.get("error", {})
        report.errors.append(f"{error.get('type')} {error.get('id')}: "
                             f"{detail.get('type', '')} {detail.get('message', '')}".strip())
    if not answer.get("success", False) and not report.errors:
        report.errors.append(f"import failed: {json.dumps(answer)[:500]}")
    return report


def import_bundle(dashboards_url: str, path: Path | str = BUNDLE, auth: tuple | None = None,
                  verify: bool | str = True, timeout: float = 30.0) -> ImportReport:
    """Import (overwrite) the bundle into OpenSearch Dashboards and say what changed."""
    import requests  # a dependency of opensearch-py; imported here so the CLI starts fast

    objects = check_bundle(path)
    base = dashboards_url.rstrip("/")
    with requests.Session() as session:
        session.auth = auth
        session.verify = verify
        try:
            existing = _existing(session, base, objects, timeout)
            with open(path, "rb") as handle:
                response = session.post(
                    f"{base}/api/saved_objects/_import", params={"overwrite": "true"},
                    headers={"osd-xsrf": "true"},
                    files={"file": (Path(path).name, handle, "application/ndjson")},
                    timeout=timeout)
        except requests.RequestException as error:
            raise BundleError(f"cannot reach OpenSearch Dashboards at {base}: {error}") from error
        if response.status_code >= 400:
            raise BundleError(f"Dashboards refused the import ({response.status_code}): "
                              f"{response.text[:500]}")
        return import_report(objects, existing, response.json())
