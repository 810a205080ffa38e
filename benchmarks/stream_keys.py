"""The stream key on shipped syslog: one host, several programs interleaved.

Contextual suites (benchmarks/contextual_suite.py, as benchmarks/quality.py builds them) of
several Loghub samples play the programs of one host: each suite's stream s is program P's
sequence on host s. The programs' events are interleaved in time (seeded), shipped as rsyslog
documents would be (`host.name`, `process.name`, no `log.file.path`), and the stream key is
computed by colog/core/engine/streams.py with the old default (`host.name` + `log.file.path`:
every program of a host in one stream) and the new one (`host.name` + first present of the ECS
source fields: one stream per program).

Scored without training a network, on the test split, per key:
- `context rule`: the best any reader of the previous event can do, learnt on train: a trigger
  is normal iff the event before it in its stream is the trigger's own justifier;
- `message only`: each message's majority label on train (no context at all);
- `same-program neighbours`: share of test events whose previous and next events in their
  stream are of the same program (what the W=1 context window reads).

    benchmarks/stream_keys.py [--seeds 7 11 13] [--samples HPC OpenSSH Linux]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colog.core.engine.streams import stream_of_hit  # noqa: E402
from colog.core.settings import Settings  # noqa: E402

LOGHUB = Path(os.environ.get("COLOG_LOGHUB_DIR") or ROOT / "benchmarks" / "data" / "loghub")
SUITE_SCRIPT = ROOT / "benchmarks" / "contextual_suite.py"
KEYS = {"old": Settings(stream_fields="host.name,log.file.path", stream_fallback_fields=""),
        "new": Settings()}


def suite(sample: str, seed: int) -> dict[str, list[dict]]:
    spec = importlib.util.spec_from_file_location("contextual_suite", SUITE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (LOGHUB / f"{sample}_2k.log_structured.csv").open(encoding="utf-8", errors="replace",
                                                           newline="") as handle:
        contents = [row["Content"] for row in csv.DictReader(handle) if row.get("Content")]
    return module.build(contents, seed, 6, False, {"train": 4000, "valid": 1000, "test": 1500}, 4)


def shipped(samples: list[str], seed: int, part: str) -> list[dict]:
    """Per host, the programs' sequences merged in a seeded random interleaving."""
    suites = {s: suite(s, seed) for s in samples}
    rnd = random.Random(seed)
    events = []
    for host in range(4):
        queues = {s: [r for r in suites[s][part] if r["stream"].endswith(f"-s{host}")]
                  for s in samples}
        while any(queues.values()):
            program = rnd.choice([s for s in samples if queues[s]])
            row = queues[program].pop(0)
            events.append({"host.name": f"host-{host}", "process.name": program,
                           "message": f"{program}: {row['message']}", "label": row["label"]})
    return events


def streams(events: list[dict], settings: Settings) -> dict[str, list[dict]]:
    by_key = defaultdict(list)
    for event in events:
        ref = stream_of_hit({"_index": "logs-syslog-default", "_source": event},
                            settings.stream_fields, settings.stream_fallback_fields)
        by_key[ref.key].append(event)
    return by_key


def previous_pairs(by_key: dict[str, list[dict]]):
    for seq in by_key.values():
        for i, event in enumerate(seq):
            yield (seq[i - 1] if i else None), event, (seq[i + 1] if i + 1 < len(seq) else None)


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    scores = []
    for label in ("anomaly", "normal"):
        tp = sum(t == p == label for t, p in zip(truth, predicted))
        fp = sum(p == label != t for t, p in zip(truth, predicted))
        fn = sum(t == label != p for t, p in zip(truth, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


def run(samples: list[str], seed: int) -> list[dict]:
    train, test = shipped(samples, seed, "train"), shipped(samples, seed, "test")
    triggers = {e["message"] for e in train if e["label"] == "anomaly"}
    majority = {m: c.most_common(1)[0][0] for m, c in _labels(train).items()}
    rows = []
    for name, settings in KEYS.items():
        # The justifier of each trigger, read from train's streams under this key.
        before = defaultdict(Counter)
        for prev, event, _ in previous_pairs(streams(train, settings)):
            if event["message"] in triggers and event["label"] == "normal" and prev:
                before[event["message"]][prev["message"]] += 1
        justifier = {m: c.most_common(1)[0][0] for m, c in before.items()}
        truth, rule, alone, same = [], [], [], 0
        test_streams = streams(test, settings)
        for prev, event, nxt in previous_pairs(test_streams):
            truth.append(event["label"])
            if event["message"] in triggers:
                ok = prev is not None and justifier.get(event["message"]) == prev["message"]
                rule.append("normal" if ok else "anomaly")
            else:
                rule.append("normal")
            alone.append(majority.get(event["message"], "normal"))
            same += all(n is None or n["process.name"] == event["process.name"]
                        for n in (prev, nxt))
        rows.append({"seed": seed, "key": name, "streams": len(test_streams),
                     "events": len(truth), "anomalies": truth.count("anomaly"),
                     "context_rule": macro_f1(truth, rule), "message_only": macro_f1(truth, alone),
                     "same_program": same / len(truth)})
    return rows


def _labels(events: list[dict]) -> dict[str, Counter]:
    found = defaultdict(Counter)
    for event in events:
        found[event["message"]][event["label"]] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--samples", nargs="+", default=["HPC", "OpenSSH", "Linux"])
    args = parser.parse_args()
    print(f"programs on each of 4 hosts: {', '.join(args.samples)}")
    print("| seed | key | test streams | test events (anomalies) | context rule macro-F1 | "
          "message only macro-F1 | same-program neighbours |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for row in run(args.samples, seed):
            print(f"| {row['seed']} | {row['key']} | {row['streams']} | {row['events']} "
                  f"({row['anomalies']}) | {row['context_rule']:.3f} | {row['message_only']:.3f} "
                  f"| {row['same_program']:.1%} |")


if __name__ == "__main__":
    main()
