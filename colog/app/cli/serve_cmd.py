"""`colog serve`: place a trained model directory as the next Triton version and serve it."""

from __future__ import annotations

from pathlib import Path

import typer

from colog.app.cli.app import app


@app.command()
def serve(
    model: Path = typer.Option(..., "--model", help="model directory written by `colog train`"),
    start: bool = typer.Option(False, "--start", help="start the local Triton if it is not running"),
) -> None:
    """Place MODEL as the next numbered `colog` version and make Triton serve it (no restart)."""
    from colog.app.stack import triton
    from colog.app.stack.process import StackError
    from colog.core.serving.client import ModelNotReady, TritonClient
    from colog.core.serving.repository import RepositoryError, assemble, live_repository, place_version
    from colog.core.settings import get_settings

    settings = get_settings()
    try:
        repo = assemble(live_repository(settings), settings.triton_instance_kind)
        version = place_version(repo, model)
    except RepositoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"placed {model} as colog version {version} in {repo}")
    if start:
        try:
            triton.start(settings)
        except StackError as exc:
            typer.echo(f"error: version {version} is placed but not served: {exc}\n"
                       "It will be loaded the next time Triton starts (`colog stack up`).",
                       err=True)
            raise typer.Exit(1) from exc
    # Triton not answering: the one-line error of colog/app/cli/errors.py (exit 12); the version
    # stays placed and is loaded the next time Triton starts.
    client = TritonClient(settings, retries=1)
    client.load_model()
    if not client.is_model_ready(version=str(version)):
        raise ModelNotReady(client.model, client.url, str(version), "not ready after loading")
    typer.echo(f"Triton at {client.url} serves colog version {version}")
