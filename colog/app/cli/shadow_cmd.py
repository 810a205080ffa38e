"""`colog shadow start|status|report|promote|stop`: prove a candidate on live traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from colog.app.cli.app import app

shadow_app = typer.Typer(help="Score a candidate model on live traffic beside the live one "
                         "(colog.shadow.*), compare, promote through the gate.",
                         no_args_is_help=True)
app.add_typer(shadow_app, name="shadow")
out = Console(width=200)
err = Console(stderr=True, width=200)


def _settings():
    from colog.core.settings import get_settings

    return get_settings()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@shadow_app.command("start")
def start_cmd(model_dir: Path = typer.Argument(..., help="the candidate (from `colog train`)")):
    """Serve MODEL_DIR as the shadow model; workers score every batch with it too."""
    from colog.services.shadow.deployment import ShadowError, start

    settings = _settings()
    try:
        state = start(settings, model_dir)
    except ShadowError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"shadow: {model_dir} is version {state.version} of "
              f"{state.model!r}; workers pick it up within {settings.shadow_check_s:g} s and "
              "write its verdicts to colog.shadow.*")


@shadow_app.command("stop")
def stop_cmd():
    """Unload the shadow model; colog.shadow.* already written stays for the report."""
    from colog.services.shadow.deployment import stop

    state = stop(_settings())
    out.print("no candidate was in shadow" if state.version is None else
              f"shadow stopped (version {state.version}, {state.source})")


@shadow_app.command("status")
def status_cmd():
    """Which candidate is in shadow, and whether Triton serves it."""
    from colog.core.serving.client import TritonClient, TritonError
    from colog.services.shadow.deployment import read_state

    settings = _settings()
    state = read_state(settings)
    if state.version is None:
        out.print("no candidate has been in shadow")
        return
    try:
        ready = TritonClient(settings, model=settings.triton_shadow_model,
                             retries=0).is_model_ready()
    except TritonError:
        ready = False
    what = "running" if state.running else f"stopped at {state.stopped_at}"
    out.print(f"shadow version {state.version} ({state.source}), started {state.started_at}, "
              f"{what}; served by Triton: {'yes' if ready else 'no'}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@shadow_app.command("report")
def report_cmd(version: Optional[str] = typer.Option(None, help="shadow version (default: "
                                                     "the one in shadow, or the last one)"),
               top: int = typer.Option(10, help="rows per flip table")):
    """Agreement, verdicts that would flip (by template and stream), both models on labels."""
    from colog.core.engine import connect
    from colog.services.shadow.deployment import read_state
    from colog.services.shadow.report import shadow_report

    settings = _settings()
    last = read_state(settings).version
    version = version or (None if last is None else str(last))
    if version is None:
        raise _fail("no candidate has been in shadow: start one with `colog shadow start`")
    report = shadow_report(connect(settings), settings, version)
    if not report.scored:
        out.print(f"shadow version {version} has scored no document in "
                  f"{settings.index_pattern!r} yet")
        return
    out.print(f"shadow version {version}: {report.scored} documents scored by both, agreement "
              f"{report.agreement:.4f} ({report.scored - report.agreeing} would flip)")
    for position, title in ((3, "template"), (2, "stream")):
        table = Table(title=f"verdicts that would flip, by {title}")
        for column in ("live", "shadow", title, "documents"):
            table.add_column(column, justify="right" if column == "documents" else "left")
        for (live, shadow, where), count in report.flips_by(position).most_common(top):
            shown = str(where)
            if position == 3 and str(where) in report.template_text:
                shown = f"{where}: {report.template_text[str(where)][:100]}"
            table.add_row(str(live), str(shadow), shown, str(count))
        out.print(table)
    table = Table(title="on analyst-labelled documents (anomaly class)")
    for column in ("model", "documents", "accuracy", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, on in (("live", report.live_on_labels), ("shadow", report.shadow_on_labels)):
        table.add_row(name, str(on.documents), _pct(on.accuracy), _pct(on.precision),
                      _pct(on.recall), _pct(on.f1))
    out.print(table)


@shadow_app.command("promote")
def promote_cmd(force: bool = typer.Option(False, help="publish even if the gate refuses "
                                           "(recorded)")):
    """Publish the candidate in shadow through the release gate, then stop the shadow."""
    from colog.core.engine import connect
    from colog.services.shadow.deployment import ShadowError, promote
    from colog.services.train.release import ReleaseError

    settings = _settings()
    try:
        outcome = promote(connect(settings), settings, out, force=force)
    except (ShadowError, ReleaseError) as exc:
        raise _fail(str(exc)) from exc
    if not outcome.published:
        err.print("the gate refused the candidate: it stays in shadow (--force to publish "
                  "anyway, recorded)")
        raise typer.Exit(1)
    out.print(f"published the shadow candidate as version {outcome.version} "
              f"(was {outcome.previous}); shadow stopped")
