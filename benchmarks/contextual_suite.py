#!/usr/bin/env python3
"""Build a contextual anomaly suite from any Loghub `*_structured.csv`.

The same message is normal or anomalous depending on its neighbour, like a restart that is
benign only right after a maintenance notice. No single line reveals its label, so a model
that reads one line at a time is capped well below 1.0, while one that combines the event with
its neighbour can reach it. Bag-of-words models on the window cannot express the interaction.

How it is made: K "trigger" messages and K "justifying" messages are drawn from the sample's
distinct message shapes (tokens with digits or paths masked); every message of another shape
fills the streams, so no filler shares its masked form with a trigger or a justifier. A trigger
right after (or, with --after, right before) its own justifier is normal; a trigger anywhere
else is anomalous; a lone justifier is normal. Each part (train, valid, test) has its own
streams; records follow the project's JSONL record shape (`@timestamp`, `message`, `stream`,
`label`), ordered by time within each stream.

    benchmarks/contextual_suite.py benchmarks/data/loghub/HPC_2k.log_structured.csv OUT_DIR [--seed 7]

Writes OUT_DIR/train.jsonl, valid.jsonl, test.jsonl and prints their sizes and anomaly counts.
Vary --seed and the sample to see how a model does on messages it has not been tuned on.
"""
import argparse
import csv
import datetime
import json
import os
import random
import re
import sys


def shape(message):
    """A crude variable mask: messages of one shape are one message to a parser that masks."""
    return " ".join("<*>" if re.search(r"[0-9/\\]", tok) else tok for tok in message.split())


def build(contents, seed, triggers, after, sizes, streams):
    rnd = random.Random(seed)
    distinct = sorted(set(contents))
    shapes = sorted({shape(m) for m in distinct})
    if len(shapes) < 2 * triggers + 20:
        sys.exit(f"only {len(shapes)} message shapes: need at least {2 * triggers + 20}")
    rnd.shuffle(shapes)
    chosen = set(shapes[:2 * triggers])
    first = {}
    for m in distinct:
        first.setdefault(shape(m), m)
    trig = [first[s] for s in shapes[:triggers]]
    just = [first[s] for s in shapes[triggers:2 * triggers]]
    # Fillers keep every variant of the other shapes, but none shares a shape (a masked form)
    # with a trigger or a justifier.
    pool = [m for m in distinct if shape(m) not in chosen]

    def stream(n, name, t0):
        recs, i = [], 0
        while len(recs) < n:
            r = rnd.random()
            k = rnd.randrange(triggers)
            if r < 0.06:    # justified trigger
                pair = [(just[k], "normal"), (trig[k], "normal")]
                seq = pair[::-1] if after else pair
            elif r < 0.12:  # unjustified trigger
                seq = [(rnd.choice(pool), "normal"), (trig[k], "anomaly")]
                seq = seq[::-1] if after else seq
            elif r < 0.16:  # a lone justifier is normal too
                seq = [(just[k], "normal")]
            else:
                seq = [(rnd.choice(pool), "normal")]
            for message, label in seq:
                ts = (t0 + datetime.timedelta(seconds=i)).isoformat() + "Z"
                i += 1
                recs.append({"@timestamp": ts, "message": message, "stream": name, "label": label})
        return recs

    t0 = datetime.datetime(2026, 1, 1)
    parts = {}
    for part, n in sizes.items():
        recs = []
        for s in range(streams):
            recs += stream(n // streams, f"{part}-s{s}", t0 + datetime.timedelta(days=s))
        parts[part] = recs
    return parts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("structured_csv")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--triggers", type=int, default=6)
    ap.add_argument("--after", action="store_true",
                    help="the justifier follows the trigger (needs context mode, not background)")
    ap.add_argument("--streams", type=int, default=4)
    args = ap.parse_args()
    with open(args.structured_csv, newline="", encoding="utf-8", errors="replace") as f:
        contents = [row["Content"] for row in csv.DictReader(f) if row.get("Content")]
    parts = build(contents, args.seed, args.triggers, args.after,
                  {"train": 4000, "valid": 1000, "test": 1500}, args.streams)
    os.makedirs(args.out_dir, exist_ok=True)
    for part, recs in parts.items():
        with open(os.path.join(args.out_dir, part + ".jsonl"), "w", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec) + "\n")
        print(part, len(recs), "events,", sum(r["label"] == "anomaly" for r in recs), "anomalous")


if __name__ == "__main__":
    main()
