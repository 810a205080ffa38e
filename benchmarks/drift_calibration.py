"""How far apart are two consecutive windows of one healthy system? (drift threshold defaults)

For every Loghub sample in benchmarks/data/loghub (time-ordered, ground-truth template ids in
`EventId`), split the events into consecutive windows of N and measure, for each neighbouring
pair, the Jensen-Shannon divergence of template frequencies and the share of the later window's
events whose template the earlier window lacks. Nothing changed in these systems between two
windows, so a drift threshold below these figures would alert on normal traffic.

    .venv/bin/python benchmarks/drift_calibration.py [--datasets DIR] [--sizes 200 500]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colog.services.drift.measures import js_divergence, share_outside  # noqa: E402

DEFAULT_DATASETS = Path(__file__).resolve().parent / "data" / "loghub"


def consecutive_pairs(ids: list[str], size: int) -> list[tuple[float, float]]:
    pairs = []
    for start in range(0, len(ids) - 2 * size + 1, size):
        reference = Counter(ids[start:start + size])
        recent = Counter(ids[start + size:start + 2 * size])
        pairs.append((js_divergence(recent, reference), share_outside(recent, reference)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 500])
    args = parser.parse_args()
    files = sorted(args.datasets.glob("*_structured.csv"))
    if not files:
        raise SystemExit(f"no *_structured.csv under {args.datasets}")
    print(f"{'dataset':<12}{'N':>5}{'pairs':>6}{'JS median':>11}{'JS max':>8}"
          f"{'new median':>12}{'new max':>9}")
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            ids = [row["EventId"] for row in csv.DictReader(handle)]
        for size in args.sizes:
            pairs = consecutive_pairs(ids, size)
            if not pairs:
                continue
            js, new = [p[0] for p in pairs], [p[1] for p in pairs]
            print(f"{path.name.split('_')[0]:<12}{size:>5}{len(pairs):>6}"
                  f"{statistics.median(js):>11.3f}{max(js):>8.3f}"
                  f"{statistics.median(new):>12.3f}{max(new):>9.3f}")


if __name__ == "__main__":
    main()
