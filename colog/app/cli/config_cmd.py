"""`colog config`: the effective settings, secrets masked."""

import json

import typer

from colog.app.cli.app import app
from colog.core.settings import Settings


@app.command("config")
def show_config(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Print the effective settings (env, .env, secret files) with secrets masked."""
    shown = Settings().masked()
    if as_json:
        typer.echo(json.dumps(shown, indent=2, default=str))
        return
    for name, value in shown.items():
        typer.echo(f"COLOG_{name.upper()}={value}")
