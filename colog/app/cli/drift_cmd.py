"""`colog drift`: the drift of every index and stream now, and the retrain flag."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from colog.app.cli.app import app

out = Console(width=200)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command()
def drift(
    record: bool = typer.Option(False, help="write the measures to the drift index and raise "
                                "the retrain flag on drift, as the beat task does"),
    clear_flag: bool = typer.Option(False, "--clear-flag", help="clear the retrain flag"),
    as_json: bool = typer.Option(False, "--json", help="print the measures as JSON"),
) -> None:
    """Template-frequency, new-template, unseen-template and score drift per index and stream."""
    from colog.core.engine import connect
    from colog.core.redis_client import state_redis
    from colog.core.settings import get_settings
    from colog.services.drift.check import run_check
    from colog.services.drift.store import clear_flag as clear

    settings = get_settings()
    redis_client = state_redis(settings)
    if clear_flag:
        out.print("retrain flag cleared" if clear(redis_client) else "no retrain flag was set")
        return
    report = run_check(connect(settings), settings, redis_client, record=record)
    if as_json:
        out.print_json(json.dumps({"check_id": report.check_id, "flag": report.flag,
                                   "measures": [m.__dict__ | {"drifted": m.drifted}
                                                for m in report.measures]}))
        return
    if not report.measures:
        out.print(f"no enriched events in {settings.index_pattern!r}: nothing to compare")
        return
    table = Table(title=f"drift (recent {settings.drift_window_s:g} s of event time vs "
                  f"{settings.drift_reference}: trailing {settings.drift_reference_s:g} s or "
                  "the training profile)")
    for column in ("index", "stream", "events", "ref.", "reference", "templates JS", "new",
                   "new share", "unseen", "score JS", "drift"):
        table.add_column(column, justify="left" if column in ("index", "stream", "reference",
                                                              "drift") else "right")
    for m in report.measures:
        verdict = ", ".join(m.reasons) if m.drifted else (m.note or "none")
        table.add_row(m.index, m.stream or "(whole index)", str(m.recent_events),
                      str(m.reference_events), m.reference_kind, _fmt(m.templates_js),
                      str(m.new_templates), _fmt(m.new_share), _fmt(m.unseen_share),
                      _fmt(m.score_js), f"[red]{verdict}[/]" if m.drifted else verdict)
    out.print(table)
    limits = (f"thresholds: templates JS >= {settings.drift_templates_js:g}, new share >= "
              f"{settings.drift_new_share:g}, unseen share >= {settings.drift_unseen_share:g}, "
              f"score JS >= {settings.drift_score_js:g}; at least {settings.drift_min_events} "
              "events per window")
    out.print(limits)
    if report.recorded:
        out.print(f"recorded {report.recorded} measures in {settings.drift_index!r}")
    flag = report.flag
    out.print("retrain flag: " + ("not set" if flag is None else
                                  f"set at {flag.get('set_at')} ({', '.join(flag.get('reasons', []))})"))
