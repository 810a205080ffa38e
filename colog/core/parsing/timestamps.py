"""Build a UTC timestamp from header fields.

A rule names the fields that hold the time (joined with one space, in the given order) and how
to read them: a `strptime` format, ``"epoch"`` (seconds since 1970, as HPC and Thunderbird log)
or ``"iso"`` (ISO-8601, a comma allowed before the fraction).

Assumptions, because most logs do not say:
- a time without a zone is UTC;
- a time without a year (syslog ``Jun 14 15:16:01``, Android ``03-17 16:13:38.811``) gets the
  format's assumed year, `DEFAULT_ASSUMED_YEAR` unless the caller sets one. A fixed year keeps
  conversions reproducible whenever they run, and a leap year lets ``Feb 29`` parse.
  `YearRollover` moves later lines of one file into the next year when the log wraps around
  New Year, so time order inside a file survives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

DEFAULT_ASSUMED_YEAR = 2000
EPOCH = "epoch"
ISO = "iso"

# A year-less log that jumps back further than this is taken to have crossed New Year; smaller
# steps back are ordinary out-of-order lines.
ROLLOVER_JUMP = timedelta(days=30)


class TimestampError(ValueError):
    """The time fields of one line cannot be read with the format's rule."""


@dataclass(frozen=True)
class TimestampRule:
    fields: tuple[str, ...]
    format: str

    @property
    def needs_year(self) -> bool:
        if self.format in (EPOCH, ISO):
            return False
        return "%Y" not in self.format and "%y" not in self.format

    def build(self, values: dict[str, str], year: int = DEFAULT_ASSUMED_YEAR) -> datetime:
        """The UTC time of one line from its header `values`."""
        text = " ".join(values.get(name, "").strip() for name in self.fields).strip()
        if not text:
            raise TimestampError(f"empty time field(s) {', '.join(self.fields)}")
        if self.format == EPOCH:
            return _from_epoch(text)
        if self.format == ISO:
            return _from_iso(text)
        return _from_strptime(text, self.format, year if self.needs_year else None)


def _from_epoch(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise TimestampError(f"{text!r} is not epoch seconds") from exc


def _from_iso(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimestampError(f"{text!r} is not an ISO-8601 time") from exc
    return _as_utc(parsed)


def _from_strptime(text: str, fmt: str, year: int | None) -> datetime:
    if year is not None:
        # Parse with the year in the string: strptime's own default (1900) rejects Feb 29.
        text, fmt = f"{text} {year:04d}", f"{fmt} %Y"
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError as exc:
        raise TimestampError(f"{text!r} does not match time format {fmt!r}") from exc
    return _as_utc(parsed)


def _as_utc(parsed: datetime) -> datetime:
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


class YearRollover:
    """Keeps one year-less file in time order across New Year (Dec 31 -> Jan 1).

    Feed the timestamps of one file in file order; each one that lands more than
    `ROLLOVER_JUMP` before the latest seen so far is moved one year on (and so are all after it).
    """

    def __init__(self) -> None:
        self._years_added = 0
        self._latest: datetime | None = None

    def adjust(self, timestamp: datetime) -> datetime:
        shifted = _add_years(timestamp, self._years_added)
        if self._latest is not None and shifted < self._latest - ROLLOVER_JUMP:
            self._years_added += 1
            shifted = _add_years(timestamp, self._years_added)
        if self._latest is None or shifted > self._latest:
            self._latest = shifted
        return shifted


def _add_years(timestamp: datetime, years: int) -> datetime:
    if years == 0:
        return timestamp
    try:
        return timestamp.replace(year=timestamp.year + years)
    except ValueError:  # Feb 29 into a year without one
        return timestamp.replace(year=timestamp.year + years, day=28)
