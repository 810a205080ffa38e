"""Named log formats: how to split a raw line into header fields and the message.

A format says
- `header`: a Loghub-style spec (``<Date> <Time> <Level> <Component>: <Content>``, see
  `colog.core.parsing.header`) with optional stricter patterns for some fields;
- `time`: which fields hold the time and how to read them (`colog.core.parsing.timestamps`);
  year-less logs get an assumed year (`--year` overrides it);
- `level_field`: the field holding the log level (None: the log has none);
- `stream_field`: the field naming the machine that wrote the line (Node/Host), used to split
  one file into streams. Components, pids and threads are NOT streams: events of one machine
  interleave across them, and the sequence modality needs that interleaving. Without such a
  field a file is one stream;
- `alert_field`: where a log carries its own alert tag (BGL, Thunderbird: ``-`` = no alert).

The built-in specs follow the ones of the Loghub benchmark (Zhu et al., ICSE-SEIP 2019), with
our own, clearer names for fields Loghub names oddly (its Linux "Level" is the host name), and
strict patterns for time and level fields so garbage lines are rejected rather than half-parsed.

Two formats are not header formats: `jsonl` passes `colog` JSONL records through (validated),
and `plain` takes the whole line as the message (time = synthetic, file order kept).
A custom header spec (`custom` with `--format-spec`) needs `--time-format`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

from colog.core.parsing.header import HeaderPattern, compile_header
from colog.core.parsing.levels import ANDROID_LETTERS
from colog.core.parsing.timestamps import EPOCH, ISO, TimestampRule

HEADER = "header"
JSONL = "jsonl"
PLAIN = "plain"
CUSTOM = "custom"


class FormatError(ValueError):
    """An unknown format name, or a format definition that cannot work."""


@dataclass(frozen=True)
class LogFormat:
    name: str
    description: str
    kind: str = HEADER
    header: str | None = None
    field_patterns: Mapping[str, str] = field(default_factory=dict)
    time: TimestampRule | None = None
    level_field: str | None = None
    level_letters: Mapping[str, str] | None = None
    stream_field: str | None = None
    alert_field: str | None = None

    @cached_property
    def pattern(self) -> HeaderPattern:
        if self.kind != HEADER or self.header is None:
            raise FormatError(f"format {self.name!r} has no header spec")
        return compile_header(self.header, self.field_patterns)

    def validate(self) -> "LogFormat":
        """Raise FormatError unless every field the format relies on is in its spec."""
        if self.kind != HEADER:
            return self
        try:
            fields = set(self.pattern.fields)
        except ValueError as exc:
            raise FormatError(f"format {self.name!r}: {exc}") from exc
        if self.time is None:
            raise FormatError(f"format {self.name!r} has no time rule (give --time-format)")
        needed = {"time field": self.time.fields, "level field": (self.level_field,),
                  "stream field": (self.stream_field,), "alert field": (self.alert_field,)}
        for role, names in needed.items():
            for name in names:
                if name is not None and name not in fields:
                    raise FormatError(
                        f"format {self.name!r}: {role} <{name}> is not in the header spec "
                        f"{self.header!r}")
        return self


def _rule(fmt: str, *fields: str) -> TimestampRule:
    return TimestampRule(fields=tuple(fields), format=fmt)


_SYSLOG_TIME = {"Month": r"[A-Z][a-z]{2}", "Day": r"\d{1,2}", "Time": r"\d{2}:\d{2}:\d{2}"}

BUILTIN_FORMATS: dict[str, LogFormat] = {f.name: f for f in (
    LogFormat(
        "HDFS", "Hadoop HDFS (Loghub HDFS)",
        header="<Date> <Time> <Pid> <Level> <Component>: <Content>",
        field_patterns={"Date": r"\d{6}", "Time": r"\d{6}", "Pid": r"\d+", "Level": r"[A-Z]+"},
        time=_rule("%y%m%d %H%M%S", "Date", "Time"), level_field="Level"),
    LogFormat(
        "Hadoop", "Hadoop MapReduce (Loghub Hadoop)",
        header=r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
        field_patterns={"Date": r"\d{4}-\d{2}-\d{2}", "Time": r"\d{2}:\d{2}:\d{2},\d+",
                        "Level": r"[A-Z]+"},
        time=_rule("%Y-%m-%d %H:%M:%S,%f", "Date", "Time"), level_field="Level"),
    LogFormat(
        "Spark", "Apache Spark (Loghub Spark)",
        header="<Date> <Time> <Level> <Component>: <Content>",
        field_patterns={"Date": r"\d{2}/\d{2}/\d{2}", "Time": r"\d{2}:\d{2}:\d{2}",
                        "Level": r"[A-Z]+"},
        time=_rule("%y/%m/%d %H:%M:%S", "Date", "Time"), level_field="Level"),
    LogFormat(
        "Zookeeper", "Apache ZooKeeper (Loghub Zookeeper); Node is a thread, not a host",
        header=r"<Date> <Time> - <Level> \[<Node>:<Component>@<Id>\] - <Content>",
        field_patterns={"Date": r"\d{4}-\d{2}-\d{2}", "Time": r"\d{2}:\d{2}:\d{2},\d+",
                        "Level": r"[A-Z]+"},
        time=_rule("%Y-%m-%d %H:%M:%S,%f", "Date", "Time"), level_field="Level"),
    LogFormat(
        "BGL", "Blue Gene/L RAS log (Loghub BGL; no sample here, spec from Loghub)",
        header="<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> "
               "<Level> <Content>",
        field_patterns={"Label": r"\S+", "Timestamp": r"\d+", "Date": r"\S+", "Node": r"\S+",
                        "Time": r"\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+",
                        "NodeRepeat": r"\S+", "Type": r"\S+", "Component": r"\S+",
                        "Level": r"\S+"},
        time=_rule("%Y-%m-%d-%H.%M.%S.%f", "Time"), level_field="Level", stream_field="Node",
        alert_field="Label"),
    LogFormat(
        "HPC", "HPC cluster log (Loghub HPC); no level",
        header="<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        field_patterns={"LogId": r"\d+", "Node": r"\S+", "Component": r"\S+", "State": r"\S+",
                        "Time": r"\d+", "Flag": r"-?\d+"},
        time=_rule(EPOCH, "Time"), stream_field="Node"),
    LogFormat(
        "Thunderbird", "Thunderbird supercomputer syslog (Loghub Thunderbird); no level",
        header=r"<Label> <Timestamp> <Date> <Host> <Month> <Day> <Time> <Location> "
               r"<Component>(\[<Pid>\])?: <Content>",
        field_patterns={"Label": r"\S+", "Timestamp": r"\d+", "Date": r"\d{4}\.\d{2}\.\d{2}",
                        "Host": r"\S+", "Location": r"\S+", **_SYSLOG_TIME},
        time=_rule(EPOCH, "Timestamp"), stream_field="Host", alert_field="Label"),
    LogFormat(
        "Windows", "Windows CBS log (Loghub Windows)",
        header="<Date> <Time>, <Level> <Component> <Content>",
        field_patterns={"Date": r"\d{4}-\d{2}-\d{2}", "Time": r"\d{2}:\d{2}:\d{2}",
                        "Level": r"\w+", "Component": r"\S+"},
        time=_rule("%Y-%m-%d %H:%M:%S", "Date", "Time"), level_field="Level"),
    LogFormat(
        "Linux", "Linux syslog (Loghub Linux); no level, year assumed",
        header=r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>",
        field_patterns={"Host": r"\S+", **_SYSLOG_TIME},
        time=_rule("%b %d %H:%M:%S", "Month", "Day", "Time"), stream_field="Host"),
    LogFormat(
        "Android", "Android logcat threadtime (Loghub Android); year assumed",
        header="<Date> <Time> <Pid> <Tid> <Level> <Component>: <Content>",
        field_patterns={"Date": r"\d{2}-\d{2}", "Time": r"\d{2}:\d{2}:\d{2}\.\d+",
                        "Pid": r"\d+", "Tid": r"\d+", "Level": r"[VDIWEFA]"},
        time=_rule("%m-%d %H:%M:%S.%f", "Date", "Time"), level_field="Level",
        level_letters=ANDROID_LETTERS),
    LogFormat(
        "HealthApp", "Health app log (Loghub HealthApp); no level",
        header=r"<Time>\|<Component>\|<Pid>\|<Content>",
        field_patterns={"Time": r"\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d+"},
        time=_rule("%Y%m%d-%H:%M:%S:%f", "Time")),
    LogFormat(
        "Apache", "Apache httpd error log (Loghub Apache)",
        header=r"\[<Time>\] \[<Level>\] <Content>",
        field_patterns={"Time": r"\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \d{4}", "Level": r"\w+"},
        time=_rule("%a %b %d %H:%M:%S %Y", "Time"), level_field="Level"),
    LogFormat(
        "OpenSSH", "OpenSSH server via syslog (Loghub OpenSSH); no level, year assumed",
        header=r"<Month> <Day> <Time> <Host> <Component>\[<Pid>\]: <Content>",
        field_patterns={"Host": r"\S+", "Component": r"\S+", "Pid": r"\d+", **_SYSLOG_TIME},
        time=_rule("%b %d %H:%M:%S", "Month", "Day", "Time"), stream_field="Host"),
    LogFormat(
        "OpenStack", "OpenStack nova logs (Loghub OpenStack); stream = source log file",
        header=r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
        field_patterns={"Logrecord": r"\S+", "Date": r"\d{4}-\d{2}-\d{2}",
                        "Time": r"\d{2}:\d{2}:\d{2}\.\d+", "Pid": r"\d+", "Level": r"[A-Z]+",
                        "Component": r"\S+"},
        time=_rule("%Y-%m-%d %H:%M:%S.%f", "Date", "Time"), level_field="Level",
        stream_field="Logrecord"),
    LogFormat(
        # The host name follows the laptop's DHCP address, so it is one machine: one stream.
        "Mac", "macOS system log (Loghub Mac); no level, year assumed",
        header=r"<Month> <Day> <Time> <Host> <Component>\[<Pid>\]( \(<Address>\))?: <Content>",
        field_patterns={"Host": r"\S+", "Pid": r"\d+", **_SYSLOG_TIME},
        time=_rule("%b %d %H:%M:%S", "Month", "Day", "Time")),
    LogFormat(
        "Proxifier", "Proxifier client log (Loghub Proxifier); no level, year assumed",
        header=r"\[<Time>\] <Program> - <Content>",
        field_patterns={"Time": r"\d{2}\.\d{2} \d{2}:\d{2}:\d{2}"},
        time=_rule("%m.%d %H:%M:%S", "Time")),
    LogFormat(JSONL, "colog JSONL records, validated and passed through", kind=JSONL),
    LogFormat(PLAIN, "one message per line, no header; time is synthetic (file order)",
              kind=PLAIN),
)}

# Loghub samples in benchmarks/data/loghub, by file name prefix (BGL has no sample here).
LOGHUB_SAMPLES = ("HDFS", "Hadoop", "Spark", "Zookeeper", "HPC", "Thunderbird", "Windows",
                  "Linux", "Android", "HealthApp", "Apache", "OpenSSH", "OpenStack", "Mac",
                  "Proxifier")


def format_names() -> list[str]:
    return [*BUILTIN_FORMATS, CUSTOM]


def get_format(name: str) -> LogFormat:
    """A built-in format by name (case-insensitive)."""
    for known, fmt in BUILTIN_FORMATS.items():
        if known.lower() == (name or "").strip().lower():
            return fmt
    raise FormatError(f"unknown format {name!r}; known formats: {', '.join(format_names())}")


def resolve_format(name: str, spec: str | None = None, time_format: str | None = None,
                   time_fields: tuple[str, ...] | None = None, level_field: str | None = None,
                   stream_field: str | None = None) -> LogFormat:
    """The format to use: a built-in one, optionally with its header spec or rules replaced.

    `custom` starts from nothing: it needs `spec` and `time_format`; its time fields default to
    ``Timestamp``, else ``Date``+``Time``, else ``Time``; its level field to ``Level`` and its
    stream field to ``Host`` when the spec has them.
    """
    if (name or "").strip().lower() == CUSTOM:
        if not spec:
            raise FormatError("format 'custom' needs --format-spec")
        if not time_format:
            raise FormatError("format 'custom' needs --time-format (strptime, 'epoch' or 'iso')")
        base = LogFormat(CUSTOM, "user-defined header spec", header=spec)
        fields = _spec_fields(base)
        if not time_fields:
            time_fields = _default_time_fields(fields)
        base = replace(base, level_field=level_field or ("Level" if "Level" in fields else None),
                       stream_field=stream_field or ("Host" if "Host" in fields else None))
    else:
        base = get_format(name)
        if spec is not None:
            if base.kind != HEADER:
                raise FormatError(f"format {base.name!r} has no header to replace")
            # The built-in field patterns may name fields the new spec lacks: start without them.
            base = replace(base, header=spec, field_patterns={})
        if level_field:
            base = replace(base, level_field=level_field)
        if stream_field:
            base = replace(base, stream_field=stream_field)
    if time_format or time_fields:
        if base.kind != HEADER:
            raise FormatError(f"format {base.name!r} has no header time fields")
        fmt = time_format or (base.time.format if base.time else None)
        fields = time_fields or (base.time.fields if base.time else None)
        if not fmt or not fields:
            raise FormatError("a time rule needs both --time-format and time fields")
        base = replace(base, time=TimestampRule(tuple(fields), fmt))
    if base.time is not None and base.time.format not in (EPOCH, ISO) and "%" not in base.time.format:
        raise FormatError(f"time format {base.time.format!r} is not strptime, 'epoch' or 'iso'")
    return base.validate()


def _spec_fields(fmt: LogFormat) -> tuple[str, ...]:
    try:
        return fmt.pattern.fields
    except ValueError as exc:
        raise FormatError(f"bad --format-spec: {exc}") from exc


def _default_time_fields(fields: tuple[str, ...]) -> tuple[str, ...]:
    for candidate in (("Timestamp",), ("Date", "Time"), ("Time",)):
        if all(name in fields for name in candidate):
            return candidate
    raise FormatError("the spec has no <Timestamp>, <Date> <Time> or <Time> field; "
                      "name the time fields with --time-fields")
