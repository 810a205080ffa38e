"""`colog setup`: the `colog.*` mapping composed into the index templates a site already has,
and the `colog-ingest` pipeline attached to new documents.

The mapping lives in a component template (`colog-fields`). Setup does not compete with the
site's templates (an index gets exactly one index template, the highest-priority match, so a
competing template would turn a `logs-*-*` data stream into a plain index and drop the site's
mappings): it adds `colog-fields` to the `composed_of` of every index template whose patterns
overlap COLOG_INDEX_PATTERN, first in the list so the site's own components and mappings win
on input fields (`message`, `host.name`). A template the engine manages itself (`_meta.managed`,
such as Elasticsearch's built-in `logs`) is not edited: its `<name>@custom` component, which it
composes for exactly this, gets the fields (and the final pipeline) instead, merged into the
site's own `@custom` where there is one. The `colog` index template remains as the
lowest-priority catch-all for indices no other template matches.

Existing indices (data-stream backing indices included) get the fields through a put-mapping,
which the engine refuses for a field that already has another type: that conflict is reported,
never forced.

The pipeline stamps `colog.status: pending`, `event.ingested` (ECS: when the event reached the
store) and, with lang-painless, the stream key. It is attached as `index.final_pipeline` (it
runs after the site's default or request pipeline, which it never replaces); an index whose
final pipeline is already another one is left alone and reported, with how to chain it. Where
the node lacks ingest-common (Elasticsearch's minimal distribution), nothing is attached and
setup says so: the worker finds new documents without it (no `colog.status` means pending).
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field

from colog.core.engine import SearchEngine
from colog.core.engine.errors import BadRequest
from colog.core.fields import mapping_properties
from colog.core.settings import Settings

COMPONENT = "colog-fields"
TEMPLATE = "colog"
PIPELINE = "colog-ingest"
# The catch-all: below any site template (Elasticsearch's built-in ones sit at 100), so it only
# decides for indices nothing else matches.
TEMPLATE_PRIORITY = 1
META = {"managed_by": "colog", "contract": "docs/design.md section 5"}
FINAL_PIPELINE = "index.final_pipeline"
# What a put-index-template accepts of what a get returns (newer engines add read-only keys).
TEMPLATE_KEYS = ("index_patterns", "template", "composed_of", "priority", "version", "_meta",
                 "data_stream", "allow_auto_create", "ignore_missing_component_templates",
                 "deprecated")

# Painless: the stream key of colog/core/engine/streams.py, from dotted keys or nested objects.
STREAM_SCRIPT = """
String valueOf(Map doc, String path) {
  def node = doc.containsKey(path) ? doc[path] : null;
  if (node == null) {
    node = doc;
    for (String part : path.splitOnToken('.')) {
      if (!(node instanceof Map) || !node.containsKey(part)) { return null; }
      node = node[part];
    }
  }
  if (node == null || node instanceof Map || node instanceof List) { return null; }
  String text = String.valueOf(node);
  return text.isEmpty() ? null : text;
}
List parts = new ArrayList();
boolean any = false;
for (String name : params.fields) {
  String value = valueOf(ctx, name);
  if (value != null) { any = true; }
  parts.add(value == null ? '' : value);
}
String chosen = null;
for (String name : params.fallback) {
  chosen = valueOf(ctx, name);
  if (chosen != null) { break; }
}
if (!params.fallback.isEmpty()) { parts.add(chosen == null ? '' : chosen); }
if (any || chosen != null) {
  if (!(ctx.colog instanceof Map)) { ctx.colog = new HashMap(); }
  if (ctx.colog.stream == null) {
    String key = '';
    for (int i = 0; i < parts.size(); i++) { key += (i == 0 ? '' : '|') + parts.get(i); }
    ctx.colog.stream = key;
  }
}
"""


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


def component_body(with_pipeline: bool = False) -> dict:
    template: dict = {"mappings": {"properties": mapping_properties()}}
    if with_pipeline:
        # Nested, as the engines answer a get: setup again then finds it unchanged.
        template["settings"] = {"index": {"final_pipeline": PIPELINE}}
    return {"template": template, "_meta": META}


def template_body(pattern: str) -> dict:
    return {"index_patterns": [pattern], "composed_of": [COMPONENT],
            "priority": TEMPLATE_PRIORITY, "_meta": META}


def pipeline_body(settings: Settings, with_stream: bool) -> dict:
    processors: list[dict] = [
        {"set": {"field": "colog.status", "value": "pending", "override": False}},
        # The date processor reads the ingest timestamp without a template engine (the set
        # processor's {{{_ingest.timestamp}}} needs lang-mustache, which minimal nodes lack).
        {"date": {"field": "_ingest.timestamp", "target_field": "event.ingested",
                  "formats": ["ISO8601"]}},
    ]
    if with_stream:
        processors.append({"script": {"lang": "painless", "source": STREAM_SCRIPT.strip(),
                                      "params": {"fields": list(settings.stream_fields),
                                                 "fallback": list(settings.stream_fallback_fields)}}})
    return {"description": "CoLog: mark new log documents pending, stamp event.ingested and "
                           "the stream key", "processors": processors}


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


def overlaps(patterns: list[str], pattern: str) -> bool:
    """Whether an index could match both (a heuristic on the patterns themselves)."""
    return any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(pattern, p) for p in patterns)


def install_templates(client: SearchEngine, settings: Settings, report: SetupReport,
                      with_pipeline: bool = False) -> None:
    wanted = component_body(with_pipeline)
    current = client.get_component_template(COMPONENT)
    _put_if_changed(report, f"component template {COMPONENT}",
                    _normalise(current) if current else None, wanted,
                    lambda: client.put_component_template(COMPONENT, wanted))
    wanted_t = template_body(settings.index_pattern)
    current_t = client.index_templates().get(TEMPLATE)
    try:
        _put_if_changed(report, f"index template {TEMPLATE}",
                        _normalise(current_t) if current_t else None, wanted_t,
                        lambda: client.put_index_template(TEMPLATE, wanted_t))
    except BadRequest as error:
        report.conflicts.append(f"index template {TEMPLATE}: {error.reason or error}")
    compose_into_site_templates(client, settings.index_pattern, report, with_pipeline)


def compose_into_site_templates(client: SearchEngine, pattern: str, report: SetupReport,
                                with_pipeline: bool = False) -> None:
    """Add `colog-fields` to every other index template that matches the same indices."""
    for name, body in sorted(client.index_templates().items()):
        if name == TEMPLATE or not overlaps(body.get("index_patterns", []), pattern):
            continue
        composed = list(body.get("composed_of", []))
        if COMPONENT in composed:
            report.unchanged.append(f"index template {name} (composes {COMPONENT})")
            continue
        if (body.get("_meta") or {}).get("managed"):
            _fill_custom_component(client, name, composed, report, with_pipeline)
            continue
        updated = {k: v for k, v in body.items() if k in TEMPLATE_KEYS}
        updated["composed_of"] = [COMPONENT, *composed]
        try:
            client.put_index_template(name, updated)
        except BadRequest as error:
            report.conflicts.append(f"index template {name}: adding {COMPONENT} to its "
                                    f"composed_of was refused ({error.reason or error})")
            continue
        report.updated.append(f"index template {name} (now composes {COMPONENT})")


def _fill_custom_component(client: SearchEngine, name: str, composed: list[str],
                           report: SetupReport, with_pipeline: bool) -> None:
    """An engine-managed template is rewritten by the engine on upgrade: the colog fields (and
    the final pipeline, which its new backing indices need after a rollover) go into the
    `<name>@custom` component it composes for site additions. That component is often the
    site's own: the fields are merged into it, and nothing of the site's is replaced."""
    custom = f"{name}@custom"
    if custom not in composed:
        report.notes.append(f"index template {name} is managed by the engine and composes no "
                            f"{custom}: new indices it creates miss the colog.* mapping")
        return
    label = f"component template {custom} (for {name})"
    current = client.get_component_template(custom)
    if current is None or (current.get("_meta") or {}).get("managed_by") == "colog":
        wanted = component_body(with_pipeline)
        _put_if_changed(report, label, _normalise(current) if current else None, wanted,
                        lambda: client.put_component_template(custom, wanted))
        return
    merged, clashes = merge_into_site_component(current, with_pipeline)
    if clashes:
        report.conflicts.append(f"{label}: the site's component already defines "
                                f"{', '.join(clashes)} otherwise; left as it is")
        return
    final = _final_pipeline(merged.get("template", {}).get("settings", {}))
    if with_pipeline and final != PIPELINE:
        report.notes.append(f"{label} sets final pipeline {final}: {PIPELINE} not added. To have "
                            f'both, end {final} with a processor {{"pipeline": {{"name": '
                            f'"{PIPELINE}"}}}}')
    if merged == {k: v for k, v in current.items() if k in COMPONENT_KEYS}:
        report.unchanged.append(f"{label} (the site's, with the colog fields)")
        return
    client.put_component_template(custom, merged)
    report.updated.append(f"{label} (the site's, colog fields merged in)")


# What a put-component-template accepts of what a get returns.
COMPONENT_KEYS = ("template", "version", "_meta", "deprecated")


def merge_into_site_component(current: dict, with_pipeline: bool) -> tuple[dict, list[str]]:
    """The site's component with the colog mapping (and final pipeline) added, and the colog
    fields it already maps differently. On the input fields (`message`, `host.name`, ...) the
    site's mapping wins, as it does over `colog-fields` in a composed template."""
    merged = copy.deepcopy({k: v for k, v in current.items() if k in COMPONENT_KEYS})
    template = merged.setdefault("template", {})
    properties = template.setdefault("mappings", {}).setdefault("properties", {})
    clashes: list[str] = []
    for field_name, wanted in mapping_properties().items():
        _merge_field(properties, field_name, wanted, field_name, field_name == "colog", clashes)
    if with_pipeline and _final_pipeline(template.get("settings", {})) is None:
        template.setdefault("settings", {}).setdefault("index", {})["final_pipeline"] = PIPELINE
    return merged, clashes


