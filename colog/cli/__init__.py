"""Entry point of the `colog` console script; importing the modules registers their commands."""

from colog.cli.app import app
from colog.cli import config_cmd  # noqa: F401  (registers commands)
from colog.cli import model_cmd  # noqa: F401
from colog.cli import convert_cmd  # noqa: F401
from colog.cli import stack_cmd  # noqa: F401
from colog.cli import serve_cmd  # noqa: F401
from colog.cli import pipeline_cmd  # noqa: F401
from colog.cli import feedback_cmd  # noqa: F401
from colog.cli import drift_cmd  # noqa: F401
from colog.cli import shadow_cmd  # noqa: F401

__all__ = ["app"]
