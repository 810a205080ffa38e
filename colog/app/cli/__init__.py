"""Entry point of the `colog` console script; importing the modules registers their commands."""

from colog.app.cli.app import app
from colog.app.cli import config_cmd  # noqa: F401  (registers commands)
from colog.app.cli import model_cmd  # noqa: F401
from colog.app.cli import convert_cmd  # noqa: F401
from colog.app.cli import stack_cmd  # noqa: F401
from colog.app.cli import serve_cmd  # noqa: F401
from colog.app.cli import pipeline_cmd  # noqa: F401
from colog.app.cli import feedback_cmd  # noqa: F401
from colog.app.cli import drift_cmd  # noqa: F401
from colog.app.cli import shadow_cmd  # noqa: F401

__all__ = ["app"]
