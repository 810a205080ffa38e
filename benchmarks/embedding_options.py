"""Embedding cost that does not grow with distinct messages: speed and fidelity of the options
(issue 23). Quality of each option is measured by benchmarks/quality.py --embedder.

1. static int8 MiniLM (ONNX Runtime QDQ, MatMul only, per-channel weights) calibrated on masked
   messages of Loghub samples that `colog bench` and the demo do not use; its cosine against
   the fp32 export on the held-out messages (the demo's five samples and the syslog sample),
   and milliseconds per message of both on the same messages, same threads;
2. templates rather than messages for the neighbours: how many embeddings a first pass needs
   (distinct masked messages vs distinct Drain templates) on the bench's data sets.

    .venv/bin/python benchmarks/embedding_options.py [--threads 2] [--write]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colog.app.reporting import RESULTS, replace_section  # noqa: E402
from colog.core.parsing.masking import mask_message  # noqa: E402

LOGHUB = ROOT / "benchmarks" / "data" / "loghub"
CALIBRATION_SAMPLES = ("Android", "HPC", "HealthApp", "Mac", "OpenStack", "Proxifier",
                       "Spark", "Thunderbird", "Windows")
SECTION = "## Embedding options (benchmarks/embedding_options.py)"
INT8 = ROOT / ".cache" / "onnx-int8" / "sentence-int8.onnx"


def sample_messages(name: str) -> list[str]:
    """Masked messages of a Loghub sample (its structured CSV's Content column)."""
    import csv

    path = LOGHUB / f"{name}_2k.log_structured.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [mask_message(row["Content"]) for row in csv.DictReader(handle)]


def held_out_messages() -> list[str]:
    from colog.app.bench import demo_documents, syslog_documents

    return [mask_message(d["message"]) for d in demo_documents()] + \
        [mask_message(d["message"]) for d in syslog_documents()]


def ms_per_message(encode, texts: list[str], repeats: int = 2) -> float:
    encode(texts[:32])  # first call: allocations
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        encode(texts)
        best = min(best, time.perf_counter() - started)
    return 1000 * best / len(texts)


def distinct_counts() -> list[tuple[str, int, int, int]]:
    """(data set, documents, distinct masked messages, distinct Drain templates)."""
    from colog.app.bench import demo_documents, synthetic_documents, syslog_documents
    from colog.core.parsing.drain import TemplateParser

    rows = []
    for name, docs in (("demo data", demo_documents()), ("real syslog", syslog_documents()),
                       ("synthetic 100000", synthetic_documents(100_000))):
        parser = TemplateParser()
        masked, templates, n = set(), set(), 0
        for doc in docs:
            n += 1
            masked.add(mask_message(doc["message"]))
            templates.add(parser.add(doc["message"])[0])
        rows.append((name, n, len(masked), len(templates)))
    return rows


def main() -> None:
    from colog.core.serving.onnx_runtime import OnnxSentenceEncoder
    from colog.core.serving.quantise import MIN_COSINE, cosine_rows, quantise_sentence_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration", type=int, default=512, help="calibration messages")
    parser.add_argument("--method", default="minmax", choices=("minmax", "percentile", "entropy"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    fp32_path = next((ROOT / ".cache" / "onnx").glob("all-minilm-l6-v2-*.onnx"), None)
    if fp32_path is None:
        raise SystemExit("no fp32 MiniLM export in .cache/onnx (`make install` writes it)")
    pool = sorted({m for name in CALIBRATION_SAMPLES for m in sample_messages(name)})
    calibration = random.Random(7).sample(pool, min(args.calibration, len(pool)))
    held_out = sorted(set(held_out_messages()))
    overlap = len(set(calibration) & set(held_out))
    started = time.perf_counter()
    quantise_sentence_model(fp32_path, INT8, calibration, method=args.method)
    quantise_s = time.perf_counter() - started
    fp32 = OnnxSentenceEncoder(fp32_path, threads=args.threads)
    int8 = OnnxSentenceEncoder(INT8, threads=args.threads)
    cosine = cosine_rows(fp32.encode(held_out), int8.encode(held_out))
    speed_fp32 = ms_per_message(fp32.encode, held_out)
    speed_int8 = ms_per_message(int8.encode, held_out)
    counts = distinct_counts()

    lines = [f"`.venv/bin/python benchmarks/embedding_options.py --threads {args.threads} "
             f"--calibration {args.calibration} --method {args.method}` (CPU, ONNX Runtime, "
             f"{args.threads} intra-op threads).", "",
             f"Static int8 MiniLM: calibrated on {len(calibration)} masked messages drawn (seed 7) "
             f"from {len(pool)} distinct ones of {', '.join(CALIBRATION_SAMPLES)} "
             f"({overlap} of them also among the held-out ones); quantised in {quantise_s:.0f} s. "
             f"Held out: the {len(held_out)} distinct masked messages of the demo's five samples and the "
             "syslog sample.", "",
             "| model | ms per message (held-out set, warm) | cosine vs fp32: min | 1st "
             "percentile | mean | share >= 0.99 |", "|---|---:|---:|---:|---:|---:|",
             f"| fp32 export | {speed_fp32:.2f} | - | - | - | - |",
             f"| int8 QDQ ({args.method}) | {speed_int8:.2f} | {cosine.min():.4f} | "
             f"{np.percentile(cosine, 1):.4f} | {cosine.mean():.4f} | "
             f"{(cosine >= MIN_COSINE).mean():.3f} |", "",
             f"Bar: cosine >= {MIN_COSINE} on every held-out message: "
             f"**{'met' if cosine.min() >= MIN_COSINE else 'not met'}**; speed-up "
             f"{speed_fp32 / speed_int8:.2f}x.", "",
             "Templates rather than messages for the neighbours: embeddings a first pass needs.",
             "", "| data set | documents | distinct masked messages | distinct Drain templates |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {n} | {m} | {t} |" for name, n, m, t in counts]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        replace_section(RESULTS, SECTION, text)


if __name__ == "__main__":
    main()