def _merge_field(properties: dict, name: str, wanted: dict, path: str, ours: bool,
                 clashes: list[str]) -> None:
    if name not in properties:
        properties[name] = copy.deepcopy(wanted)
        return
    have = properties[name]
    if "properties" in wanted and "properties" in have:
        for child, spec in wanted["properties"].items():
            _merge_field(have["properties"], child, spec, f"{path}.{child}", ours, clashes)
    elif ours and have != wanted:
        clashes.append(path)


def _final_pipeline(settings: dict) -> str | None:
    """`index.final_pipeline` of component settings, nested (as a get answers) or dotted."""
    return (settings.get("index") or {}).get("final_pipeline") or settings.get(FINAL_PIPELINE)


def map_existing_indices(client: SearchEngine, settings: Settings, report: SetupReport) -> None:
    for name in client.list_indices(settings.index_pattern):
        try:
            client.put_mapping(name, mapping_properties())
            report.unchanged.append(f"mapping of {name} (colog fields present)")
        except BadRequest as error:
            report.conflicts.append(f"index {name}: existing mapping conflicts with the colog "
                                    f"contract ({error.reason or error})")


def attach_to_existing_indices(client: SearchEngine, settings: Settings,
                               report: SetupReport) -> None:
    """Set `index.final_pipeline` on matching indices that have none; never replace one."""
    current = client.get_index_settings(settings.index_pattern)
    for name, index_settings in sorted(current.items()):
        final = index_settings.get(FINAL_PIPELINE)
        if final == PIPELINE:
            continue
        if final:
            report.notes.append(
                f"index {name} already has final pipeline {final}: {PIPELINE} not attached. "
                f"To have both, end {final} with a processor "
                f'{{"pipeline": {{"name": "{PIPELINE}"}}}}')
            continue
        client.put_index_settings(name, {FINAL_PIPELINE: PIPELINE})
        report.updated.append(f"index {name} (final pipeline {PIPELINE})")


