"""`colog setup`: the index template for the `colog.*` contract and the `colog-ingest` pipeline.

The mapping lives in a component template (`colog-fields`) composed by an index template
(`colog`). OpenSearch applies only the highest-priority index template that matches an index,
so a site with its own template for the same pattern adds `colog-fields` to its `composed_of`;
setup detects that case and says so (Elasticsearch behaves the same). Existing indices get the
fields through a put-mapping, which the engine refuses for a field that already has another type:
that conflict is reported, never forced. The pipeline is installed where the node has the `set`
processor (ingest-common); Elasticsearch's minimal distribution has none, and the worker finds
new documents without it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from colog.core.engine import SearchEngine
from colog.core.engine.errors import BadRequest
from colog.core.fields import mapping_properties
from colog.core.settings import Settings

COMPONENT = "colog-fields"
TEMPLATE = "colog"
PIPELINE = "colog-ingest"
TEMPLATE_PRIORITY = 200
META = {"managed_by": "colog", "contract": "docs/design.md section 5"}


@dataclass
class SetupReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts


def component_body() -> dict:
    return {"template": {"mappings": {"properties": mapping_properties()}}, "_meta": META}


def template_body(pattern: str) -> dict:
    return {"index_patterns": [pattern], "composed_of": [COMPONENT],
            "priority": TEMPLATE_PRIORITY, "_meta": META}


def pipeline_body(settings: Settings, with_stream: bool) -> dict:
    processors: list[dict] = [
        {"set": {"field": "colog.status", "value": "pending", "override": False}},
        {"set": {"field": "event.ingested", "value": "{{{_ingest.timestamp}}}",
                 "override": False}},
    ]
    if with_stream:
        # Mustache renders a missing field as "", which is the worker's key for the primary
        # fields; documents with none of them get their (fallback) key from the worker.
        key = "|".join("{{{%s}}}" % name for name in settings.stream_fields)
        condition = " || ".join(f"ctx.{n.replace('.', '?.')} != null"
                                for n in settings.stream_fields)
        processors.insert(1, {"set": {"field": "colog.stream", "value": key,
                                      "override": False, "if": condition}})
    return {"description": "CoLog: mark new log documents pending and stamp their stream key",
            "processors": processors}


def _put_if_changed(report: SetupReport, name: str, current: dict | None, wanted: dict,
                    put) -> None:
    if current is None:
        put()
        report.created.append(name)
    elif current == wanted:
        report.unchanged.append(name)
    elif (current.get("_meta") or {}).get("managed_by") == "colog":
        put()
        report.updated.append(name)
    else:
        report.conflicts.append(f"{name} exists and is not managed by colog: left as it is")


def _normalise(body: dict) -> dict:
    """What the engine returns for a template we put, without what it adds on its own."""
    return {k: v for k, v in body.items() if k in ("template", "index_patterns", "composed_of",
                                                    "priority", "_meta")}


def install_templates(client: SearchEngine, settings: Settings, report: SetupReport) -> None:
    wanted = component_body()
    current = client.get_component_template(COMPONENT)
    _put_if_changed(report, f"component template {COMPONENT}",
                    _normalise(current) if current else None, wanted,
                    lambda: client.put_component_template(COMPONENT, wanted))
    wanted_t = template_body(settings.index_pattern)
    current_t = client.index_templates().get(TEMPLATE)
    _put_if_changed(report, f"index template {TEMPLATE}",
                    _normalise(current_t) if current_t else None, wanted_t,
                    lambda: client.put_index_template(TEMPLATE, wanted_t))
    _shadowing_templates(client, settings.index_pattern, report)


def _shadowing_templates(client: SearchEngine, pattern: str, report: SetupReport) -> None:
    for name, body in sorted(client.index_templates().items()):
        if name == TEMPLATE:
            continue
        overlaps = any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(pattern, p)
                       for p in body.get("index_patterns", []))
        if overlaps and body.get("priority", 0) >= TEMPLATE_PRIORITY \
                and COMPONENT not in body.get("composed_of", []):
            report.notes.append(
                f"index template {name} also matches {pattern} with priority "
                f"{body.get('priority', 0)}: add \"{COMPONENT}\" to its composed_of, or new "
                "indices will miss the colog.* mapping")


def map_existing_indices(client: SearchEngine, settings: Settings, report: SetupReport) -> None:
    for name in client.list_indices(settings.index_pattern):
        try:
            client.put_mapping(name, mapping_properties())
            report.unchanged.append(f"mapping of {name} (colog fields present)")
        except BadRequest as error:
            report.conflicts.append(f"index {name}: existing mapping conflicts with the colog "
                                    f"contract ({error.reason or error})")


def install_pipeline(client: SearchEngine, settings: Settings, report: SetupReport) -> None:
    processors = client.ingest_processors()
    if "set" not in processors:
        report.notes.append(
            f"ingest pipeline {PIPELINE} not installed: this node has no `set` processor "
            f"(module ingest-common; {client.product}'s minimal distribution lacks it). The worker "
            "finds new documents without it (no colog.status "
            "means pending).")
        return
    # The stream key's condition is a Painless `if`; without lang-painless it cannot run.
    painless = "lang-painless" in client.node_modules()
    if not painless:
        report.notes.append(f"{PIPELINE}: no lang-painless on this node, so the pipeline does not "
                            "stamp colog.stream (the worker writes it on enrichment)")
    wanted = pipeline_body(settings, with_stream=painless)
    current = client.get_pipeline(PIPELINE)
    if current is not None and current == wanted:
        report.unchanged.append(f"ingest pipeline {PIPELINE}")
        return
    client.put_pipeline(PIPELINE, wanted)
    (report.updated if current else report.created).append(f"ingest pipeline {PIPELINE}")


def run_setup(client: SearchEngine, settings: Settings) -> SetupReport:
    report = SetupReport()
    install_templates(client, settings, report)
    map_existing_indices(client, settings, report)
    install_pipeline(client, settings, report)
    from colog.services.drift.store import ensure_drift_index

    # The dashboard's drift panels and the drift monitor read it before the first check.
    created = ensure_drift_index(client, settings)
    (report.created if created else report.unchanged).append(f"drift index {settings.drift_index}")
    return report
