"""`colog train` and `colog evaluate` (stable: other tooling calls them exactly like this)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from colog.app.cli.app import app
from colog.core.records import RecordsError, read_records

err = Console(stderr=True)


def _read(path: Path, what: str):
    try:
        return read_records(path)
    except (RecordsError, FileNotFoundError, OSError) as exc:
        err.print(f"[red]error:[/] {what}: {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from exc


@app.command("train")
def train_command(
    data: Path | None = typer.Option(None, "--data", help="training records (JSONL)"),
    out: Path | None = typer.Option(None, "--out", help="model directory to write (with "
                                    "--from-opensearch: default under the cache directory)"),
    valid: Path | None = typer.Option(None, "--valid", help="validation records (JSONL); "
                                      "default: the latest 20% of --data"),
    classes: int | None = typer.Option(None, "--classes", help="2 (point) or 4 (point and "
                                       "collective); default 2, or the live model's with "
                                       "--from-opensearch"),
    window: int = typer.Option(1, "--window", min=0, help="W events each side"),
    sequence: str = typer.Option("context", "--sequence", help="context or background"),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="most epochs (default 15; "
                                      "early stopping usually ends sooner)"),
    seed: int = typer.Option(42, "--seed"),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    learning_rate: float = typer.Option(1e-3, "--lr"),
    no_tomek: bool = typer.Option(False, "--no-tomek", help="skip Tomek-link under-sampling"),
    refit: bool = typer.Option(False, "--refit", help="after early stopping, train again on "
                               "training + validation for the chosen number of epochs (the "
                               "refitted network is not validated; off by default)"),
    max_tokens: int = typer.Option(60, "--max-tokens", min=1),
    from_opensearch: bool = typer.Option(
        False, "--from-opensearch", "--from-engine",
        help="train on analyst-labelled documents in the search engine, "
        "gate against the live model on the holdout, publish if at least as good"),
    since: str | None = typer.Option(None, "--since", help="with --from-opensearch: only "
                                     "events at or after this ISO-8601 time"),
    force: bool = typer.Option(False, "--force", help="with --from-opensearch: publish even "
                               "if the gate refuses (recorded)"),
    no_publish: bool = typer.Option(False, "--no-publish", help="with --from-opensearch: "
                                    "train and compare only"),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="with --from-opensearch: "
                                      "do not start from the live model's weights"),
) -> None:
    """Train a CoLog model from JSONL records (or from OpenSearch labels) into a model directory."""
    if from_opensearch:
        if data is not None or valid is not None:
            err.print("error: --from-opensearch reads its data from OpenSearch; drop --data/--valid")
            raise typer.Exit(2)
        from colog.app.cli.feedback_cmd import train_from_opensearch

        train_from_opensearch(since=since, classes=classes, epochs=epochs,
                              force=force, publish=not no_publish, out=out, seed=seed,
                              from_scratch=from_scratch)
        return
    if data is None or out is None:
        err.print("error: --data and --out are required (or use --from-opensearch)")
        raise typer.Exit(2)
    classes = 2 if classes is None else classes
    if classes not in (2, 4):
        err.print(f"error: --classes must be 2 or 4, got {classes}")
        raise typer.Exit(2)
    if sequence not in ("context", "background"):
        err.print(f"error: --sequence must be context or background, got {sequence!r}")
        raise typer.Exit(2)
    train_records = _read(data, "--data")
    valid_records = _read(valid, "--valid") if valid else None

    from colog.core.features.spec import FeatureSpec
    from colog.services.train.loop import TrainOptions
    from colog.services.train.pipeline import TrainSpec, train_from_records

    epochs = TrainOptions().epochs if epochs is None else epochs

    spec = TrainSpec(num_classes=classes, features=FeatureSpec(window, sequence, max_tokens),
                     tomek=not no_tomek, refit=refit,
                     options=TrainOptions(epochs=epochs, seed=seed, batch_size=batch_size,
                                          learning_rate=learning_rate))
    try:
        outcome = train_from_records(train_records, valid_records, out, spec, err)
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    print_train_summary(outcome)
    typer.echo(str(outcome.model_dir))


def print_train_summary(outcome) -> None:
    """Chosen epoch and thresholds, validation figures beside the baseline's, and a warning
    when CoLog is below it (a model that loses to TF-IDF + LR is not worth serving)."""
    report, thresholds = outcome.valid_report, outcome.thresholds
    cut = f"event {thresholds.event:.2f}" + (
        f", context {thresholds.context:.2f}" if len(report["classes"]) == 4 else "")
    err.print(f"best epoch {outcome.best_epoch}; decision threshold {cut} (chosen on the "
              f"validation split); {outcome.seconds:.1f}s"
              + ("; refitted on training + validation" if outcome.refit else ""))
    table = Table(title=f"validation split ({report['n']} events)")
    for column in ("model", "macro F1", "precision", "recall", "accuracy"):
        table.add_column(column, justify="left" if column == "model" else "right")
    rows = [("CoLog", report)]
    if outcome.baseline_report is not None:
        rows.append((outcome.baseline_report["name"].replace("_", " "), outcome.baseline_report))
    for name, r in rows:
        table.add_row(name, f"{r['macro_f1']:.4f}", f"{r['precision']:.4f}",
                      f"{r['recall']:.4f}", f"{r['accuracy']:.4f}")
    err.print(table)
    base = outcome.baseline_report
    if base is not None and report["macro_f1"] < base["macro_f1"]:
        err.print(f"[yellow]warning:[/] CoLog's validation macro F1 {report['macro_f1']:.4f} is "
                  f"below the {base['name']} baseline's {base['macro_f1']:.4f} on the same "
                  "split: more labelled data, a longer --epochs, or a different --window may "
                  "help; check `colog evaluate` before serving it", markup=True)


def _print_report(report: dict) -> None:
    table = Table(title=f"{report['n']} events, model {report['model_dir']}")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="right" if column != "class" else "left")
    for name, row in report["per_class"].items():
        table.add_row(name, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}",
                      str(row["support"]))
    table.add_row("macro", f"{report['precision']:.4f}", f"{report['recall']:.4f}",
                  f"{report['macro_f1']:.4f}", str(report["n"]))
    console = Console()
    console.print(table)
    fmt = lambda v: "undefined (one class)" if v is None else f"{v:.4f}"  # noqa: E731
    console.print(f"accuracy {report['accuracy']:.4f}  ROC-AUC {fmt(report['roc_auc'])}  "
                  f"PR-AUC {fmt(report['pr_auc'])}")
    cut = report["thresholds"]
    console.print(f"decision thresholds (stored with the model): event {cut['event']:.2f}"
                  + (f", context {cut['context']:.2f}" if len(report["classes"]) == 4 else ""))
    console.print("confusion matrix (rows true, columns predicted, order "
                  f"{report['classes']}): {report['confusion_matrix']}")
    for view in ("point", "collective"):
        if view in report:
            v = report[view]
            console.print(f"{view}: macro F1 {v['macro_f1']:.4f}, anomaly F1 "
                          f"{v['anomaly_f1']:.4f}, ROC-AUC {fmt(v['roc_auc'])}")


@app.command("evaluate")
def evaluate_command(
    model: Path = typer.Option(..., "--model", help="model directory"),
    data: Path = typer.Option(..., "--data", help="test records (JSONL)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    plots: Path | None = typer.Option(None, "--plots", help="write PNG plots into this folder"),
) -> None:
    """Evaluate a model directory on labelled JSONL records."""
    from colog.core.model.bundle import ModelDirError
    from colog.services.train.pipeline import evaluate_records

    records = _read(data, "--data")
    try:
        report = evaluate_records(model, records)
    except ModelDirError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    probs, targets = report.pop("_probs"), report.pop("_targets")
    if plots is not None:
        from colog.services.train.plots import write_plots

        for path in write_plots(report, targets, probs, plots):
            err.print(f"wrote {path}")
    if as_json:
        typer.echo(json.dumps(report))
    else:
        _print_report(report)
