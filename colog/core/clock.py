"""The one clock of the project: UTC timestamps in the form every `colog.*` time field uses."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def now_iso() -> str:
    """Now as ISO 8601 in UTC with milliseconds and a `Z` (e.g. `2026-12-06T01:02:03.456Z`)."""
    return to_iso(utc_now())


def to_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