def install_pipeline(client: SearchEngine, settings: Settings, report: SetupReport) -> bool:
    """Install the pipeline where the node can run it; whether it is installed."""
    processors = client.ingest_processors()
    if not {"set", "date"} <= processors:
        report.notes.append(
            f"ingest pipeline {PIPELINE} not installed: this node has no `set` processor "
            f"(module ingest-common; {client.product}'s minimal distribution lacks it). The worker "
            "finds new documents without it (no colog.status means pending), but shipped "
            "documents get no event.ingested from it.")
        return False
    # The stream key is a Painless script; without lang-painless it cannot run.
    painless = "script" in processors and "lang-painless" in client.node_modules()
    if not painless:
        report.notes.append(f"{PIPELINE}: no lang-painless on this node, so the pipeline does not "
                            "stamp colog.stream (the worker writes it on enrichment)")
    wanted = pipeline_body(settings, with_stream=painless)
    current = client.get_pipeline(PIPELINE)
    if current is not None and current == wanted:
        report.unchanged.append(f"ingest pipeline {PIPELINE}")
        return True
    client.put_pipeline(PIPELINE, wanted)
    (report.updated if current else report.created).append(f"ingest pipeline {PIPELINE}")
    return True


def run_setup(client: SearchEngine, settings: Settings) -> SetupReport:
    report = SetupReport()
    # The pipeline first: a template may only name a pipeline that exists.
    with_pipeline = install_pipeline(client, settings, report)
    install_templates(client, settings, report, with_pipeline)
    map_existing_indices(client, settings, report)
    if with_pipeline:
        attach_to_existing_indices(client, settings, report)
    from colog.services.drift.store import ensure_drift_index

    # The dashboard's drift panels and the drift monitor read it before the first check.
    created = ensure_drift_index(client, settings)
    (report.created if created else report.unchanged).append(f"drift index {settings.drift_index}")
    return report
