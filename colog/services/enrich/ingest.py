"""`colog ingest`: bulk-load a raw log file or the JSONL of `colog convert` into the engine.

Each line becomes a document with `@timestamp`, `message`, `host.name`, `log.file.path`,
`event.sequence` (the line number: the tie-breaker for equal timestamps) and `event.ingested`.
Ids are a hash of the index, source and line, and documents are *created*, so loading the same
file twice adds nothing and never overwrites a document that analysts have labelled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from colog.core.clock import now_iso
from colog.core.engine import SearchEngine, as_engine
from colog.core.labels import LabelError, validate_label
from colog.core.records import record_from_dict

JSONL_FORMATS = ("jsonl", "json")


@dataclass
class IngestReport:
    read: int = 0
    indexed: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)    # (id, reason) from OpenSearch


def _doc_id(index: str, source: str, line: int) -> str:
    return hashlib.blake2b(f"{index}\0{source}\0{line}".encode(), digest_size=12).hexdigest()



def jsonl_documents(path: Path, host: str, labels_as_feedback: bool
                    ) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line, document, None) or (line, None, reason) for every non-blank line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                record = record_from_dict(obj, number)
            except UnicodeDecodeError:
                yield number, None, "not UTF-8 text"
                continue
            except json.JSONDecodeError as error:
                yield number, None, f"invalid JSON: {error.msg}"
                continue
            except ValueError as error:
                yield number, None, str(error)
                continue
            doc = {"@timestamp": record.timestamp.isoformat().replace("+00:00", "Z"),
                   "message": record.message,
                   "host": {"name": obj.get("host", host)},
                   "log": {"file": {"path": record.stream}}}
            if record.level:
                doc["log"]["level"] = record.level
            if labels_as_feedback and record.label:
                try:
                    feedback = {"label": validate_label(record.label), "by": "colog ingest",
                                "at": now_iso()}
                    if record.context_label:
                        feedback["context_label"] = validate_label(record.context_label,
                                                                   "context_label")
                except LabelError as error:
                    yield number, None, str(error)
                    continue
                doc["colog"] = {"feedback": feedback}
            yield number, doc, None


def raw_documents(path: Path, fmt: str, host: str, format_spec: str | None = None,
                  year: int | None = None) -> Iterator[tuple[int, dict | None, str | None]]:
    """Documents of a raw log in a known format; the format's stream field (e.g. a node name)
    becomes `host.name`, the file name `log.file.path`."""
    from colog.core.parsing.formats import resolve_format
    from colog.core.parsing.lines import LineError, iter_raw_lines, parse_lines

    log_format = resolve_format(fmt, spec=format_spec)
    for result in parse_lines(iter_raw_lines(path), log_format, year=year):
        if isinstance(result, LineError):
            yield result.line, None, result.reason
            continue
        doc = {"@timestamp": result.timestamp.isoformat().replace("+00:00", "Z"),
               "message": result.message,
               "host": {"name": result.stream or host},
               "log": {"file": {"path": path.name}}}
        if result.level:
            doc["log"]["level"] = result.level
        yield result.line, doc, None


def ingest_file(client: SearchEngine, path: Path, index: str, fmt: str = "jsonl",
                host: str = "localhost", labels_as_feedback: bool = False,
                format_spec: str | None = None, year: int | None = None, progress=None,
                chunk_size: int = 500, refresh: bool = True) -> IngestReport:
    client = as_engine(client)  # a raw client (benchmarks, scripts) works too
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    report = IngestReport()
    source_name = str(path.resolve())
    ingested_at = now_iso()
    if fmt in JSONL_FORMATS:
        documents = jsonl_documents(path, host, labels_as_feedback)
    else:
        documents = raw_documents(path, fmt, host, format_spec, year)

    def actions():
        for number, doc, reason in documents:
            report.read += 1
            if doc is None:
                report.rejected.append((number, reason))
                continue
            doc.setdefault("event", {}).update({"sequence": number, "ingested": ingested_at})
            yield {"_op_type": "create", "_index": index,
                   "_id": _doc_id(index, source_name, number), "_source": doc}

    for ok, item in client.stream_bulk(actions(), chunk_size=chunk_size, max_retries=5,
                                       initial_backoff=1, raise_on_error=False):
        result = item.get("create", {})
        if ok:
            report.indexed += 1
        elif result.get("status") == 409:
            report.duplicates += 1
        else:
            error = result.get("error")
            reason = error.get("reason") if isinstance(error, dict) else str(error)
            report.failed.append((str(result.get("_id")), reason))
        if progress is not None:
            progress(1)
    if refresh:
        client.refresh(index, lenient=False)
    return report
