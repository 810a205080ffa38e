"""OpenSearch Alerting monitors shipped in `dashboards/monitors/` (docs/design.md §2, detection engineer).

The JSON files are complete monitor definitions that work as they are (5-minute interval,
threshold 1). `render_monitor` applies the settings: the interval (`alert_interval_minutes`,
used for both the schedule and the look-back window on `colog.enriched_at`), the threshold of
the log monitors (`alert_min_anomalies`), the threshold of the incident monitor
(`alert_min_incidents`) and the index names (`index_pattern`, `incidents_index`,
`drift_index`). The drift monitor fires on any drifted measure: its thresholds are the drift
monitor's own (`drift_*` settings).

Windows are on `colog.enriched_at`, not `@timestamp`: the enricher scores an event only once its
following context exists, so a window on event time would miss late verdicts; a window on
enrichment time sees every verdict exactly once.

`install_monitors` is idempotent (find by name, update in place); where the Alerting plugin is
absent it installs nothing and says so. `evaluate_directly` runs a monitor's search with
`_search` and applies its trigger threshold in Python, for nodes without the plugin.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colog.core.settings import PROJECT_ROOT

MONITORS_DIR = PROJECT_ROOT / "dashboards" / "monitors"
ALERTING_COMPONENT = "opensearch-alerting"
DEFAULT_LOG_PATTERN = "logs-*"
DEFAULT_INCIDENTS = "colog-incidents"
DEFAULT_DRIFT = "colog-drift"
_WINDOW = re.compile(r"\|\|-\d+m$")
_THRESHOLD = re.compile(r">=\s*\d+")


class MonitorError(ValueError):
    """A monitor definition is malformed or the cluster refused it; the message says which."""


# --- definitions ----------------------------------------------------------------------------


def load_monitors(directory: Path | str = MONITORS_DIR) -> list[dict]:
    directory = Path(directory)
    files = sorted(directory.glob("*.json"))
    if not files:
        raise MonitorError(f"{directory}: no monitor definitions (*.json)")
    monitors = []
    for path in files:
        try:
            monitor = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise MonitorError(f"{path.name}: not JSON ({error.msg}, line {error.lineno})") \
                from error
        if not isinstance(monitor, dict):
            raise MonitorError(f"{path.name}: a monitor must be a JSON object")
        for key in ("name", "monitor_type", "inputs", "triggers", "schedule"):
            if key not in monitor:
                raise MonitorError(f"{path.name}: missing {key!r}")
        monitors.append(monitor)
    names = [m["name"] for m in monitors]
    if len(set(names)) != len(names):
        raise MonitorError(f"{directory}: monitor names must be unique, got {names}")
    return monitors


def _indices(monitor: dict) -> list[str]:
    return [index for entry in monitor["inputs"] for index in entry["search"]["indices"]]


def is_incident_monitor(monitor: dict) -> bool:
    return DEFAULT_INCIDENTS in _indices(monitor) or any(
        "incident" in index for index in _indices(monitor))


def trigger_of(entry: dict) -> dict:
    return entry.get("query_level_trigger") or entry.get("bucket_level_trigger") or entry


def is_drift_monitor(monitor: dict) -> bool:
    return any("drift" in index for index in _indices(monitor))  # rendered or not


def threshold_of(monitor: dict, settings: Any) -> int:
    if is_drift_monitor(monitor):
        return 1  # one stream over a drift threshold is worth a look; the thresholds are in drift_*
    if is_incident_monitor(monitor):
        return int(settings.alert_min_incidents)
    return int(settings.alert_min_anomalies)


def render_monitor(monitor: dict, settings: Any) -> dict:
    """The definition with the settings' interval, thresholds and index names applied."""
    rendered = copy.deepcopy(monitor)
    minutes = int(settings.alert_interval_minutes)
    if minutes < 1:
        raise MonitorError(f"alert_interval_minutes must be >= 1, got {minutes}")
    threshold = threshold_of(monitor, settings)
    if threshold < 1:
        raise MonitorError(f"{monitor['name']}: alert threshold must be >= 1, got {threshold}")
    rendered["schedule"] = {"period": {"interval": minutes, "unit": "MINUTES"}}
    log_pattern = settings.index_pattern
    incidents = settings.incidents_index
    for entry in rendered["inputs"]:
        search = entry["search"]
        names = {DEFAULT_LOG_PATTERN: log_pattern, DEFAULT_INCIDENTS: incidents,
                 DEFAULT_DRIFT: settings.drift_index}
        search["indices"] = [names.get(i, i) for i in search["indices"]]
        search["query"] = map_strings(
            search["query"], lambda text: _WINDOW.sub(f"||-{minutes}m", text))
    for entry in rendered["triggers"]:
        script = trigger_of(entry)["condition"]["script"]
        if not _THRESHOLD.search(script["source"]):
            raise MonitorError(f"{monitor['name']}: trigger script has no `>= N` threshold")
        script["source"] = _THRESHOLD.sub(f">= {threshold}", script["source"])
    return rendered


