"""Detection quality on Loghub samples: the full CoLog model, each ablation, and a baseline.

Labels come from the log level (WARN/WARNING/ERROR/FATAL and Android's W/E/F -> anomaly); the
model sees only the message content, which never holds the level. Per dataset: a 60/20/20
chronological split (train/validation/test), 2-class and 4-class heads, macro F1 on the test
slice for the full model, the ablations of the paper's Table 17 and TF-IDF + logistic
regression, all in one run with one seed. Then a cross-dataset check: train on Hadoop and
Zookeeper, test on samples never seen in training.

    .venv/bin/python benchmarks/quality.py [--epochs 12] [--datasets Hadoop Zookeeper]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from colog.features.embedding import SentenceEmbedder  # noqa: E402
from colog.features.semantic import SemanticTokenizer  # noqa: E402
from colog.model.config import ABLATIONS  # noqa: E402
from colog.parsing.masking import mask_message  # noqa: E402
from colog.records import LogRecord, order_by_stream_time  # noqa: E402
from colog.reporting import replace_section  # noqa: E402
from trainer.dataset import build_dataset  # noqa: E402
from trainer.loop import TrainOptions  # noqa: E402
from trainer.pipeline import TrainSpec, evaluate_records, train_from_records  # noqa: E402

LOGHUB = ROOT.parent / "shared" / "datasets" / "loghub"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Model quality (benchmarks/quality.py)"
ANOMALOUS = {"WARN", "WARNING", "ERROR", "FATAL", "W", "E", "F"}
UNSEEN = ("HDFS", "OpenStack", "Android")  # cross-dataset test samples


def read_sample(name: str) -> list[LogRecord]:
    """Records of a Loghub `*_structured.csv`, labelled by level, one stream per sample.

    Hadoop and Zookeeper carry full dates and are ordered by time; the other samples' headers
    lack a year or use other formats, so they keep file order (they are only ever test data).
    """
    path = LOGHUB / f"{name}_2k.log_structured.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    records = []
    for i, row in enumerate(rows):
        try:
            stamp = datetime.strptime(f"{row['Date']} {row['Time']}", "%Y-%m-%d %H:%M:%S,%f")
            stamp = stamp.replace(tzinfo=timezone.utc)
        except (KeyError, ValueError):
            stamp = start + timedelta(milliseconds=i)
        level = (row.get("Level") or "").strip().upper()
        label = "anomaly" if level in ANOMALOUS else "normal"
        records.append(LogRecord(stamp, row["Content"], name, None, label, None, i + 1))
    return order_by_stream_time(records)


def split_60_20_20(records: list[LogRecord]):
    order = sorted(range(len(records)), key=lambda i: (records[i].timestamp, i))
    a, b = round(0.6 * len(order)), round(0.8 * len(order))
    pick = lambda idx: [records[i] for i in sorted(idx)]  # noqa: E731
    return pick(order[:a]), pick(order[a:b]), pick(order[b:])


class TfidfBaseline:
    """TF-IDF of the masked message, plus (for 4 classes) TF-IDF of the window's other events,
    then a class-balanced logistic regression: the plain baseline the issue asks for."""

    def __init__(self, with_window: bool):
        self.with_window = with_window
        self.event = TfidfVectorizer(token_pattern=r"[A-Za-z_]{2,}", sublinear_tf=True)
        self.window = TfidfVectorizer(token_pattern=r"[A-Za-z_]{2,}", sublinear_tf=True)
        self.clf = LogisticRegression(max_iter=2000, class_weight="balanced")

    @staticmethod
    def _texts(data):
        masked = [mask_message(m) for m in data.messages]
        neighbours = []
        # window_index points into the dataset's own rows; the event itself is skipped.
        for i, row in enumerate(data.modalities.window_index):
            neighbours.append(" ".join(masked[j] for j in row if j >= 0 and j != i))
        return masked, neighbours

    def _features(self, data, fit: bool):
        masked, neighbours = self._texts(data)
        if fit:
            x = self.event.fit_transform(masked)
            return hstack([x, self.window.fit_transform(neighbours)]) if self.with_window else x
        x = self.event.transform(masked)
        return hstack([x, self.window.transform(neighbours)]) if self.with_window else x

    def fit(self, data) -> "TfidfBaseline":
        self.clf.fit(self._features(data, fit=True), data.targets)
        return self

    def macro_f1(self, data) -> float:
        predicted = self.clf.predict(self._features(data, fit=False))
        labels = list(range(len(data.classes)))
        return float(f1_score(data.targets, predicted, labels=labels, average="macro",
                              zero_division=0))


def run_colog(train, valid, test, classes: int, overrides: dict, options: TrainOptions,
              embedder: SentenceEmbedder, workdir: Path, tag: str) -> dict:
    spec = TrainSpec(num_classes=classes, model_overrides=overrides, options=options)
    started = time.perf_counter()
    outcome = train_from_records(train, valid, workdir / tag, spec, Console(quiet=True),
                                 embedder)
    report = evaluate_records(workdir / tag, test, embedder)
    row = {"macro_f1": report["macro_f1"], "accuracy": report["accuracy"],
           "best_epoch": outcome.best_epoch,
           "seconds": round(time.perf_counter() - started, 1),
           "tomek_removed": outcome.balance.removed}
    for view in ("point", "collective"):
        if view in report:
            row[f"{view}_macro_f1"] = report[view]["macro_f1"]
    return row


def class_counts(data) -> str:
    counts = np.bincount(data.targets, minlength=len(data.classes))
    return ", ".join(f"{c} {n}" for c, n in zip(data.classes, counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["Hadoop", "Zookeeper"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--variants", nargs="+", default=list(ABLATIONS))
    parser.add_argument("--classes", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--ablation-datasets", nargs="+", default=None,
                        help="run the ablations only on these samples (default: all); the "
                        "others get the full model and the baseline")
    parser.add_argument("--ablation-classes", nargs="+", type=int, default=None)
    parser.add_argument("--no-cross", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    options = TrainOptions(epochs=args.epochs, warmup_epochs=1, patience=3, progress=False)
    embedder = SentenceEmbedder()
    tokenizer = SemanticTokenizer()
    results: dict = {"in_dataset": {}, "cross": {}, "splits": {}, "epochs": args.epochs}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="colog-quality-") as tmp:
        workdir = Path(tmp)
        for name in args.datasets:
            train, valid, test = split_60_20_20(read_sample(name))
            for classes in args.classes:
                build = dict(num_classes=classes, window=1, mode="context")
                train_data = build_dataset(train, tokenizer, embedder, **build)
                test_data = build_dataset(test, tokenizer, embedder, **build)
                key = f"{name}/{classes}"
                results["splits"][key] = {"train": class_counts(train_data),
                                          "test": class_counts(test_data)}
                rows = {"tfidf_lr": {"macro_f1": TfidfBaseline(classes == 4).fit(train_data)
                                     .macro_f1(test_data)}}
                print(key, "tfidf_lr", rows["tfidf_lr"], flush=True)
                ablate = ((args.ablation_datasets is None or name in args.ablation_datasets)
                          and (args.ablation_classes is None
                               or classes in args.ablation_classes))
                for variant in args.variants if ablate else ["full"]:
                    rows[variant] = run_colog(train, valid, test, classes, ABLATIONS[variant],
                                              options, embedder, workdir,
                                              f"{name}-{classes}-{variant}")
                    print(key, variant, rows[variant], flush=True)
                results["in_dataset"][key] = rows
                if not args.no_write:  # partial results survive a timeout
                    results["seconds"] = round(time.perf_counter() - started)
                    replace_section(RESULTS, SECTION, render(results, args, partial=True))
        if not args.no_cross:
            train, valid = [], []
            for name in args.datasets:
                a, b, c = split_60_20_20(read_sample(name))
                train += a + b  # all but the last 20% of each seen sample
                valid += c
            model_dir = workdir / "cross"
            spec = TrainSpec(num_classes=2, options=options)
            train_from_records(order_by_stream_time(train), order_by_stream_time(valid),
                               model_dir, spec, Console(quiet=True), embedder)
            build = dict(num_classes=2, window=1, mode="context")
            baseline = TfidfBaseline(False).fit(build_dataset(order_by_stream_time(train),
                                                              tokenizer, embedder, **build))
            for name in UNSEEN:
                test = read_sample(name)
                report = evaluate_records(model_dir, test, embedder)
                test_data = build_dataset(test, tokenizer, embedder, **build)
                anomaly = report["per_class"]["anomaly"]
                results["cross"][name] = {"colog": report["macro_f1"],
                                          "tfidf_lr": baseline.macro_f1(test_data),
                                          "counts": class_counts(test_data),
                                          "anomaly_recall": anomaly["recall"],
                                          "anomaly_precision": anomaly["precision"]}
                print("cross", name, results["cross"][name], flush=True)
    results["seconds"] = round(time.perf_counter() - started)
    print(json.dumps(results, indent=1))
    text = render(results, args)
    print(text)
    if not args.no_write:
        replace_section(RESULTS, SECTION, text)
        print(f"wrote the section to {RESULTS}")


def render(results: dict, args, partial: bool = False) -> str:
    variants = ["tfidf_lr"] + list(args.variants)
    out = ["**Partial: the run was still going (or was cut off) when this was written.**", ""
           ] if partial else []
    out += [
        f"One run, seed 42, on this machine's CPU ({os.cpu_count()} cores, shared), "
        f"{results['seconds']} s in all. Loghub 2k samples, labels from the log level "
        "(WARN/ERROR/FATAL = anomaly; the level is not in the message the model sees), "
        "60/20/20 chronological split, window W = 1 (context), Tomek links on, default CPU "
        f"model (hidden 128, projection 512), up to {results['epochs']} epochs (warm-up 1, "
        "early stopping after 3 epochs without a better validation macro F1; fewer epochs "
        "than the paper's 20 so the run fits a shared 2-core CPU). Test-slice "
        "macro F1 (accuracy in brackets for CoLog); for 4 classes also the point (event) and "
        "collective (context) views' macro F1. A test slice that lacks a class caps macro F1 "
        "(the absent class scores 0): see the class counts below.",
        "",
        "| dataset / classes | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for key, rows in results["in_dataset"].items():
        cells = []
        for v in variants:
            r = rows.get(v)
            if r is None:
                cells.append("—")
                continue
            cell = f"{r['macro_f1']:.3f}"
            if "accuracy" in r:
                cell += f" [acc {r['accuracy']:.3f}]"
            if "point_macro_f1" in r:
                cell += f" (pt {r['point_macro_f1']:.3f}, coll {r['collective_macro_f1']:.3f})"
            cells.append(cell)
        out.append(f"| {key} | " + " | ".join(cells) + " |")
    out += ["", "Class counts (train / test): " + "; ".join(
        f"{k}: {v['train']} / {v['test']}" for k, v in results["splits"].items())]
    if results["cross"]:
        out += ["", "Cross-dataset (2 classes): trained on " + " + ".join(args.datasets)
                + " (first 80% of each; last 20% for early stopping), tested on whole samples "
                "never seen in training:", "",
                "| unseen sample | classes (test) | CoLog macro F1 | anomaly precision / recall "
                "| TF-IDF + LR macro F1 |", "|---|---|---|---|---|"]
        for name, r in results["cross"].items():
            out.append(f"| {name} | {r['counts']} | {r['colog']:.3f} | "
                       f"{r['anomaly_precision']:.3f} / {r['anomaly_recall']:.3f} | "
                       f"{r['tfidf_lr']:.3f} |")
    out += ["", "The paper reports a mean macro F1 of 99.61% over seven datasets with expert "
            "labels; these are level-based labels on 2k-line samples, one seed, so small test "
            "slices (400 events) make single figures move by several points between runs."]
    return "\n".join(out)


if __name__ == "__main__":
    main()
