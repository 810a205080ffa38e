"""Brings the local stack's components up and down together, in a fixed order."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from colog.stack import process
from colog.stack.process import StackError

COMPONENTS = ("opensearch", "redis", "triton")


def component(name: str) -> ModuleType:
    """The module of one component, imported on demand (Triton pulls in heavier packages)."""
    if name not in COMPONENTS:
        raise StackError(f"unknown stack component {name!r}; choose from {', '.join(COMPONENTS)}")
    try:
        return importlib.import_module(f"colog.stack.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"colog.stack.{name}":
            raise StackError(
                f"{name}: colog.stack.{name} is not available in this checkout; "
                f"run the other components with --only {','.join(c for c in COMPONENTS if c != name)}"
            ) from exc
        raise


def parse_components(only: str | None) -> tuple[str, ...]:
    """``"redis, opensearch"`` → ordered, de-duplicated names; None → all of them."""
    if not only:
        return COMPONENTS
    wanted = [part.strip().lower() for part in only.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in COMPONENTS]
    if unknown or not wanted:
        raise StackError(
            f"unknown stack component(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(COMPONENTS)}"
        )
    return tuple(name for name in COMPONENTS if name in wanted)


def up(settings: Any, components: Sequence[str] = COMPONENTS) -> dict[str, float]:
    """Start each component (idempotent); returns seconds per component.

    Stops at the first failure and raises its StackError; components already up stay up, so a
    fixed problem only needs `up` again.
    """
    timings: dict[str, float] = {}
    for name in components:
        t0 = time.monotonic()
        component(name).start(settings)
        timings[name] = round(time.monotonic() - t0, 1)
    return timings


def down(settings: Any, components: Sequence[str] = COMPONENTS) -> list[str]:
    """Stop each component, in reverse order; returns the failures' messages (empty = all
    stopped). Every component is attempted even if one fails."""
    errors: list[str] = []
    for name in reversed(tuple(components)):
        try:
            component(name).stop(settings)
        except StackError as exc:
            errors.append(str(exc))
    return errors


def status(settings: Any, components: Iterable[str] = COMPONENTS) -> list[dict[str, Any]]:
    """One status record per component; an unavailable component reads as an error record."""
    records = []
    for name in components:
        try:
            record = component(name).status(settings)
            record.setdefault("log", str(process.log_file(settings, name)))
        except StackError as exc:
            record = process.status_record(name, None, None, False, str(exc))
            record["log"] = ""
        records.append(record)
    return records
