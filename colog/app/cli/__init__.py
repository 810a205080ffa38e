"""Entry point of the `colog` console script; importing the modules registers their commands."""

from colog.app.cli import (
    config_cmd,  # noqa: F401  (registers commands)
    convert_cmd,  # noqa: F401
    drift_cmd,  # noqa: F401
    feedback_cmd,  # noqa: F401
    model_cmd,  # noqa: F401
    pipeline_cmd,  # noqa: F401
    serve_cmd,  # noqa: F401
    shadow_cmd,  # noqa: F401
    stack_cmd,  # noqa: F401
)
from colog.app.cli.app import app

__all__ = ["app"]
