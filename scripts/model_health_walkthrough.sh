#!/usr/bin/env bash
# The walk-through of docs/model-health.md, on the stack and index that `make demo` leaves:
# drift of the demo's streams, then a change in one stream (the sshd host starts logging Linux
# syslog messages after its last event), then a candidate trained from the labels in shadow,
# its report, and its promotion through the gate. Run after `make demo`; it changes logs-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export COLOG_INDEX_PATTERN=logs-demo
colog=.venv/bin/colog
work=.cache/walkthrough  # fixed paths: ids are a hash of the file, so a rerun adds nothing
mkdir -p "$work"
linux=${LINUX_SAMPLE:-benchmarks/data/loghub/Linux_2k.log}

run() { echo; echo "\$ colog $*"; "$colog" "$@"; }

run drift
echo; echo "# 600 Linux syslog lines arrive in the OpenSSH stream, after its last event"
"$colog" convert --format Linux "$linux" > "$work/linux.jsonl"
.venv/bin/python -c '
import json, sys
from datetime import datetime, timedelta, timezone
start = datetime(2000, 12, 10, 11, 5, tzinfo=timezone.utc)  # the stream ends at 11:04:45
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[1000:1600]  # past its sshd part
for n, line in enumerate(lines):
    row = json.loads(line)
    print(json.dumps({"@timestamp": (start + timedelta(seconds=3 * n)).isoformat(),
                      "message": row["message"], "host": "LabSZ", "stream": "OpenSSH_2k.log"}))
' "$work/linux.jsonl" > "$work/changed.jsonl"
run ingest "$work/changed.jsonl" --index logs-demo
run enrich
run drift --record

echo; echo "# a candidate from the analysts' labels, scored in shadow on the OpenSSH stream"
rm -rf "$work/candidate"
set +e  # exit 4: the gate would refuse it as a release; it is written all the same
run train --from-opensearch --no-publish --out "$work/candidate" --epochs 2
echo "(exit $?)"
set -e
run shadow start "$work/candidate"
run reenrich --query 'colog.stream:"LabSZ|OpenSSH_2k.log"' --index logs-demo --yes
run enrich
run shadow report --top 5
set +e  # exit 1: the gate refused, the candidate stays in shadow
run shadow promote
echo "(exit $?)"
set -e
run shadow status
run models
