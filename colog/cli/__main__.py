"""`python -m colog.cli`: the `colog` command from this checkout (tests run it this way)."""

from colog.cli import app

app(prog_name="colog")
