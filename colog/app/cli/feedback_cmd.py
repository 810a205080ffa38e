"""Analysts' labels and model releases: `colog label`, `colog reenrich`, `colog publish`,
`colog rollback`, `colog models` (and the body of `colog train --from-opensearch`).

Labels are partial updates of `colog.feedback.*` only, so nothing the enricher wrote is touched,
and the enricher never writes `colog.feedback.*` (docs/labelling.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from colog.app.cli.app import app
from colog.core.clock import now_iso
from colog.core.labels import LabelError, validate_label

err = Console(stderr=True, width=200)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def _settings():
    from colog.core.settings import get_settings

    return get_settings()


def _client(settings):
    from colog.core.engine import connect

    return connect(settings)



# --- selecting documents ---------------------------------------------------------------------


def _find_id(client, index: str, doc_id: str) -> str:
    """The one index that holds `doc_id` (ids are unique per index, not per pattern)."""
    result = client.search({"size": 2, "query": {"ids": {"values": [doc_id]}}, "_source": False},
                           index, lenient=True)
    hits = result["hits"]["hits"]
    if not hits:
        raise _fail(f"no document with id {doc_id!r} in {index!r}")
    if len(hits) > 1:
        raise _fail(f"id {doc_id!r} exists in several indices "
                    f"({', '.join(h['_index'] for h in hits)}): name one with --index")
    return hits[0]["_index"]


def _query(lucene: str) -> dict:
    if not lucene or not lucene.strip():
        raise _fail("the query is empty: give a Lucene query, e.g. 'message:\"quota exceeded\"'")
    return {"query_string": {"query": lucene}}


def _count(client, index: str, query: dict) -> int:
    from colog.core.engine.errors import BadRequest

    try:
        return client.count(index, query, lenient=True)
    except BadRequest as exc:
        raise _fail(f"{client.product} rejected the query: {exc}") from exc


def _matching(client, index: str, query: dict):
    """(index, id) of every matching document, through a point-in-time scan."""
    from colog.core.engine.reader import point_in_time
    from colog.services.train.export import scan

    with point_in_time(client, index) as pit_id:
        for hit in scan(client, pit_id, query, 500):
            yield hit["_index"], hit["_id"]


def _bulk_update(client, targets, doc: dict) -> tuple[int, list[str]]:
    """Partial update `doc` on every (index, id); returns (updated, errors)."""
    actions = ({"_op_type": "update", "_index": index, "_id": doc_id, "doc": doc,
                "retry_on_conflict": 5} for index, doc_id in targets)
    done, errors = 0, []
    for ok, item in client.stream_bulk(actions, chunk_size=500, max_retries=5,
                                       initial_backoff=1, raise_on_error=False):
        result = item.get("update", {})
        if ok:
            done += 1
        else:
            errors.append(f"{result.get('_id')}: {result.get('status')} {result.get('error')}")
    return done, errors


def verdict_line(source: dict) -> str:
    """What the model said about a document and why, in one line (for the analyst who is
    about to overrule it)."""
    colog = source.get("colog") or {}
    if colog.get("status") != "enriched":
        return f"not scored ({colog.get('status') or 'pending'})"
    number = lambda v: f"{v:.2f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
    said = (f"model: {colog.get('label')} ({colog.get('anomaly_type')}, score "
            f"{number(colog.get('score'))}, context "
            f"{number((colog.get('context') or {}).get('score'))})")
    why = colog.get("explanation")
    return f"{said}; why: {why}" if why else said


def _show_verdicts(client, index: str, query: dict, size: int = 3) -> None:
    """The highest-scored matches with the model's verdict and explanation."""
    hits = client.search({"size": size, "query": query, "_source": ["message", "colog"],
                          "sort": [{"colog.score": {"order": "desc", "unmapped_type": "float"}}]},
                         index, lenient=True)["hits"]["hits"]
    for hit in hits:
        message = " ".join(str(hit["_source"].get("message", "")).split())[:100]
        err.print(f"  {hit['_id']}: {message}", highlight=False, markup=False)
        err.print(f"    {verdict_line(hit['_source'])}", highlight=False, markup=False)


