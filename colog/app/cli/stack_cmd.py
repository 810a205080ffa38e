"""`colog stack up|down|status`: the local OpenSearch, Redis and Triton, no Docker."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from colog.app.cli.app import app
from colog.app.stack import manager
from colog.app.stack.process import StackError
from colog.core.settings import get_settings

stack_app = typer.Typer(help="Run the local stack (OpenSearch or Elasticsearch, Redis, Triton) here.",
                        no_args_is_help=True)
app.add_typer(stack_app, name="stack")

ONLY_HELP = ("comma-separated subset: engine (the one COLOG_ENGINE names), opensearch, "
             "elasticsearch, redis, triton")


def _components(only: Optional[str]) -> tuple[str, ...]:
    try:
        return manager.parse_components(only, get_settings().engine)
    except StackError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from exc


@stack_app.command()
def up(only: Optional[str] = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
    """Start the components (already running ones are left as they are)."""
    components = _components(only)
    console = Console(stderr=True)
    settings = get_settings()
    for name in components:
        try:
            seconds = manager.up(settings, (name,))[name]
        except StackError as exc:
            console.print(f"[red]{name}: failed[/red]\n{exc}", markup=True, highlight=False)
            raise typer.Exit(1) from exc
        console.print(f"{name}: up ({seconds:.1f}s)")


@stack_app.command()
def down(only: Optional[str] = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
    """Stop the components; nothing they started is left running."""
    errors = manager.down(get_settings(), _components(only))
    console = Console(stderr=True)
    for message in errors:
        console.print(message, markup=False, highlight=False)
    if errors:
        raise typer.Exit(1)
    console.print("stack: down")


@stack_app.command()
def status(
    only: Optional[str] = typer.Option(None, "--only", help=ONLY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Show each component: pid, port, state, log. Exit code 1 when one is not healthy."""
    records = manager.status(get_settings(), _components(only))
    if as_json:
        typer.echo(json.dumps(records, indent=2))
    else:
        table = Table(title="colog local stack")
        for column in ("component", "pid", "port", "state"):
            table.add_column(column)
        table.add_column("log / detail", overflow="fold")
        for record in records:
            state = "up" if record["healthy"] else ("starting" if record["running"] else "down")
            table.add_row(
                record["component"],
                str(record["pid"] or "-"),
                str(record["port"] or "-"),
                state,
                record.get("detail") or record.get("log", ""),
            )
        Console().print(table)
    if not all(record["healthy"] for record in records):
        raise typer.Exit(1)
