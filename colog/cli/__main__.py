"""`python -m colog.cli`: the same as the `colog` console script."""

from colog.cli import app

app()
