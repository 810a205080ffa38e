"""Parse raw log lines with a `LogFormat`: one ParsedLine or one LineError per line.

Nothing here raises on bad input: a line that is not UTF-8, holds binary data, does not match
the header or has an unreadable time becomes a `LineError` with its line number and reason,
so a caller can report it and go on. Blank lines are skipped (they carry no event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Union

from colog.core.parsing.formats import HEADER, JSONL, PLAIN, LogFormat
from colog.core.parsing.header import CONTENT_FIELD
from colog.core.parsing.levels import normalize_level
from colog.core.parsing.timestamps import DEFAULT_ASSUMED_YEAR, TimestampError, YearRollover

# Control characters other than tab: a line holding them is binary, not text.
_BINARY = {chr(c) for c in range(32) if c != 9} | {"\x7f"}
_SHOWN = 80  # characters of a bad line quoted in its error


@dataclass(frozen=True)
class ParsedLine:
    line: int
    timestamp: datetime  # UTC, tz-aware
    message: str
    level: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    stream: str | None = None  # value of the format's stream field, if it has one
    alert: bool | None = None  # the log's own alert tag (BGL, Thunderbird), if it has one
    label: str | None = None  # explicit label (jsonl input only)
    context_label: str | None = None


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


Result = Union[ParsedLine, LineError]


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def decode_line(raw: bytes | str) -> str:
    """The text of one raw line without its line ending; ValueError if it is not text."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    else:
        text = raw
    text = text.rstrip("\r\n")
    if text.startswith("\ufeff"):  # a byte-order mark on the first line is not content
        text = text[1:]
    bad = next((ch for ch in text if ch in _BINARY), None)
    if bad is not None:
        raise ValueError(f"binary data (control character {bad!r}) in {_shown(text)}")
    return text


class LineParser:
    """Stateful per file: year-less times roll over New Year per stream; plain lines count."""

    def __init__(self, fmt: LogFormat, year: int | None = None):
        self.fmt = fmt
        self.year = DEFAULT_ASSUMED_YEAR if year is None else year
        self._rollovers: dict[str | None, YearRollover] = {}
        self._plain_start = datetime(self.year, 1, 1, tzinfo=timezone.utc)

    def parse(self, raw: bytes | str, number: int) -> Result | None:
        """The parse of line `number` (1-based), or None for a blank line."""
        try:
            text = decode_line(raw)
        except ValueError as exc:
            return LineError(number, str(exc))
        if not text.strip():
            return None
        if self.fmt.kind == PLAIN:
            # No time in the line: a synthetic one, 1 ms per line, keeps the file's order.
            return ParsedLine(number, self._plain_start + timedelta(milliseconds=number),
                              text.strip())
        if self.fmt.kind == JSONL:
            return self._parse_jsonl(text, number)
        if self.fmt.kind == HEADER:
            return self._parse_header(text, number)
        return LineError(number, f"format {self.fmt.name!r} has unknown kind {self.fmt.kind!r}")

    def _parse_header(self, text: str, number: int) -> Result:
        fields = self.fmt.pattern.match(text)
        if fields is None:
            return LineError(number, f"does not match the {self.fmt.name} header "
                                     f"{self.fmt.header!r}: {_shown(text)}")
        message = fields.pop(CONTENT_FIELD).strip()
        if not message:
            return LineError(number, "empty message")
        try:
            timestamp = self.fmt.time.build(fields, self.year)
        except TimestampError as exc:
            return LineError(number, f"bad timestamp: {exc}")
        stream = fields.get(self.fmt.stream_field) if self.fmt.stream_field else None
        if self.fmt.time.needs_year:
            timestamp = self._rollovers.setdefault(stream, YearRollover()).adjust(timestamp)
        level = None
        if self.fmt.level_field:
            level = normalize_level(fields.get(self.fmt.level_field), self.fmt.level_letters)
        alert = None
        if self.fmt.alert_field:
            alert = fields.get(self.fmt.alert_field, "-").strip() not in ("", "-")
        return ParsedLine(number, timestamp, message, level, fields, stream or None, alert)

    def _parse_jsonl(self, text: str, number: int) -> Result:
        # Imported here: records imports labels, which needs numpy; header formats do not.
        from colog.core.records import record_from_dict
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return LineError(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
        try:
            record = record_from_dict(obj, number)
        except ValueError as exc:
            return LineError(number, str(exc))
        # A stream given in the record wins over --stream; None lets the caller fill it in.
        stream = obj.get("stream") if isinstance(obj, dict) else None
        return ParsedLine(number, record.timestamp, record.message,
                          normalize_level(record.level), {}, stream, None,
                          record.label, record.context_label)


def iter_raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of every line of a file, read as bytes so nothing can fail."""
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw


def parse_lines(lines: Iterable[tuple[int, bytes | str]], fmt: LogFormat,
                year: int | None = None) -> Iterator[Result]:
    parser = LineParser(fmt, year)
    for number, raw in lines:
        result = parser.parse(raw, number)
        if result is not None:
            yield result
