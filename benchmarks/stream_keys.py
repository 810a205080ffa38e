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

With --train, every key also gets trained models, as a user on that key would train them: the
shipped events become records (`stream` = the key's stream, `@timestamp` = the interleaved
order on their host), and quality.py's protocol runs on each key's own train/valid/test split:
CoLog (2 classes, W = 1, the default variant) and the window baselines are fitted on train,
take their thresholds on valid and are scored on test. --train-size (and --test-size) shrink
every part of every suite in proportion when a full run would take too long.

    benchmarks/stream_keys.py [--seeds 7 11 13] [--samples HPC OpenSSH Linux]
    benchmarks/stream_keys.py --train [--train-seed 1] [--baselines tfidf_lr_window mlp_window]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import os
import random
import sys
import tempfile
import time
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
PARTS = ("train", "valid", "test")
SIZES = {"train": 4000, "valid": 1000, "test": 1500}  # per suite (program), over 4 hosts


def suite(sample: str, seed: int, sizes: dict[str, int] = SIZES) -> dict[str, list[dict]]:
    spec = importlib.util.spec_from_file_location("contextual_suite", SUITE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (LOGHUB / f"{sample}_2k.log_structured.csv").open(encoding="utf-8", errors="replace",
                                                           newline="") as handle:
        contents = [row["Content"] for row in csv.DictReader(handle) if row.get("Content")]
    return module.build(contents, seed, 6, False, sizes, 4)


def shipped(samples: list[str], seed: int, part: str,
            sizes: dict[str, int] = SIZES) -> list[dict]:
    """Per host, the programs' sequences merged in a seeded random interleaving; each event's
    `@timestamp` is its place in that interleaving (one second apart, one day per host)."""
    suites = {s: suite(s, seed, sizes) for s in samples}
    rnd = random.Random(seed)
    events = []
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for host in range(4):
        queues = {s: [r for r in suites[s][part] if r["stream"].endswith(f"-s{host}")]
                  for s in samples}
        tick = 0
        while any(queues.values()):
            program = rnd.choice([s for s in samples if queues[s]])
            row = queues[program].pop(0)
            stamp = start + datetime.timedelta(days=host, seconds=tick)
            tick += 1
            events.append({"@timestamp": stamp.isoformat().replace("+00:00", "Z"),
                           "host.name": f"host-{host}", "process.name": program,
                           "message": f"{program}: {row['message']}", "label": row["label"]})
    return events


def stream_key(event: dict, settings: Settings) -> str:
    """The key the engine gives this shipped document under `settings`."""
    return stream_of_hit({"_index": "logs-syslog-default", "_source": event},
                         settings.stream_fields, settings.stream_fallback_fields).key


def streams(events: list[dict], settings: Settings) -> dict[str, list[dict]]:
    by_key = defaultdict(list)
    for event in events:
        by_key[stream_key(event, settings)].append(event)
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


def run(samples: list[str], seed: int, sizes: dict[str, int] = SIZES) -> list[dict]:
    train, test = shipped(samples, seed, "train", sizes), shipped(samples, seed, "test", sizes)
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


# --- trained models (--train) ---------------------------------------------------------------

def _quality():
    """benchmarks/quality.py as a module (it needs torch, which the rule-only mode does not)."""
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def records(events: list[dict], settings: Settings) -> list:
    """The shipped events as training/scoring records, each in its stream under `settings`."""
    from colog.core.records import order_by_stream_time, record_from_dict

    return order_by_stream_time([
        record_from_dict({"@timestamp": e["@timestamp"], "message": e["message"],
                          "stream": stream_key(e, settings), "label": e["label"]}, line)
        for line, e in enumerate(events, start=1)])


def train_key(quality, parts, baselines: list[str], seed: int, epochs: int, embedder, tokenizer,
              workdir: Path) -> dict:
    """CoLog and the baselines fitted, thresholded and scored on one key's split, as
    quality.py does for a 2-class W=1 contextual suite."""
    datasets = quality.baseline_datasets(parts, 2, 1, tokenizer, embedder)
    targets = datasets[2].targets
    out = {}
    for name in baselines:
        predicted, seconds = quality.run_baseline(name, datasets, 1, seed)
        out[name] = {**quality.figures(targets, predicted, 2, None), "seconds": seconds}
        print(f"  {name}: {out[name]}", flush=True)
    truth, predicted, seconds, info = quality.run_colog(parts, 2, 1, seed, "full", epochs,
                                                        embedder, workdir)
    assert (truth == targets).all(), "CoLog and the baselines scored other labels"
    out["colog"] = {**quality.figures(targets, predicted, 2, None), "seconds": seconds, **info}
    print(f"  colog: {out['colog']}", flush=True)
    return out


def run_trained(samples: list[str], seed: int, sizes: dict[str, int], keys: list[str],
                baselines: list[str], train_seed: int, epochs: int, quality, embedder, tokenizer,
                workdir: Path) -> list[dict]:
    """The rule table's rows for one suite seed, with each key's trained models beside them."""
    events = {part: shipped(samples, seed, part, sizes) for part in PARTS}
    rows = [row for row in run(samples, seed, sizes) if row["key"] in keys]
    for row in rows:
        settings = KEYS[row["key"]]
        parts = (*(records(events[part], settings) for part in PARTS), None)
        print(f"seed {seed}, key {row['key']}: "
              + ", ".join(f"{p} {len(r)}" for p, r in zip(PARTS, parts)), flush=True)
        row["models"] = train_key(quality, parts, baselines, train_seed, epochs, embedder,
                                  tokenizer, workdir / f"seed{seed}-{row['key']}")
    return rows


def scaled_sizes(train: int | None, test: int | None) -> dict[str, int]:
    """SIZES with train (and valid, in proportion) and test set per suite, in multiples of the
    4 hosts."""
    sizes = dict(SIZES)
    if train:
        sizes["valid"] = SIZES["valid"] * train // SIZES["train"] // 4 * 4
        sizes["train"] = train // 4 * 4
    if test:
        sizes["test"] = test // 4 * 4
    return sizes


def main_trained(args) -> None:
    quality = _quality()
    import torch

    torch.set_num_threads(args.threads)
    sizes = scaled_sizes(args.train_size, args.test_size)
    embedder = quality.make_embedder("fp32", args.threads)
    from colog.core.features.semantic import SemanticTokenizer

    tokenizer = SemanticTokenizer()
    print(f"programs on each of 4 hosts: {', '.join(args.samples)}; per program: "
          + ", ".join(f"{p} {n}" for p, n in sizes.items())
          + f"; training seed {args.train_seed}, up to {args.epochs} epochs, "
          f"{args.threads} torch thread(s)", flush=True)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="colog-stream-keys-") as tmp:
        for seed in args.seeds:
            rows += run_trained(args.samples, seed, sizes, args.keys, args.baselines,
                                args.train_seed, args.epochs, quality, embedder, tokenizer,
                                Path(tmp))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    columns = ["seed", "key", "test streams", "test events (anomalies)", "context rule macro-F1",
               "message only macro-F1", "same-program neighbours",
               *(f"{m} macro-F1 (errors)" for m in ["CoLog", *args.baselines]),
               "CoLog fit s (best epoch)"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        models = row["models"]
        fitted = " | ".join(f"{models[m]['all']:.3f} ({models[m]['errors']})"
                            for m in ["colog", *args.baselines])
        print(f"| {row['seed']} | {row['key']} | {row['streams']} | {row['events']} "
              f"({row['anomalies']}) | {row['context_rule']:.3f} | {row['message_only']:.3f} "
              f"| {row['same_program']:.1%} | {fitted} | {models['colog']['seconds']:.0f} "
              f"({models['colog']['best_epoch']}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--samples", nargs="+", default=["HPC", "OpenSSH", "Linux"])
    parser.add_argument("--train", action="store_true",
                        help="also train CoLog and the baselines on each key's streams")
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--keys", nargs="+", default=list(KEYS), choices=list(KEYS))
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainOptions'")
    parser.add_argument("--baselines", nargs="*", default=["tfidf_lr_window", "mlp_window"])
    parser.add_argument("--train-size", type=int, default=None,
                        help=f"training events per program (default {SIZES['train']}); "
                             "validation shrinks in proportion")
    parser.add_argument("--test-size", type=int, default=None,
                        help=f"test events per program (default {SIZES['test']})")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.train:
        if args.epochs is None:
            from colog.services.train.loop import TrainOptions

            args.epochs = TrainOptions().epochs
        main_trained(args)
        return
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
