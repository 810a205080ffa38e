"""`python -m colog.app.cli`: the `colog` command from this checkout (tests run it this way)."""

from colog.app.cli import app

app(prog_name="colog")
