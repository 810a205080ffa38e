"""Are the explanations faithful? A deletion test on anomalies, attention against occlusion.

Data sets: the demo data (the five bundled samples, the demo's model: weak labels, 4 classes,
W = 1) and 4-class contextual suites built from the Loghub samples in benchmarks/data/loghub as in
benchmarks/quality.py (suite seed 7, W = 2; the model is trained on the train and valid
parts and explained on the test part).

Word test, on every anomaly whose event is anomalous (sampled up to --max-anomalies, seeded):
each word of the original message (colog/core/explain/words.py) is deleted from the message
for real: the message is masked, tokenised and embedded again without it (its sentence
embedding changes too), and the event score is read. The top-1 word of a method "beats
random" when deleting it lowers the event score strictly more than deleting one other word
drawn at random (seeded). The methods:
- attention: the model's token attention, summed over each word's pieces;
- occlusion: what the enricher writes: the drop of the event score when the word's pieces
  alone are removed from the token row (no new sentence embedding: cheaper than the test).

Neighbour test, on every anomaly whose context is anomalous: each real neighbour of the window
is replaced by a message drawn at random from the same data (seeded) and embedded, and the
context score is read. Top-1 by attention (the model's context attention) and by occlusion
(the drop when the neighbour is left out of the window, what the enricher writes) against one
other neighbour drawn at random.

Cost: the occlusion rows each anomaly needs and the seconds to score them in-process (PyTorch,
this machine), per anomaly and spread over every scored document, beside the seconds to score
all documents once.

    .venv/bin/python benchmarks/explanations.py                 # demo + ctx/HPC/4 + ctx/OpenSSH/4
    .venv/bin/python benchmarks/explanations.py --sets ctx/Linux/4 --max-anomalies 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colog.app.reporting import replace_section  # noqa: E402
from colog.core.explain.occlusion import occlusion_rows  # noqa: E402
from colog.core.explain.words import message_words  # noqa: E402
from colog.core.features.embedding import SentenceEmbedder  # noqa: E402
from colog.core.model.bundle import load_model_dir  # noqa: E402
from colog.core.model.in_process import score_records  # noqa: E402
from colog.core.parsing.masking import mask_message  # noqa: E402
from colog.core.verdict import event_and_context_scores  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RAW = ROOT / "benchmarks" / "explanation_runs.json"
SECTION = "## Explanations (benchmarks/explanations.py)"
DEFAULT_SETS = ("demo", "ctx/HPC/4", "ctx/OpenSSH/4")
TARGET = 0.8
SUITE_EPOCHS = 8  # early stopping usually ends sooner (benchmarks/quality_runs.json: 3 to 15)


def _quality():
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- data and models ---------------------------------------------------------------------

def load_set(name: str, seed: int, epochs: int | None, embedder, workdir: Path):
    """(model directory, records to explain) of a data set; the model is trained once per seed
    and kept under `workdir`."""
    from colog.core.features.spec import FeatureSpec
    from colog.services.train.loop import TrainOptions
    from colog.services.train.pipeline import TrainSpec, train_from_records

    out = workdir / f"{name.replace('/', '_')}-seed{seed}"
    if name == "demo":
        from colog.app.demo import DEMO_EPOCHS, demo_records

        records = demo_records()
        train, valid, explained = records, None, records
        spec = TrainSpec(num_classes=4, options=TrainOptions(
            epochs=epochs or DEMO_EPOCHS, seed=seed, progress=False), baseline=False)
    else:
        quality = _quality()
        train, valid, explained, _ = quality.load_suite(name)
        classes, window = quality.suite_shape(name)
        spec = TrainSpec(num_classes=classes, features=FeatureSpec(window=window), baseline=False,
                         options=TrainOptions(epochs=epochs or SUITE_EPOCHS, seed=seed,
                                              progress=False))
    if not (out / "config.json").is_file():
        started = time.perf_counter()
        train_from_records(train, valid, out, spec, Console(quiet=True), embedder)
        print(f"{name}: trained seed {seed} in {time.perf_counter() - started:.0f}s", flush=True)
    return out, explained


# --- the tests ---------------------------------------------------------------------------

class Model:
    def __init__(self, model_dir: Path, embedder: SentenceEmbedder):
        self.loaded = load_model_dir(model_dir)
        self.classes = list(self.loaded.classes)
        self.embedder = embedder
        self.centre = self.loaded.features.centre

    def scores(self, tokens, sequence, mask) -> tuple[np.ndarray, np.ndarray | None]:
        out = self.loaded.predict(tokens, sequence, mask)
        return event_and_context_scores(out["probs"], self.classes)


def delete_word(message: str, start: int, end: int) -> str:
    return " ".join((message[:start] + " " + message[end:]).split())


def beats(drops: np.ndarray, top: int, rng: random.Random) -> bool | None:
    """Whether deleting `top` lowers the score more than deleting one other item at random."""
    others = [i for i in range(len(drops)) if i != top]
    if not others:
        return None
    return bool(drops[top] > drops[rng.choice(others)])


def word_test(model: Model, scored, records, rows: list[int], rng: random.Random,
              tokenizer) -> dict:
    tally = {"attention": [], "occlusion_tokens": [], "occlusion": [], "skipped": 0}
    costs = []
    for row in rows:
        record = records[row]
        words = message_words(record.message, tokenizer)
        max_tokens = scored.modalities.tokens.shape[1]
        units = words.units(max_tokens) if words is not None else []
        if len(units) < 2:
            tally["skipped"] += 1
            continue
        base_event = float(model.scores(scored.modalities.tokens[row:row + 1],
                                        scored.modalities.sequence[row:row + 1],
                                        scored.modalities.sequence_mask[row:row + 1])[0][0])
        m = scored.modalities
        # What the enricher computes (timed, embeddings uncached: the explanation's cost).
        started = time.perf_counter()
        shortened = [mask_message(words.without(w)) for w in units]
        occl = occlusion_rows(words, m.tokens[row], m.sequence[row], m.sequence_mask[row],
                              model.centre, True, False,
                              deleted_tokens=model.loaded_tokenizer.encode(shortened),
                              deleted_embeddings=model.embedder.embed(shortened))
        occl_drop = base_event - model.scores(occl.tokens, occl.sequence, occl.sequence_mask)[0]
        costs.append((time.perf_counter() - started, len(occl)))
        # The cheaper variant: the word out of the token row only, the sentence embedding kept.
        cheap = occlusion_rows(words, m.tokens[row], m.sequence[row], m.sequence_mask[row],
                               model.centre, True, False)
        cheap_drop = base_event - model.scores(cheap.tokens, cheap.sequence,
                                               cheap.sequence_mask)[0]
        attention = words.word_weights(scored.outputs["token_attention"][row], max_tokens)[units]
        # The test: delete each word from the message for real and score again.
        deleted = [mask_message(delete_word(record.message, words.words[w].start,
                                            words.words[w].end)) for w in units]
        tokens = model.loaded_tokenizer.encode(deleted)
        sequence = np.repeat(scored.modalities.sequence[row][None], len(units), axis=0)
        sequence[:, model.centre] = model.embedder.embed(deleted)
        mask = np.repeat(scored.modalities.sequence_mask[row][None], len(units), axis=0)
        true_drop = base_event - model.scores(tokens, sequence, mask)[0]
        seed_state = rng.getstate()
        for name, weights in (("attention", attention), ("occlusion_tokens", cheap_drop),
                              ("occlusion", occl_drop)):
            rng.setstate(seed_state)  # the same random word for every method
            tally[name].append(beats(true_drop, int(np.argmax(weights)), rng))
        # The enricher's rows are the test's deletions: they must agree (a check on the code).
        tally["max_difference"] = max(tally.get("max_difference", 0.0),
                                      float(np.abs(true_drop - occl_drop).max()))
        rng.random()
    return tally | {"costs": costs}


def neighbour_test(model: Model, scored, records, rows: list[int], rng: random.Random,
                   pool: list[str]) -> dict:
    tally = {"attention": [], "occlusion": [], "skipped": 0}
    costs = []
    m = scored.modalities
    for row in rows:
        columns = [c for c in range(m.sequence_mask.shape[1])
                   if c != model.centre and m.sequence_mask[row, c] > 0.5]
        if len(columns) < 2:
            tally["skipped"] += 1
            continue
        base_context = float(model.scores(m.tokens[row:row + 1], m.sequence[row:row + 1],
                                          m.sequence_mask[row:row + 1])[1][0])
        started = time.perf_counter()
        occl = occlusion_rows(None, m.tokens[row], m.sequence[row], m.sequence_mask[row],
                              model.centre, False, True)
        occl_drop = base_context - model.scores(occl.tokens, occl.sequence,
                                                occl.sequence_mask)[1]
        costs.append((time.perf_counter() - started, len(occl)))
        attention = scored.outputs["context_attention"][row][columns]
        replaced = []
        for c in columns:
            own = mask_message(records[int(m.window_index[row, c])].message)
            choice = rng.choice(pool)
            while choice == own:
                choice = rng.choice(pool)
            replaced.append(choice)
        sequence = np.repeat(m.sequence[row][None], len(columns), axis=0)
        vectors = model.embedder.embed(replaced)
        for r, c in enumerate(columns):
            sequence[r, c] = vectors[r]
        tokens = np.repeat(m.tokens[row][None], len(columns), axis=0)
        mask = np.repeat(m.sequence_mask[row][None], len(columns), axis=0)
        true_drop = base_context - model.scores(tokens, sequence, mask)[1]
        seed_state = rng.getstate()
        for name, weights in (("attention", attention), ("occlusion", occl_drop)):
            rng.setstate(seed_state)
            tally[name].append(beats(true_drop, int(np.argmax(weights)), rng))
        rng.random()
    return tally | {"costs": costs}


def share(results: list) -> tuple[float | None, int]:
    decided = [r for r in results if r is not None]
    return (sum(decided) / len(decided) if decided else None), len(decided)


def run_set(name: str, seed: int, sample_seed: int, max_anomalies: int, epochs: int | None,
            embedder, workdir: Path) -> dict:
    model_dir, records = load_set(name, seed, epochs, embedder, workdir)
    model = Model(model_dir, embedder)
    started = time.perf_counter()
    scored = score_records(model_dir, records, embedder, model.loaded)
    score_seconds = time.perf_counter() - started
    model.loaded_tokenizer = scored.tokenizer
    thresholds = model.loaded.thresholds
    event, context = event_and_context_scores(scored.outputs["probs"], model.classes)
    point_rows = np.flatnonzero(event >= thresholds.event).tolist()
    context_rows = [] if context is None else np.flatnonzero(context >= thresholds.context).tolist()
    anomalies = len(set(point_rows) | set(context_rows))
    rng = random.Random(sample_seed)
    sample = lambda rows: sorted(rng.sample(rows, min(max_anomalies, len(rows))))  # noqa: E731
    words = word_test(model, scored, records, sample(point_rows), random.Random(sample_seed),
                      scored.tokenizer)
    pool = sorted({mask_message(r.message) for r in records})
    neighbours = neighbour_test(model, scored, records, sample(context_rows),
                                random.Random(sample_seed + 1), pool) if context_rows else None
    costs = words["costs"] + (neighbours["costs"] if neighbours else [])
    per_anomaly = float(np.mean([s for s, _ in costs])) if costs else 0.0
    rows_per_anomaly = float(np.mean([n for _, n in costs])) if costs else 0.0
    cell = {"set": name, "seed": seed, "sample_seed": sample_seed, "documents": len(records),
            "anomalies": anomalies, "point_anomalies": len(point_rows),
            "context_anomalies": len(context_rows), "score_seconds": round(score_seconds, 2),
            "explain_seconds_per_anomaly": round(per_anomaly, 4),
            "occlusion_rows_per_anomaly": round(rows_per_anomaly, 1),
            # Every anomaly explained once, spread over all scored documents.
            "explain_seconds_per_document": round(per_anomaly * anomalies / len(records), 5),
            "score_seconds_per_document": round(score_seconds / len(records), 5)}
    for test, tally in (("words", words), ("neighbours", neighbours)):
        if tally is None:
            continue
        cell[test] = {"skipped": tally["skipped"]}
        for method in ("attention", "occlusion_tokens", "occlusion"):
            if method in tally:
                value, n = share(tally[method])
                cell[test][method] = {"beats_random": value, "anomalies": n}
    cell["words"]["occlusion_vs_deletion_max_difference"] = words.get("max_difference")
    return cell


# --- report ------------------------------------------------------------------------------

def _fmt(entry) -> str:
    if not entry or entry["beats_random"] is None:
        return "-"
    mark = "" if entry["beats_random"] >= TARGET else " (below target)"
    return f"{entry['beats_random']:.3f} of {entry['anomalies']}{mark}"


def render(raw: dict) -> str:
    lines = [
        f"Run {raw['started']} (commit {raw['commit']}, {raw['threads']} torch threads, "
        f"{raw['cpus']} CPUs); training seed(s) {raw['seeds']}, sampling seed "
        f"{raw['sample_seed']}, at most {raw['max_anomalies']} anomalies per test and set. "
        f"Command: `{raw['command']}`. Models trained in this run unless kept from an "
        "earlier run of the same command (`.cache/explain-bench/`).",
        "",
        "Share of anomalies whose top-1 attributed item, deleted, lowers the score strictly "
        f"more than one other item drawn at random (target >= {TARGET}). Words: deleted from "
        "the message (masked, tokenised, embedded again), event score. Neighbours: replaced "
        "by a random message of the same data, context score. `occlusion` is what the "
        "enricher writes (a word: the event featurised again without it, tokens and sentence "
        "embedding; a neighbour: left out of the window); `occlusion, token row only` keeps "
        "the sentence embedding; `attention` is the model's attention (colog.attention.*). "
        "For words, the enricher's occlusion makes the very deletions of the test, so its "
        "share falls short of 1 only where two words tie (typically both change nothing, "
        "e.g. a message the template memory decides); the test then checks the code path "
        "(its rows must give the test's scores: largest difference "
        + ", ".join(f"{c['set']} {c['words'].get('occlusion_vs_deletion_max_difference') or 0:.1e}"
                    for c in raw["cells"] if "words" in c) + ").",
        "",
        "| set | seed | documents | anomalies (point / context) | words: attention | "
        "words: occlusion, token row only | words: occlusion | neighbours: attention | "
        "neighbours: occlusion |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in raw["cells"]:
        w, n = cell.get("words", {}), cell.get("neighbours", {})
        lines.append(
            f"| {cell['set']} | {cell['seed']} | {cell['documents']} | {cell['anomalies']} "
            f"({cell['point_anomalies']} / {cell['context_anomalies']}) | "
            f"{_fmt(w.get('attention'))} | {_fmt(w.get('occlusion_tokens'))} | "
            f"{_fmt(w.get('occlusion'))} | "
            f"{_fmt(n.get('attention'))} | {_fmt(n.get('occlusion'))} |")
    lines += ["", "Cost of occlusion per sampled anomaly, in-process (PyTorch model, MiniLM "
              "for the shortened messages through an in-memory embedding cache shared by the "
              "run, as the worker's embedding cache is; the enricher sends the same rows to "
              "Triton in one call per job, for anomalies only). Per document: the seconds per "
              "anomaly times the anomalies, over all documents, beside the seconds to score "
              "every document once (features included):", "",
              "| set | rows per anomaly | seconds per anomaly | explanation seconds per "
              "document | scoring seconds per document (all documents, once) |",
              "|---|---|---|---|---|"]
    for cell in raw["cells"]:
        lines.append(f"| {cell['set']} | {cell['occlusion_rows_per_anomaly']} | "
                     f"{cell['explain_seconds_per_anomaly']:.4f} | "
                     f"{cell['explain_seconds_per_document']:.5f} | "
                     f"{cell['score_seconds_per_document']:.5f} |")
    lines += ["", "Anomalies with fewer than two words the model reads (or fewer than two real "
              "neighbours) cannot be compared with another item and are left out of the "
              "shares (`skipped` in benchmarks/explanation_runs.json)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--sample-seed", type=int, default=7)
    parser.add_argument("--max-anomalies", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the demo's; SUITE_EPOCHS for suites)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "explain-bench")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import os
    import subprocess

    torch.manual_seed(0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    raw = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
           "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "seeds": args.seeds,
           "sample_seed": args.sample_seed, "max_anomalies": args.max_anomalies,
           "command": "benchmarks/explanations.py " + " ".join(sys.argv[1:]), "cells": []}
    embedder = SentenceEmbedder()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        for seed in args.seeds:
            cell = run_set(name, seed, args.sample_seed, args.max_anomalies, args.epochs,
                           embedder, args.workdir)
            print(json.dumps(cell), flush=True)
            raw["cells"].append(cell)
    print(render(raw))
    if not args.no_write:
        RAW.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
        replace_section(RESULTS, SECTION, render(raw))


if __name__ == "__main__":
    main()
