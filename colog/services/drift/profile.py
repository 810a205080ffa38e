"""What a model saw in training: the template frequencies of its training rows.

Written as `profile.json` into the model directory by the retraining path (its documents carry
`colog.template.id`) and copied into the model's release document in `colog-models`, where the
drift monitor finds it by the version workers stamp on documents: no worker needs the model
repository's files. A model trained from files has no Drain ids and so no profile; the monitor
then compares with a trailing window only.

A fine-tuned model also learned what its parent learned: its profile adds the parent's, and is
`complete` only if the parent's was. A model fine-tuned from one trained from files (no
profile) gets an incomplete profile, which the monitor does not use as a reference: templates
the parent saw would count as unseen.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

PROFILE_FILE = "profile.json"
MAX_STREAMS = 1000  # largest streams kept per profile: a release document stays small


def build_profile(template_ids: Iterable[str | None], streams: Iterable[str]) -> dict:
    overall: Counter = Counter()
    per_stream: dict[str, Counter] = {}
    for template, stream in zip(template_ids, streams):
        if template is None:
            continue
        overall[template] += 1
        per_stream.setdefault(stream, Counter())[template] += 1
    return _limited(overall, per_stream, complete=True)


def _limited(overall: Counter, per_stream: dict[str, Counter], complete: bool) -> dict:
    largest = sorted(per_stream, key=lambda s: -sum(per_stream[s].values()))[:MAX_STREAMS]
    return {"events": int(sum(overall.values())), "templates": dict(overall),
            "streams": {s: dict(per_stream[s]) for s in largest}, "complete": complete}


def fine_tuned_profile(parent: dict | None, own: dict) -> dict:
    """The profile of a model fine-tuned from `parent` (None: the parent has no profile)."""
    if parent is None:
        return {**own, "complete": False}
    overall = Counter(parent.get("templates", {})) + Counter(own["templates"])
    per_stream: dict[str, Counter] = {}
    for source in (parent.get("streams", {}), own["streams"]):
        for stream, counts in source.items():
            per_stream[stream] = per_stream.get(stream, Counter()) + Counter(counts)
    return _limited(overall, per_stream, complete=bool(parent.get("complete")))


def write_profile(model_dir: Path, profile: dict) -> Path:
    path = Path(model_dir) / PROFILE_FILE
    path.write_text(json.dumps(profile, sort_keys=True), encoding="utf-8")
    return path


def read_profile(model_dir: Path) -> dict | None:
    """The model directory's profile, or None when it has none (or an unreadable one)."""
    path = Path(model_dir) / PROFILE_FILE
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return profile if usable(profile) else None


def profile_of_version(client, settings, version: str) -> dict | None:
    """The profile recorded with the release (or rollback) that made `version` live."""
    if not client.index_exists(settings.models_index):
        return None
    answer = client.search({
        "size": 1, "sort": [{"@timestamp": {"order": "desc"}}],
        "query": {"bool": {"filter": [{"term": {"version": str(version)}},
                                      {"terms": {"action": ["release", "rollback"]}}]}}},
                           settings.models_index)
    hits = answer["hits"]["hits"]
    if not hits:
        return None
    profile = hits[0]["_source"].get("profile")
    return profile if usable(profile) else None


def usable(profile: object) -> bool:
    """A profile with template counts that are numbers (a hand-edited release document may
    hold anything): anything else is treated as no profile."""
    if not isinstance(profile, dict) or not isinstance(profile.get("templates"), dict):
        return False
    counts = list(profile["templates"].values())
    for stream_counts in (profile.get("streams") or {}).values():
        if not isinstance(stream_counts, dict):
            return False
        counts.extend(stream_counts.values())
    return bool(profile["templates"]) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in counts)
