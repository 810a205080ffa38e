"""Synthetic labelled log streams for tests: learnable, interleaved, every message unique.

Normal events come from a few templates; anomalies use words that never occur in normal events,
so a small model learns them in a few epochs. Every message carries a distinct word, so a row of
tokens identifies its event (the context tests rely on it).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

NORMAL = [
    "connection from worker {w} accepted on port {n}",
    "request {w} served in {n} ms",
    "heartbeat from node {w} received",
    "cache refreshed for tenant {w} with {n} entries",
]
ANOMALY = [
    "kernel panic fatal disk failure on device {w}",
    "segfault corrupted memory exception in module {w}",
]
WORDS = [f"{a}{b}" for a in ("al", "be", "ga", "de", "ep", "ze", "et", "th", "io", "ka")
         for b in ("pha", "ron", "mos", "tix", "lun", "vor", "dek", "sam", "qui", "fel")]


def records(streams: int = 3, per_stream: int = 60, anomaly_rate: float = 0.08,
            seed: int = 7, start: datetime | None = None) -> list[dict]:
    """JSONL-shaped records, interleaved across streams in time order."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=timezone.utc)
    words = iter(rng.sample(WORDS * 50, len(WORDS) * 50))
    used: set[str] = set()
    rows = []
    for i in range(per_stream):
        for s in range(streams):
            anomalous = rng.random() < anomaly_rate
            template = rng.choice(ANOMALY if anomalous else NORMAL)
            while True:
                word = f"{next(words)}{rng.randint(0, 99)}x"
                if word not in used:
                    used.add(word)
                    break
            rows.append({
                "@timestamp": (start + timedelta(seconds=i * 10 + s)).isoformat().replace(
                    "+00:00", "Z"),
                "message": template.format(w=word, n=rng.randint(1, 5000)),
                "stream": f"stream-{s}",
                "label": "anomaly" if anomalous else "normal",
            })
    return rows
