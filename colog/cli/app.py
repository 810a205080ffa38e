"""The one `colog` command. Each area registers its sub-commands in its own module."""

import typer

app = typer.Typer(
    name="colog",
    help="CoLog for OpenSearch: multimodal log anomaly detection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """CoLog for OpenSearch: multimodal log anomaly detection."""
