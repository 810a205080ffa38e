"""`colog` sub-commands of this area (filled in by its owner)."""

from colog.cli.app import app  # noqa: F401
