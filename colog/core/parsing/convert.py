"""Raw log file -> `colog` JSONL records (the logic behind `colog convert`).

Output records follow colog.core.records: ``{"@timestamp", "message", "stream", "level"?, "label"?,
"context_label"?}``, ordered by time within each stream (streams in order of first appearance,
ties kept in file order), so `colog train --data` reads them back unchanged.

Streams: ``<base>`` for the whole file, or ``<base>/<value>`` where the format names a host-like
stream field (HPC Node, Linux Host, ...). `base` defaults to the file name without suffix.

Label rules: ``none`` writes no label; ``level`` labels an event `anomaly` when its level is in
colog.core.labels.ANOMALOUS_LEVELS, else `normal`; ``alert`` uses the log's own alert tag (BGL,
Thunderbird: ``-`` = normal). A label already present in `jsonl` input is never overridden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from colog.core.labels import ANOMALY, NORMAL, level_is_anomalous
from colog.core.parsing.formats import JSONL, FormatError, LogFormat
from colog.core.parsing.lines import LineError, ParsedLine, iter_raw_lines, parse_lines

LABEL_RULES = ("none", "level", "alert")


@dataclass
class Conversion:
    records: list[dict] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines_read: int = 0

    @property
    def streams(self) -> list[str]:
        return list(dict.fromkeys(r["stream"] for r in self.records))


def check_label_rule(fmt: LogFormat, rule: str) -> None:
    """Refuse a label rule the format cannot honour, rather than label everything normal."""
    if rule not in LABEL_RULES:
        raise FormatError(f"unknown label rule {rule!r}; use one of {', '.join(LABEL_RULES)}")
    if rule == "level" and fmt.kind != JSONL and not fmt.level_field:
        raise FormatError(f"format {fmt.name!r} has no level field, so --label-rule level "
                          "would label every line normal; use --label-rule none"
                          + (" or alert" if fmt.alert_field else ""))
    if rule == "alert" and not fmt.alert_field:
        raise FormatError(f"format {fmt.name!r} has no alert field; --label-rule alert needs "
                          "one (BGL, Thunderbird)")


def iso_utc(timestamp: datetime) -> str:
    """ISO-8601 in UTC with a Z; milliseconds unless the time has finer digits."""
    spec = "milliseconds" if timestamp.microsecond % 1000 == 0 else "microseconds"
    return timestamp.isoformat(timespec=spec).replace("+00:00", "Z")


def to_record(parsed: ParsedLine, base_stream: str, rule: str, fmt: LogFormat) -> dict:
    if parsed.stream and fmt.kind == JSONL:
        stream = parsed.stream  # the record's own stream wins
    elif parsed.stream:
        stream = f"{base_stream}/{parsed.stream}"  # a header stream field: one per machine
    else:
        stream = base_stream
    record = {"@timestamp": iso_utc(parsed.timestamp), "message": parsed.message,
              "stream": stream}
    if parsed.level:
        record["level"] = parsed.level
    label = parsed.label
    if label is None and rule == "level":
        label = ANOMALY if level_is_anomalous(parsed.level) else NORMAL
    elif label is None and rule == "alert":
        label = ANOMALY if parsed.alert else NORMAL
    if label is not None:
        record["label"] = label
    if parsed.context_label is not None:
        record["context_label"] = parsed.context_label
    return record


def convert_lines(lines: Iterable[tuple[int, bytes | str]], fmt: LogFormat, base_stream: str,
                  rule: str = "none", year: int | None = None) -> Conversion:
    check_label_rule(fmt, rule)
    out = Conversion()
    keyed: list[tuple[datetime, int, dict]] = []
    counted = _Counter(lines)
    for result in parse_lines(counted, fmt, year):
        if isinstance(result, LineError):
            out.errors.append(result)
        else:
            keyed.append((result.timestamp, result.line, to_record(result, base_stream, rule, fmt)))
    out.lines_read = counted.count
    first_seen: dict[str, int] = {}
    for i, (_, _, record) in enumerate(keyed):
        first_seen.setdefault(record["stream"], i)
    keyed.sort(key=lambda item: (first_seen[item[2]["stream"]], item[0], item[1]))
    out.records = [record for _, _, record in keyed]
    return out


def convert_file(path: Path, fmt: LogFormat, stream: str | None = None, rule: str = "none",
                 year: int | None = None) -> Conversion:
    path = Path(path)
    return convert_lines(iter_raw_lines(path), fmt, stream or path.stem, rule, year)


class _Counter:
    """Passes lines through and counts them (blank lines included)."""

    def __init__(self, lines: Iterable[tuple[int, bytes | str]]):
        self._lines = lines
        self.count = 0

    def __iter__(self):
        for item in self._lines:
            self.count += 1
            yield item
