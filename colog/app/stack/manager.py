"""Brings the local stack's components up and down together, in a fixed order."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from colog.app.stack import process
from colog.app.stack.process import StackError

ENGINES = ("opensearch", "elasticsearch")
COMPONENTS = ("opensearch", "redis", "triton")  # the default stack, for COLOG_ENGINE=opensearch
KNOWN = (*ENGINES, "redis", "triton")


def default_components(engine: str = "opensearch") -> tuple[str, ...]:
    """The configured engine, Redis, Triton: what `colog stack up` starts."""
    return (engine, "redis", "triton")


def component(name: str) -> ModuleType:
    """The module of one component, imported on demand (Triton pulls in heavier packages)."""
    if name not in KNOWN:
        raise StackError(f"unknown stack component {name!r}; choose from {', '.join(KNOWN)}")
    try:
        return importlib.import_module(f"colog.app.stack.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"colog.app.stack.{name}":
            raise StackError(
                f"{name}: colog.app.stack.{name} is not available in this checkout; "
                f"run the other components with --only {','.join(c for c in COMPONENTS if c != name)}"
            ) from exc
        raise


def parse_components(only: str | None, engine: str = "opensearch") -> tuple[str, ...]:
    """``"redis, opensearch"`` → ordered, de-duplicated names; None → the default stack of
    ``engine``. ``engine`` in the list means the configured one (COLOG_ENGINE)."""
    if not only:
        return default_components(engine)
    wanted = [part.strip().lower() for part in only.split(",") if part.strip()]
    wanted = [engine if name == "engine" else name for name in wanted]
    unknown = [name for name in wanted if name not in KNOWN]
    if unknown or not wanted:
        raise StackError(
            f"unknown stack component(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from engine, {', '.join(KNOWN)}"
        )
    return tuple(name for name in KNOWN if name in wanted)


def up(settings: Any, components: Sequence[str] | None = None) -> dict[str, float]:
    """Start each component (idempotent); returns seconds per component.

    Stops at the first failure and raises its StackError; components already up stay up, so a
    fixed problem only needs `up` again.
    """
    timings: dict[str, float] = {}
    for name in components or default_components(settings.engine):
        t0 = time.monotonic()
        component(name).start(settings)
        timings[name] = round(time.monotonic() - t0, 1)
    return timings


def down(settings: Any, components: Sequence[str] | None = None) -> list[str]:
    """Stop each component, in reverse order; returns the failures' messages (empty = all
    stopped). Every component is attempted even if one fails."""
    errors: list[str] = []
    for name in reversed(tuple(components or default_components(settings.engine))):
        try:
            component(name).stop(settings)
        except StackError as exc:
            errors.append(str(exc))
    return errors


def status(settings: Any, components: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One status record per component; an unavailable component reads as an error record."""
    records = []
    for name in components or default_components(settings.engine):
        try:
            record = component(name).status(settings)
            record.setdefault("log", str(process.log_file(settings, name)))
        except StackError as exc:
            record = process.status_record(name, None, None, False, str(exc))
            record["log"] = ""
        records.append(record)
    return records