def map_strings(node: Any, change) -> Any:
    if isinstance(node, dict):
        return {key: map_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [map_strings(value, change) for value in node]
    return change(node) if isinstance(node, str) else node


# --- the plugin -----------------------------------------------------------------------------


def alerting_available(client: Any) -> bool:
    """True when every node runs the Alerting plugin (`_cat/plugins`)."""
    plugins = client.cat.plugins(format="json")
    return any(row.get("component") == ALERTING_COMPONENT for row in plugins)


def find_monitor(client: Any, name: str) -> str | None:
    """The id of the monitor with exactly this name, or None."""
    body = {"size": 100, "query": {"match_phrase": {"monitor.name": name}}}
    try:
        answer = client.transport.perform_request(
            "POST", "/_plugins/_alerting/monitors/_search", body=body)
    except Exception as error:  # the config index does not exist until the first monitor
        if "index_not_found" in str(error) or "no such index" in str(error):
            return None
        raise
    for hit in answer["hits"]["hits"]:
        if hit["_source"].get("monitor", hit["_source"]).get("name") == name:
            return hit["_id"]
    return None


@dataclass
class InstallReport:
    available: bool
    message: str = ""
    created: dict[str, str] = field(default_factory=dict)  # name -> id
    updated: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> dict[str, str]:
        return {**self.created, **self.updated}

    def lines(self) -> list[str]:
        if not self.available:
            return [self.message]
        return ([f"created monitor {name} ({mid})" for name, mid in self.created.items()]
                + [f"updated monitor {name} ({mid})" for name, mid in self.updated.items()])


def install_monitors(client: Any, settings: Any, directory: Path | str = MONITORS_DIR,
                     monitors: list[dict] | None = None) -> InstallReport:
    """Create or update every monitor; installs nothing where the Alerting plugin is absent."""
    definitions = monitors if monitors is not None else load_monitors(directory)
    rendered = [render_monitor(m, settings) for m in definitions]
    if not alerting_available(client):
        return InstallReport(
            available=False,
            message=("The OpenSearch Alerting plugin is not installed on this cluster, so no "
                     f"monitors were installed. The {len(rendered)} definitions in "
                     f"{directory} need the `{ALERTING_COMPONENT}` and "
                     "`opensearch-job-scheduler` plugins."))
    report = InstallReport(available=True)
    for monitor in rendered:
        existing = find_monitor(client, monitor["name"])
        if existing is None:
            answer = client.transport.perform_request(
                "POST", "/_plugins/_alerting/monitors", params={"refresh": "true"},
                body=monitor)
            report.created[monitor["name"]] = answer["_id"]
        else:
            client.transport.perform_request(
                "PUT", f"/_plugins/_alerting/monitors/{existing}", params={"refresh": "true"},
                body=monitor)
            report.updated[monitor["name"]] = existing
    return report
