"""`colog convert`: a raw log file (Loghub formats, custom specs, plain, jsonl) -> JSONL records.

Records go to stdout, diagnostics to stderr. Exit codes: 0 at least one record written (bad
lines reported on stderr with their numbers; `--strict` turns any bad line into exit 1),
1 no line parsed (empty file included), 2 usage errors (unknown format, bad spec, no file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from colog.app.cli.app import app
from colog.core.parsing.convert import LABEL_RULES, convert_file
from colog.core.parsing.formats import BUILTIN_FORMATS, CUSTOM, FormatError, resolve_format


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _list_formats() -> None:
    for fmt in BUILTIN_FORMATS.values():
        typer.echo(f"{fmt.name:12s} {fmt.description}")
        if fmt.header:
            extras = [f"time: {' '.join(fmt.time.fields)} as {fmt.time.format}"]
            if fmt.level_field:
                extras.append(f"level: {fmt.level_field}")
            extras.append(f"stream: {fmt.stream_field or 'one per file'}")
            typer.echo(f"{'':12s}   {fmt.header}")
            typer.echo(f"{'':12s}   {'; '.join(extras)}")
    typer.echo(f"{CUSTOM:12s} your own header spec: --format-spec SPEC --time-format FMT "
               "[--time-fields A,B] [--level-field F] [--stream-field F]")


@app.command("convert")
def convert_command(
    logfile: Path | None = typer.Argument(None, help="raw log file to convert"),
    format_name: str | None = typer.Option(None, "--format", "-f",
                                           help="log format (see --list-formats)"),
    label_rule: str = typer.Option("none", "--label-rule",
                                   help="none, level (WARN and worse = anomaly) or alert "
                                        "(the log's own alert tag: BGL, Thunderbird)"),
    stream: str | None = typer.Option(None, "--stream",
                                      help="stream name (default: the file name without suffix)"),
    format_spec: str | None = typer.Option(None, "--format-spec",
                                           help="header spec replacing the format's, e.g. "
                                                "'<Date> <Time> <Level> <Component>: <Content>'"),
    time_format: str | None = typer.Option(None, "--time-format",
                                           help="strptime format, 'epoch' or 'iso'"),
    time_fields: str | None = typer.Option(None, "--time-fields",
                                           help="comma-separated header fields holding the time"),
    level_field: str | None = typer.Option(None, "--level-field"),
    stream_field: str | None = typer.Option(None, "--stream-field",
                                            help="header field naming the machine (one stream "
                                                 "per value)"),
    year: int | None = typer.Option(None, "--year", min=1, max=9999,
                                    help="year for logs whose times omit it (default 2000)"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 if any line is unparsable"),
    max_shown: int = typer.Option(50, "--max-errors-shown", min=0,
                                  help="bad lines listed on stderr (all are counted)"),
    list_formats: bool = typer.Option(False, "--list-formats", help="list formats and exit"),
) -> None:
    """Convert a raw log file into colog JSONL records (stdout), ordered by time per stream."""
    if list_formats:
        _list_formats()
        return
    if not format_name:
        raise _fail("--format is required (see --list-formats)", 2)
    if logfile is None:
        raise _fail("LOGFILE is required", 2)
    if not logfile.is_file():
        raise _fail(f"no such file: {logfile}", 2)
    if label_rule not in LABEL_RULES:
        raise _fail(f"--label-rule must be one of {', '.join(LABEL_RULES)}, got {label_rule!r}", 2)
    fields = tuple(f.strip() for f in time_fields.split(",") if f.strip()) if time_fields else None
    try:
        fmt = resolve_format(format_name, format_spec, time_format, fields, level_field,
                             stream_field)
        result = convert_file(logfile, fmt, stream, label_rule, year)
    except FormatError as exc:
        raise _fail(str(exc), 2) from exc
    except OSError as exc:
        raise _fail(f"cannot read {logfile}: {exc}", 2) from exc

    out = sys.stdout
    for record in result.records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()

    for error in result.errors[:max_shown]:
        typer.echo(f"{logfile}:{error.line}: {error.reason}", err=True)
    if len(result.errors) > max_shown:
        typer.echo(f"... and {len(result.errors) - max_shown} more unparsable line(s)", err=True)
    typer.echo(f"{logfile}: {len(result.records)} record(s) in {len(result.streams)} stream(s) "
               f"from {result.lines_read} line(s); {len(result.errors)} unparsable "
               f"(format {fmt.name})", err=True)
    if not result.records:
        raise _fail(f"no line of {logfile} could be parsed as {fmt.name}", 1)
    if strict and result.errors:
        raise typer.Exit(1)
