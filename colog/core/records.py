"""JSONL log records (the output of `colog convert`, the input of `colog train/evaluate`).

One record per line: {"@timestamp": ISO-8601, "message": str, "stream": str?, "level": str?,
"label": "anomaly"|"normal"?, "context_label": ...?}. Every bad line is reported with its line
number; a file with any bad line is rejected whole, so no model is trained on half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from colog.core.labels import LabelError, validate_label

DEFAULT_STREAM = "default"


@dataclass(frozen=True)
class LogRecord:
    timestamp: datetime
    message: str
    stream: str = DEFAULT_STREAM
    level: str | None = None
    label: str | None = None
    context_label: str | None = None
    line: int = 0


class RecordsError(ValueError):
    """One or more bad records; `problems` holds (line number, reason) for each."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = problems
        shown = "\n".join(f"  {path}:{line}: {reason}" for line, reason in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} bad record(s) in {path}:\n{shown}{more}")


def parse_timestamp(value: object) -> datetime:
    """ISO-8601 (a trailing Z allowed) or epoch milliseconds; naive times are taken as UTC."""
    if isinstance(value, bool):
        raise ValueError(f"bad @timestamp {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"bad @timestamp {value!r}: expected an ISO-8601 string")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"bad @timestamp {value!r}: not ISO-8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def record_from_dict(obj: object, line: int) -> LogRecord:
    if not isinstance(obj, dict):
        raise ValueError("a record must be a JSON object")
    message = obj.get("message")
    if not isinstance(message, str):
        raise ValueError("missing message" if message is None else "message must be a string")
    if not message.strip():
        raise ValueError("empty message")
    if "@timestamp" not in obj:
        raise ValueError("missing @timestamp")
    timestamp = parse_timestamp(obj["@timestamp"])
    stream = obj.get("stream", DEFAULT_STREAM)
    if stream is None or not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty string, got {stream!r}")
    level = obj.get("level")
    if level is not None and not isinstance(level, str):
        raise ValueError(f"level must be a string, got {level!r}")
    try:
        label = None if obj.get("label") is None else validate_label(obj["label"])
        context_label = (None if obj.get("context_label") is None
                         else validate_label(obj["context_label"], "context_label"))
    except LabelError as exc:
        raise ValueError(str(exc)) from exc
    return LogRecord(timestamp, message, stream, level, label, context_label, line)


def read_records(path: Path) -> list[LogRecord]:
    """All records of a JSONL file, ordered by time within each stream (stable on ties)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    records: list[LogRecord] = []
    problems: list[tuple[int, str]] = []
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        try:
            lines = list(enumerate(handle, start=1))
        except UnicodeDecodeError as exc:
            raise RecordsError(path, [(0, f"not UTF-8 text: {exc}")]) from exc
    for number, raw in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append((number, f"invalid JSON: {exc.msg}"))
            continue
        try:
            records.append(record_from_dict(obj, number))
        except ValueError as exc:
            problems.append((number, str(exc)))
    if problems:
        raise RecordsError(path, problems)
    if not records:
        raise RecordsError(path, [(0, "no records")])
    return order_by_stream_time(records)


def order_by_stream_time(records: list[LogRecord]) -> list[LogRecord]:
    """Time order inside each stream; streams keep the order of their first appearance."""
    first_seen: dict[str, int] = {}
    for i, record in enumerate(records):
        first_seen.setdefault(record.stream, i)
    return sorted(records, key=lambda r: (first_seen[r.stream], r.timestamp, r.line))


