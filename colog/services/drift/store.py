"""Where drift checks go: the `colog-drift` index (history, dashboard, monitor) and the retrain
flag in Redis (what scheduled retraining obeys).

The flag stays set until a retraining publishes a model or an operator clears it: a burst that
subsides by itself has still shown that the model met traffic it does not know.
"""

from __future__ import annotations

import json

from colog.core.engine.errors import EngineError

FLAG_KEY = "colog:drift:retrain_flag"

DRIFT_MAPPING = {"properties": {
    "@timestamp": {"type": "date"}, "check_id": {"type": "keyword"},
    "scope": {"type": "keyword"}, "index": {"type": "keyword"}, "stream": {"type": "keyword"},
    "model": {"properties": {"version": {"type": "keyword"}}},
    "reference_kind": {"type": "keyword"},
    "windows": {"properties": {
        side: {"properties": {"start": {"type": "date"}, "end": {"type": "date"}}}
        for side in ("recent", "reference")}},
    "events": {"properties": {"recent": {"type": "long"}, "reference": {"type": "long"}}},
    "templates": {"properties": {"js": {"type": "float"}, "new": {"type": "long"},
                                 "new_share": {"type": "float"},
                                 "unseen_share": {"type": "float"}}},
    "score": {"properties": {"js": {"type": "float"}, "mean_recent": {"type": "float"},
                             "mean_reference": {"type": "float"}}},
    "drifted": {"type": "boolean"}, "reasons": {"type": "keyword"},
    "note": {"type": "text"},
}}


def ensure_drift_index(client, settings) -> bool:
    """Create the index with its mapping; True when this call created it."""
    if client.index_exists(settings.drift_index):
        return False
    try:
        client.create_index(settings.drift_index, {"mappings": DRIFT_MAPPING})
    except EngineError as exc:  # created concurrently by another beat
        if exc.error_type != "resource_already_exists_exception":
            raise
        return False
    return True


def write_checks(client, settings, docs: list[dict]) -> int:
    ensure_drift_index(client, settings)
    operations = [line for doc in docs for line in ({"index": {"_index": settings.drift_index}},
                                                     doc)]
    if not operations:
        return 0
    answer = client.bulk(operations, refresh=True)
    items = [item.get("index", {}) for item in answer.get("items", [])]
    errors = [item for item in items if item.get("status", 500) >= 300]
    written = len(items) - len(errors)
    if errors:
        raise RuntimeError(f"{len(errors)} drift record(s) were refused by "
                           f"{settings.drift_index!r}: {errors[0]}")
    return written


def read_flag(redis) -> dict | None:
    raw = redis.get(FLAG_KEY) if redis is not None else None
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        # Still a flag (retraining obeys it), and the next drifted check rewrites it.
        return {"unreadable": True, "reasons": ["unreadable flag"], "raw": str(raw)[:200]}


def set_flag(redis, flag: dict) -> None:
    redis.set(FLAG_KEY, json.dumps(flag, sort_keys=True))


def clear_flag(redis) -> bool:
    return bool(redis.delete(FLAG_KEY))
