"""The one `colog` command. Each area registers its sub-commands in its own module."""

import typer

from colog.app.cli.errors import FailWell

app = typer.Typer(
    name="colog",
    help="CoLog for OpenSearch and Elasticsearch: multimodal log anomaly detection.",
    epilog="Exit codes: 0 done, 1 failed, 2 bad input, 3 no labelled documents, 4 release "
    "refused, 10 OpenSearch or Elasticsearch, 11 Redis, 12 Triton did not answer "
    "(docs/operations.md).",
    cls=FailWell,  # a server that does not answer: one line and its exit code (errors.py)
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", envvar="COLOG_DEBUG",
                               help="when a server fails, print the traceback too"),
) -> None:
    """CoLog for OpenSearch: multimodal log anomaly detection."""
