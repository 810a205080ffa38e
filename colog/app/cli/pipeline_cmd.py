"""The enrichment pipeline's commands: setup, ingest, enrich, worker, beat, health."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from colog.app.cli.app import app

err = Console(stderr=True)
out = Console()


def _client():
    from colog.core.engine import connect
    from colog.core.settings import get_settings

    return connect(get_settings())


def _ping_redis(settings) -> None:
    """Celery retries an unreachable broker at start-up for many minutes, logging each try; a
    worker or beat that cannot reach Redis now fails in one line instead (colog/app/cli/errors.py)
    and its supervisor restarts it. Once running, Celery's reconnects ride out a Redis restart."""
    from colog.core.redis_client import state_redis

    client = state_redis(settings)
    try:
        client.ping()
    finally:
        client.close()


@app.command()
def setup(
    dashboards: Optional[str] = typer.Option(None, help="OpenSearch Dashboards URL to import "
                                             "the bundled saved objects into"),
    monitors: bool = typer.Option(False, help="install the bundled Alerting monitors"),
) -> None:
    """Install the index template, the ingest pipeline (where possible), dashboards, monitors."""
    from colog.core.settings import get_settings
    from colog.services.enrich.setup import run_setup

    settings = get_settings()
    client = _client()
    report = run_setup(client, settings)
    for kind in ("created", "updated", "unchanged"):
        for name in getattr(report, kind):
            out.print(f"{kind:>9}  {name}")
    for note in report.notes:
        out.print(f"     note  {note}")
    for conflict in report.conflicts:
        err.print(f"[red] conflict[/red]  {conflict}")
    if dashboards:
        from colog.app.dashboards.saved_objects import BundleError, import_bundle

        user = settings.opensearch_user
        auth = (user, settings.opensearch_secret() or "") if user else None
        try:
            result = import_bundle(dashboards, auth=auth, verify=settings.opensearch_verify_certs)
        except BundleError as error:
            err.print(f"[red]dashboards: {error}[/red]")
            raise typer.Exit(1) from error
        for line in result.lines():
            out.print(f"dashboards  {line}")
    if monitors and client.kind != "opensearch":
        err.print(f"[red]monitors: the bundled monitors are OpenSearch Alerting monitors; "
                  f"{client.product} has none of its own here (nothing installed)[/red]")
        raise typer.Exit(1)
    if monitors:
        from colog.app.dashboards.monitors import install_monitors

        for line in install_monitors(client.native, settings).lines():
            out.print(f"  monitors  {line}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def ingest(
    file: Path = typer.Argument(..., help="raw log file, or JSONL from `colog convert`"),
    format: str = typer.Option("jsonl", "--format", help="jsonl, or a log format name "
                               "(`colog convert --list-formats`)"),
    index: str = typer.Option("logs-colog", help="target index (should match the index pattern)"),
    host: str = typer.Option("localhost", help="host.name for lines that carry none"),
    labels_as_feedback: bool = typer.Option(False, help="write JSONL labels as colog.feedback.*"),
    format_spec: Optional[str] = typer.Option(None, help="custom header spec for raw logs"),
    year: Optional[int] = typer.Option(None, help="year for timestamps that omit it"),
) -> None:
    """Bulk-load a log file into the search engine, with a progress bar and a summary."""
    from tqdm import tqdm

    from colog.services.enrich.ingest import ingest_file

    if not file.is_file():
        err.print(f"[red]no such file: {file}[/red]")
        raise typer.Exit(2)
    client = _client()
    # The bar appears after half a second, so a command that fails at once prints one line.
    with tqdm(unit="line", desc=f"ingest {file.name}", delay=0.5) as bar:
        try:
            report = ingest_file(client, file, index, fmt=format, host=host,
                                 labels_as_feedback=labels_as_feedback, format_spec=format_spec,
                                 year=year, progress=bar.update)
        except (ValueError, KeyError) as error:
            err.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
    out.print(f"{file}: read {report.read} lines, indexed {report.indexed}, already present "
              f"{report.duplicates}, rejected {len(report.rejected)}, failed "
              f"{len(report.failed)} -> index {index}")
    for line, reason in report.rejected[:20]:
        err.print(f"  line {line}: {reason}")
    if len(report.rejected) > 20:
        err.print(f"  ... and {len(report.rejected) - 20} more rejected lines")
    for doc_id, reason in report.failed[:20]:
        err.print(f"  document {doc_id}: {reason}")
    if report.indexed + report.duplicates == 0:
        raise typer.Exit(1)