def _select(client, index: str, lucene: str, yes: bool, what: str,
            show: bool = False) -> list[tuple[str, str]]:
    query = _query(lucene)
    count = _count(client, index, query)
    if count == 0:
        raise _fail(f"the query matches no document in {index!r}: {lucene}")
    err.print(f"{count} document(s) in {index!r} match {lucene!r}")
    if show:
        err.print("highest-scored matches, as the model saw them:")
        _show_verdicts(client, index, query)
    if not yes and not typer.confirm(f"{what} {count} document(s)?", default=False):
        raise _fail("cancelled: nothing changed", 1)
    return list(_matching(client, index, query))


# --- colog label / reenrich -----------------------------------------------------------------


@app.command("label")
def label_command(
    label: str = typer.Option(..., "--label", help="anomaly or normal (the event itself)"),
    doc_id: str | None = typer.Option(None, "--id", help="one document id"),
    query: str | None = typer.Option(None, "--query", help="Lucene query: label every match"),
    index: str | None = typer.Option(None, "--index", help="index or pattern (default: "
                                     "COLOG_INDEX_PATTERN)"),
    context_label: str | None = typer.Option(None, "--context-label",
                                             help="anomaly or normal: the event's context"),
    by: str | None = typer.Option(None, "--by", help="who labels (default: your user name)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="no confirmation for --query"),
) -> None:
    """Write analyst feedback (colog.feedback.*) onto documents: one id, or a query's matches."""
    try:
        value = validate_label(label, "--label")
        context = None if context_label is None else validate_label(context_label,
                                                                   "--context-label")
    except LabelError as exc:
        raise _fail(str(exc)) from exc
    if (doc_id is None) == (query is None):
        raise _fail("give exactly one of --id or --query")
    settings = _settings()
    client = _client(settings)
    from colog.services.train.release import _who

    feedback = {"label": value, "by": by or _who(), "at": now_iso()}
    if context is not None:
        feedback["context_label"] = context
    doc = {"colog": {"feedback": feedback}}
    index = index or settings.index_pattern
    if doc_id is not None:
        if not doc_id.strip():
            raise _fail("--id is empty")
        target = index if ("*" not in index and "," not in index) else _find_id(client, index,
                                                                                doc_id)
        from colog.core.engine.errors import NotFound

        try:
            client.update(target, doc_id, doc, refresh=True, retry_on_conflict=5)
        except NotFound as exc:
            raise _fail(f"no document with id {doc_id!r} in {target!r}") from exc
        err.print(f"labelled {doc_id} in {target} as {value}")
        source = client.get(target, doc_id, source_includes=["colog"])["_source"]
        err.print(f"  {verdict_line(source)}", highlight=False, markup=False)
        return
    targets = _select(client, index, query or "", yes, f"label as {value}", show=True)
    done, errors = _bulk_update(client, targets, doc)
    client.refresh(index)
    err.print(f"labelled {done} document(s) as {value}")
    if errors:
        raise _fail(f"{len(errors)} update(s) failed:\n  " + "\n  ".join(errors[:20]), 1)


@app.command("reenrich")
def reenrich_command(
    query: str = typer.Option(..., "--query", help="Lucene query of the documents to re-score"),
    index: str | None = typer.Option(None, "--index", help="default: COLOG_INDEX_PATTERN"),
    yes: bool = typer.Option(False, "--yes", "-y"),
) -> None:
    """Mark matching documents pending so workers score them again (keeps colog.feedback.*)."""
    settings = _settings()
    client = _client(settings)
    index = index or settings.index_pattern
    targets = _select(client, index, query, yes, "re-enrich")
    done, errors = _bulk_update(client, targets, {"colog": {"status": "pending"}})
    client.refresh(index)
    err.print(f"{done} document(s) marked pending; the next enrichment pass re-scores them")
    if errors:
        raise _fail(f"{len(errors)} update(s) failed:\n  " + "\n  ".join(errors[:20]), 1)


# --- training, publishing, rollback ---------------------------------------------------------


def _print_outcome(outcome) -> None:
    if outcome.published:
        typer.echo(f"published version {outcome.version} (previous {outcome.previous})")
    elif outcome.doc is not None and outcome.doc.get("action") == "refused":
        typer.echo(f"refused: the live version {outcome.previous} stays")
    else:
        typer.echo("not published (--no-publish)")


def train_from_opensearch(since: str | None, classes: int | None, epochs: int | None,
                          force: bool, publish: bool, out: Path | None, seed: int = 42,
                          trigger: str = "cli", from_scratch: bool = False) -> None:
    from colog.services.train.export import NoLabelsError
    from colog.services.train.release import ReleaseError, RetrainOptions, retrain

    if classes is not None and classes not in (2, 4):
        raise _fail(f"--classes must be 2 or 4, got {classes}")
    settings = _settings()
    client = _client(settings)
    opts = RetrainOptions(since=since, classes=classes, epochs=epochs, force=force,
                          publish=publish, out_dir=out, seed=seed,
                          from_scratch=from_scratch)
    try:
        outcome = retrain(client, settings, opts, trigger, err)
    except NoLabelsError as exc:
        raise _fail(str(exc), 3) from exc
    except (ReleaseError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    _print_outcome(outcome)
    if outcome.doc is not None and outcome.doc.get("action") == "refused":
        raise typer.Exit(4)


@app.command("publish")
def publish_command(
    model_dir: Path = typer.Argument(..., help="model directory written by `colog train`"),
    force: bool = typer.Option(False, "--force", help="publish even if the gate refuses"),
) -> None:
    """Gate MODEL_DIR against the live model on the labelled holdout, then serve it as N+1."""
    from colog.core.serving.repository import RepositoryError, feature_parameters
    from colog.services.train.release import ReleaseError, gate_model_dir, release

    try:
        feature_parameters(model_dir)  # a malformed directory fails before any work
    except RepositoryError as exc:
        raise _fail(str(exc)) from exc
    settings = _settings()
    client = _client(settings)
    try:
        result, export = gate_model_dir(client, settings, model_dir, err)
        outcome = release(client, settings, model_dir, gate_result=result, export=export,
                          trigger="cli", force=force)
    except ReleaseError as exc:
        raise _fail(str(exc)) from exc
    _print_outcome(outcome)
    if not outcome.published:
        raise typer.Exit(4)


@app.command("rollback")
def rollback_command(
    to: int | None = typer.Option(None, "--to", help="version to serve again (default: the "
                                  "one live before the current)"),
) -> None:
    """Serve an earlier version again (as a new highest version, recorded as a rollback)."""
    from colog.services.train.release import ReleaseError, rollback

    settings = _settings()
    try:
        outcome = rollback(_client(settings), settings, to)
    except ReleaseError as exc:  # Triton not answering: colog/app/cli/errors.py, exit 12
        raise _fail(str(exc)) from exc
    typer.echo(f"rolled back to version {outcome.doc['rollback_of']}: now served as version "
               f"{outcome.version} (was {outcome.previous})")


@app.command("models")
def models_command(
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    size: int = typer.Option(50, "--size", min=1),
) -> None:
    """List model releases, rollbacks and refusals recorded in colog-models (newest first)."""
    from colog.services.train.release import releases

    settings = _settings()
    docs = releases(_client(settings), settings, size)
    if as_json:
        for doc in docs:
            typer.echo(json.dumps(doc))
        return
    if not docs:
        err.print(f"no releases recorded in {settings.models_index!r} yet")
        return
    table = Table(title=settings.models_index)
    for column in ("time", "action", "version", "previous", "trigger", "forced", "labelled",
                   "candidate F1", "live F1"):
        table.add_column(column)
    for doc in docs:
        metrics = doc.get("metrics") or {}
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        version = str(doc.get("version") or "-")
        if doc.get("rollback_of"):
            version += f" (= {doc['rollback_of']})"
        table.add_row(doc.get("@timestamp", ""), doc.get("action", ""), version,
                      str(doc.get("previous_version") or "-"), doc.get("trigger", ""),
                      str(doc.get("forced", False)), str(doc.get("labelled_docs", "-")),
                      fmt(metrics.get("candidate_macro_f1")), fmt(metrics.get("live_macro_f1")))
    Console(width=200).print(table)
