"""`colog serve`: place a trained model directory as the next Triton version and serve it."""

from __future__ import annotations

from pathlib import Path

import typer

from colog.cli.app import app


@app.command()
def serve(
    model: Path = typer.Option(..., "--model", help="model directory written by `colog train`"),
    start: bool = typer.Option(False, "--start", help="start the local Triton if it is not running"),
) -> None:
    """Place MODEL as the next numbered `colog` version and make Triton serve it (no restart)."""
    from colog.serving.client import TritonClient, TritonError
    from colog.serving.repository import RepositoryError, assemble, live_repository, place_version
    from colog.settings import get_settings
    from colog.stack import triton
    from colog.stack.process import StackError

    settings = get_settings()
    try:
        repo = assemble(live_repository(settings), settings.triton_instance_kind)
        version = place_version(repo, model)
    except RepositoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"placed {model} as colog version {version} in {repo}")
    try:
        if start:
            triton.start(settings)
        client = TritonClient(settings, retries=1)
        client.load_model()
        if not client.is_model_ready(version=str(version)):
            raise TritonError(f"version {version} is not ready after loading")
    except (StackError, TritonError) as exc:
        typer.echo(f"error: version {version} is placed but not served: {exc}\n"
                   "It will be loaded the next time Triton starts (`colog stack up`).", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Triton at {client.url} serves colog version {version}")