@app.command()
def enrich(
    flush: bool = typer.Option(True, help="score stream tails with padding instead of waiting "
                               "for their context"),
    cache: bool = typer.Option(True, help="use the Redis embedding cache"),
    local_model: Optional[Path] = typer.Option(None, help="score in-process with this model "
                                               "directory instead of Triton"),
    progress: bool = typer.Option(True),
) -> None:
    """One synchronous pass: enrich every pending document, then print a summary."""
    from colog.core.settings import get_settings
    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    settings = get_settings()
    scorer = None
    if local_model is not None:
        from colog.services.enrich.verdict_sources import LocalScorer

        scorer = LocalScorer(local_model)
    ctx = build_context(settings, scorer=scorer, use_cache=cache)
    summary = run_pass(ctx, flush=flush, progress=progress)
    out.print(f"enriched {summary.write.get('enriched', 0)}, failed "
              f"{summary.write.get('failed', 0)}, skipped {summary.write.get('skipped', 0)}, "
              f"still pending {summary.still_pending} in {summary.seconds:.1f}s "
              f"({summary.docs_per_second:.1f} docs/s); model versions "
              f"{sorted(summary.model_versions) or '-'}")
    if summary.unwritten:
        err.print(f"[red]{len(summary.unwritten)} verdicts could not be written; they stay "
                  "pending for the next pass[/red]")
        raise typer.Exit(1)


@app.command()
def worker(
    concurrency: int = typer.Option(2, help="tasks processed at once (threads)"),
    loglevel: str = typer.Option("INFO"),
) -> None:
    """Run a Celery worker on the `colog` queue (threads pool, metrics, heartbeat)."""
    from prometheus_client import start_http_server

    from colog.app.worker.celery_app import QUEUE
    from colog.app.worker.celery_app import app as celery_app
    from colog.core.settings import get_settings

    settings = get_settings()
    _ping_redis(settings)
    start_http_server(settings.metrics_port)
    # The heartbeat is written by the consumer's own liveness check (colog/services/enrich/health.py).
    celery_app.worker_main(["worker", f"--loglevel={loglevel}", "--pool=threads",
                            f"--concurrency={concurrency}", "-Q", QUEUE,
                            "--without-gossip", "--without-mingle"])


@app.command()
def beat(loglevel: str = typer.Option("INFO")) -> None:
    """Run Celery beat: dispatches pending partitions (exactly one should run), and serves the
    pending-documents and lag gauges on COLOG_BEAT_METRICS_PORT."""
    from prometheus_client import start_http_server

    from colog.app.worker.celery_app import app as celery_app
    from colog.core.settings import get_settings

    settings = get_settings()
    _ping_redis(settings)
    try:
        start_http_server(settings.beat_metrics_port)
    except OSError as exc:  # scheduling matters more than the gauges: say so and go on
        err.print(f"warning: beat's metrics are not served: port {settings.beat_metrics_port} "
                  f"is taken ({exc}); set COLOG_BEAT_METRICS_PORT to a free one")
    schedule = Path(settings.cache_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


@app.command()
def health(
    beat: bool = typer.Option(False, "--beat", help="check beat's heartbeat instead of the "
                              "worker's"),
) -> None:
    """Exit 0 when this machine's worker (or beat) heartbeat is fresh (for liveness probes)."""
    from colog.core.settings import get_settings
    from colog.services.enrich.health import heartbeat_age

    settings = get_settings()
    path = settings.beat_heartbeat_file if beat else settings.heartbeat_file
    age = heartbeat_age(settings, path)
    if age is None:
        err.print(f"unhealthy: no heartbeat at {path}")
        raise typer.Exit(1)
    if age > settings.heartbeat_max_age_s:
        err.print(f"unhealthy: heartbeat {age:.0f}s old (limit {settings.heartbeat_max_age_s:.0f}s)")
        raise typer.Exit(1)
    out.print(f"healthy: heartbeat {age:.0f}s old")


@app.command()
def demo() -> None:
    """The whole job on bundled sample logs: stack, model, ingest, enrich, summary."""
    from colog.app.demo import run_demo
    from colog.core.settings import get_settings

    counts = run_demo(get_settings(), out)
    if counts.get("still_pending"):
        raise typer.Exit(1)


@app.command()
def bench(
    synthetic: int = typer.Option(100_000, help="synthetic documents from the shipped Loghub "
                                  "template lists (0 = none)"),
    naive: int = typer.Option(300, help="documents for the naive per-document path (0 = none)"),
    syslog: bool = typer.Option(True, help="the real-syslog scenario (samples/syslog)"),
    write_results: bool = typer.Option(False, help="replace the section in benchmarks/RESULTS.md"),
) -> None:
    """End-to-end documents/s of a user's day: new logs (first pass), steady, real syslog,
    synthetic, each against a no-model pass on the same documents, with per-stage seconds."""
    import os
    import platform

    from colog.app.bench import SECTION, results_markdown, run_bench
    from colog.app.reporting import RESULTS, replace_section
    from colog.core.settings import get_settings

    settings = get_settings()
    results = run_bench(settings, synthetic, out, naive=naive, syslog=syslog)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}"
    from colog.core.engine import connect

    engine = connect(settings)
    name = {"opensearch": "OpenSearch", "elasticsearch": "Elasticsearch"}.get(settings.engine,
                                                                             settings.engine)
    text = results_markdown(results, machine,
                            f"{name} {'.'.join(str(n) for n in engine.version())}")
    engine.close()
    out.print(SECTION + "\n\n" + text)
    if write_results:
        replace_section(RESULTS, SECTION, text)
