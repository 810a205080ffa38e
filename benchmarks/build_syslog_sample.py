"""Build samples/syslog/syslog_ecs.ndjson: two Loghub syslog samples (Linux, OpenSSH) as the
documents a syslog shipper writes into the engine (ECS fields: `host.name`, `process.name`,
`process.pid`, `log.syslog.appname`, `event.original`), the real-syslog scenario of `colog bench`.

    .venv/bin/python benchmarks/build_syslog_sample.py benchmarks/data/loghub

Lines are RFC 3164 (`Mon DD HH:MM:SS host app[pid]: message`) without a year: the year is
fixed (2026). Lines that do not parse are counted and left out.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "samples" / "syslog" / "syslog_ecs.ndjson"
SOURCES = ("Linux_2k.log", "OpenSSH_2k.log")
YEAR = 2026
LINE = re.compile(r"^(?P<month>\w{3})\s+(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) (?P<host>\S+) "
                  r"(?P<app>[^\s\[:]+(?:\([^)]*\))?)(?:\[(?P<pid>\d+)\])?: ?(?P<message>.*)$")


def document(line: str) -> dict | None:
    found = LINE.match(line)
    if not found:
        return None
    stamp = datetime.strptime(f"{YEAR} {found['month']} {found['day']} {found['time']}",
                              "%Y %b %d %H:%M:%S").replace(tzinfo=timezone.utc)
    doc = {"@timestamp": stamp.isoformat().replace("+00:00", "Z"),
           "message": found["message"].rstrip(),
           "host": {"name": found["host"], "hostname": found["host"]},
           "process": {"name": found["app"]},
           "log": {"syslog": {"appname": found["app"]}},
           "event": {"original": line, "dataset": "syslog"},
           "ecs": {"version": "8.11.0"}}
    if found["pid"]:
        doc["process"]["pid"] = int(found["pid"])
        doc["log"]["syslog"]["procid"] = found["pid"]
    return doc


def main(folder: Path) -> None:
    written, skipped = 0, 0
    with OUT.open("w", encoding="utf-8") as out:
        for name in SOURCES:
            for line in (folder / name).read_text(encoding="utf-8", errors="replace").splitlines():
                doc = document(line)
                if doc is None:
                    skipped += 1
                    continue
                out.write(json.dumps(doc, separators=(",", ":")) + "\n")
                written += 1
    print(f"wrote {written} documents to {OUT} ({skipped} lines did not parse)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
