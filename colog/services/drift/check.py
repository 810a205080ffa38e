"""One drift check (the `colog.drift` beat task and `colog drift`): measure every index and
stream, record the measures, raise the retrain flag when a threshold is crossed.

Reference per index: with `drift_reference=training` (or `auto` and a profile recorded with the
release of the version that scored the recent events) template frequencies are compared with
what that model was trained on (per stream where the stream was in training, else the whole
training set); otherwise with the trailing window before the recent one. Scores are always
compared with the trailing window: training rows carry no served scores. The unseen share needs
a profile and is empty without one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from colog.core.clock import now_iso
from colog.services.drift.measures import DriftMeasure, DriftThresholds, WindowCounts, measure
from colog.services.drift.periods import IndexWindows, newest_events, read_windows
from colog.services.drift.profile import profile_of_version
from colog.services.drift.store import read_flag, set_flag, write_checks


@dataclass
class DriftReport:
    check_id: str
    checked_at: str
    measures: list[DriftMeasure] = field(default_factory=list)
    windows: dict[str, IndexWindows] = field(default_factory=dict)
    flag: dict | None = None        # the retrain flag after this check
    flag_raised: bool = False       # this check set it
    recorded: int = 0

    @property
    def drifted(self) -> list[DriftMeasure]:
        return [m for m in self.measures if m.drifted]


def thresholds_of(settings) -> DriftThresholds:
    return DriftThresholds(settings.drift_min_events, settings.drift_templates_js,
                           settings.drift_new_share, settings.drift_unseen_share,
                           settings.drift_score_js)



def _profile_for(client, settings, version: str | None) -> tuple[dict | None, str]:
    """The live version's training profile when it can serve as a reference, and why not."""
    if settings.drift_reference == "trailing" or version is None:
        return None, ""
    profile = profile_of_version(client, settings, version)
    if profile is None:
        return None, f"no training profile recorded for version {version}"
    if not profile.get("complete"):
        return None, (f"version {version} was fine-tuned from a model trained outside "
                      "OpenSearch: its training profile is partial")
    return profile, ""


def measure_index(windows: IndexWindows, profile: dict | None, settings,
                  why_not: str = "") -> list[DriftMeasure]:
    limits = thresholds_of(settings)
    use_training = profile is not None and settings.drift_reference in ("auto", "training")
    trained = set(profile["templates"]) if profile is not None else None

    def reference(counts: WindowCounts, stream: str | None) -> WindowCounts:
        if not use_training:
            return counts
        seen = (profile.get("streams") or {}).get(stream) if stream else None
        return WindowCounts({str(k): float(v) for k, v in (seen or profile["templates"]).items()},
                            counts.scores)

    kind = "training" if use_training else "trailing"
    rows = [measure("index", windows.index, None, windows.recent,
                    reference(windows.reference, None), kind, trained, limits)]
    for stream, (recent, trailing) in sorted(windows.streams.items()):
        rows.append(measure("stream", windows.index, stream, recent, reference(trailing, stream),
                            kind, trained, limits))
    if settings.drift_reference == "training" and profile is None:
        for row in rows:
            row.note = "; ".join(filter(None, [row.note, f"{why_not or 'no training profile'}:"
                                               " compared with the trailing window"]))
    return rows


def as_doc(m: DriftMeasure, windows: IndexWindows, check_id: str, at: str) -> dict:
    return {"@timestamp": at, "check_id": check_id, "scope": m.scope, "index": m.index,
            "stream": m.stream, "model": {"version": windows.model_version},
            "reference_kind": m.reference_kind, "windows": windows.bounds_of(m.stream).as_doc(),
            "events": {"recent": m.recent_events, "reference": m.reference_events},
            "templates": {"js": m.templates_js, "new": m.new_templates, "new_share": m.new_share,
                          "unseen_share": m.unseen_share},
            "score": {"js": m.score_js, "mean_recent": m.score_mean_recent,
                      "mean_reference": m.score_mean_reference},
            "drifted": m.drifted, "reasons": m.reasons, "note": m.note}


def run_check(client, settings, redis=None, record: bool = True) -> DriftReport:
    """Measure now; with `record`, write the measures and raise the flag on drift."""
    report = DriftReport(uuid.uuid4().hex[:12], now_iso())
    found = newest_events(client, settings.index_pattern, settings.drift_max_streams)
    for index, newest in sorted(found.items()):
        windows = read_windows(client, index, newest, settings.drift_window_s,
                               settings.drift_reference_s, settings.drift_max_templates)
        report.windows[index] = windows
        profile, why_not = _profile_for(client, settings, windows.model_version)
        report.measures.extend(measure_index(windows, profile, settings, why_not))
    if record and report.measures:
        docs = []
        for m in report.measures:
            docs.append(as_doc(m, report.windows[m.index], report.check_id, report.checked_at))
        report.recorded = write_checks(client, settings, docs)
    if record and report.drifted and redis is not None:
        flag = {"set_at": report.checked_at, "check_id": report.check_id,
                "reasons": sorted({r for m in report.drifted for r in m.reasons}),
                "where": [m.stream or m.index for m in report.drifted][:50]}
        current = read_flag(redis)
        if current is None or current.get("unreadable"):
            report.flag_raised = True
            set_flag(redis, flag)
    report.flag = read_flag(redis)
    return report
