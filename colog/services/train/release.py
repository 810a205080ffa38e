"""Release gate, publishing, rollback and the release log (`colog-models`).

- The live model is the newest `colog` version in Triton's live repository (its
  `colog/<N>/colog_model/` folder): Triton serves the newest version to unpinned requests.
- Gate: candidate and live model are scored on the SAME holdout rows in the same run; the
  candidate goes live only if its macro F1 >= live - gate_margin (`--force` overrides and is
  recorded). Features are built over whole streams and only holdout rows are counted, so a
  holdout event is judged with its real neighbours, as at serving time.
- Publish = place the model as version N+1 (staged, renamed into place) and ask Triton (EXPLICIT
  mode) to reload `colog`: no restart, and with `latest { num_versions: 2 }` N keeps answering
  requests pinned to it until the switch.
- Rollback never pins a version (a pinned load sticks in Triton): it places a copy of version
  N's model directory as a new highest version and records it as a rollback of N.
- Every release, rollback and refusal is a document in `settings.models_index`.
"""

from __future__ import annotations

import getpass
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colog.core.clock import now_iso, utc_now
from colog.core.engine.errors import EngineError
from colog.core.serving import repository
from colog.services.drift.profile import build_profile, fine_tuned_profile, read_profile, write_profile
from colog.services.train.export import Export, NoLabelsError, export_labelled

MODELS_MAPPING = {"properties": {
    "action": {"type": "keyword"}, "version": {"type": "keyword"},
    "previous_version": {"type": "keyword"}, "rollback_of": {"type": "keyword"},
    "trigger": {"type": "keyword"}, "by": {"type": "keyword"}, "forced": {"type": "boolean"},
    "@timestamp": {"type": "date"}, "labelled_docs": {"type": "long"},
    "holdout_size": {"type": "long"}, "train_size": {"type": "long"},
    "gate": {"properties": {"passed": {"type": "boolean"}, "margin": {"type": "float"},
                            "reason": {"type": "text"}}},
    "metrics": {"properties": {
        "candidate": {"type": "object", "enabled": False},
        "live": {"type": "object", "enabled": False},
        "candidate_macro_f1": {"type": "float"}, "live_macro_f1": {"type": "float"}}},
    "window": {"properties": {"since": {"type": "date"}, "first": {"type": "date"},
                              "last": {"type": "date"}}},
    "model_dir": {"type": "keyword"}, "content_hash": {"type": "keyword"},
    "shadow_version": {"type": "keyword"},  # promoted from shadow (colog/services/shadow/deployment.py)
    # Template ids as keys: stored for the drift monitor, never mapped (no field explosion).
    "profile": {"type": "object", "enabled": False},
}}


class ReleaseError(Exception):
    """A release step that cannot go on; the message says why and what to do."""


@dataclass
class GateResult:
    passed: bool
    candidate_f1: float | None
    live_f1: float | None
    margin: float
    metric: str
    reason: str
    candidate: dict = field(default_factory=dict)
    live: dict = field(default_factory=dict)



# --- the live model ---------------------------------------------------------------------------


def live_version(settings) -> tuple[int, Path] | None:
    """(N, model directory) of the newest version in the live repository, or None."""
    repo = repository.live_repository(settings)
    versions = repository.list_versions(repo)
    if not versions:
        return None
    return versions[-1], repo / repository.COLOG / str(versions[-1]) / repository.VERSION_MODEL_DIR


# --- evaluation on the holdout ----------------------------------------------------------------


def evaluate_on_holdout(model_dir: Path, records, holdout: np.ndarray, embedder=None) -> dict:
    """Metrics of `model_dir` on the holdout rows, with features built over whole streams."""
    from colog.core.model.bundle import load_model_dir
    from colog.core.model.in_process import score_records
    from colog.services.train.metrics import classification_report
    from colog.services.train.pipeline import evaluation_targets

    loaded = load_model_dir(model_dir)
    scored = score_records(model_dir, records, embedder, loaded)
    targets = evaluation_targets(records, scored, len(loaded.classes), loaded.features)
    rows = np.flatnonzero(holdout)
    report = classification_report(targets[rows], scored.outputs["probs"][rows], loaded.classes,
                                   loaded.thresholds)
    report["model_dir"] = str(model_dir)
    return report


def _comparable(report: dict, other_classes: list[str]) -> tuple[float, str]:
    """Macro F1 when both heads agree; the point (event) view when one is 2- and one 4-class."""
    if report["classes"] == other_classes or "point" not in report:
        return report["macro_f1"], "macro_f1"
    return report["point"]["macro_f1"], "point.macro_f1"


def gate(candidate: dict, live: dict | None, margin: float) -> GateResult:
    if live is None:
        return GateResult(True, candidate["macro_f1"], None, margin, "macro_f1",
                          "no live model: the first release passes", candidate, {})
    if candidate["classes"] != live["classes"]:
        c_f1, metric = _comparable(candidate, live["classes"])
        l_f1, _ = _comparable(live, candidate["classes"])
        if metric == "macro_f1":  # 2-class vs 4-class: compare both on the event (point) view
            metric = "point.macro_f1"
            c_f1 = candidate.get("point", {}).get("macro_f1", candidate["macro_f1"])
            l_f1 = live.get("point", {}).get("macro_f1", live["macro_f1"])
    else:
        c_f1, l_f1, metric = candidate["macro_f1"], live["macro_f1"], "macro_f1"
    passed = c_f1 >= l_f1 - margin - 1e-12
    verb = "passes" if passed else "refused"
    reason = (f"{verb}: candidate {metric} {c_f1:.4f} vs live {l_f1:.4f} "
              f"(margin {margin:g}, needs >= {l_f1 - margin:.4f})")
    return GateResult(passed, c_f1, l_f1, margin, metric, reason, candidate, live)


def print_comparison(console, result: GateResult, holdout_size: int) -> None:
    from rich.table import Table

    table = Table(title=f"release gate on {holdout_size} holdout events")
    table.add_column("metric")
    table.add_column("candidate", justify="right")
    table.add_column("live", justify="right")
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    for name in ("macro_f1", "precision", "recall", "accuracy"):
        table.add_row(name, fmt(result.candidate.get(name)), fmt(result.live.get(name)))
    for view in ("point", "collective"):
        if view in result.candidate or view in result.live:
            table.add_row(f"{view} macro F1", fmt(result.candidate.get(view, {}).get("macro_f1")),
                          fmt(result.live.get(view, {}).get("macro_f1")))
    console.print(table)
    console.print(f"gate {result.reason}")


# --- the release log --------------------------------------------------------------------------


def ensure_models_index(client, settings) -> None:
    index = settings.models_index
    if not client.index_exists(index):
        try:
            client.create_index(index, {"mappings": MODELS_MAPPING})
            return
        except EngineError as exc:  # created concurrently by another publisher
            if exc.error_type != "resource_already_exists_exception":
                raise
    # An index created before profiles existed must not map their keys dynamically.
    client.put_mapping(index, {"profile": MODELS_MAPPING["properties"]["profile"]})


def record(client, settings, doc: dict) -> dict:
    ensure_models_index(client, settings)
    doc = {"@timestamp": now_iso(), "by": _who(), **doc}
    client.index(settings.models_index, doc, refresh=True)
    return doc


def releases(client, settings, size: int = 50) -> list[dict]:
    if not client.index_exists(settings.models_index):
        return []
    result = client.search({"size": size, "sort": [{"@timestamp": {"order": "desc"}}]},
                           settings.models_index)
    return [hit["_source"] for hit in result["hits"]["hits"]]


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 — no user name in some containers
        return "unknown"


def _metrics(gate_result: GateResult | None) -> dict:
    if gate_result is None:
        return {}
    strip = lambda r: {k: v for k, v in r.items() if not k.startswith("_")}  # noqa: E731
    return {"candidate": strip(gate_result.candidate), "live": strip(gate_result.live),
            "candidate_macro_f1": gate_result.candidate_f1, "live_macro_f1": gate_result.live_f1}


# --- publish and rollback ---------------------------------------------------------------------


def _load(settings, triton=None) -> None:
    """Load the newest versions on every Triton server (colog/core/serving/replicas.py), or on the
    one client given (tests, shadow). A server that fails does not stop the others; the
    error names each one, and the version stays placed for the next load or restart."""
    if triton is not None:
        triton.load_model()
        return
    from colog.core.serving.replicas import EndpointError, load_everywhere

    try:
        report = load_everywhere(settings)
    except EndpointError as exc:
        raise ReleaseError(f"placed, but not loaded: {exc}") from exc
    if not report.ok:
        if len(report.failed) == 1 and not report.loaded:
            raise next(iter(report.failed.values()))  # one server: its own error (CLI exit 12)
        failures = "; ".join(f"{address}: {why}" for address, why in report.failed.items())
        raise ReleaseError(f"placed, but loaded on {len(report.loaded)} of "
                           f"{len(report.loaded) + len(report.failed)} Triton servers "
                           f"({failures}); run `colog publish`/`colog rollback` again or "
                           "restart the failed ones (they load the newest version at start)")


def place_and_load(settings, model_dir: Path, triton=None) -> int:
    repo = repository.live_repository(settings)
    try:
        version = repository.place_version(repo, Path(model_dir), settings.triton_instance_kind)
    except repository.RepositoryError as exc:
        raise ReleaseError(str(exc)) from exc
    _load(settings, triton)
    return version


def content_hash_of(model_dir: Path) -> str | None:
    import json

    path = Path(model_dir) / "version.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("content_hash")
    except (OSError, ValueError):
        return None


@dataclass
class Outcome:
    published: bool
    version: int | None
    previous: int | None
    gate: GateResult | None
    doc: dict | None


def release(os_client, settings, model_dir: Path, *, gate_result: GateResult | None,
            export: Export | None, trigger: str, force: bool, publish: bool = True,
            extra: dict | None = None, triton=None) -> Outcome:
    """Publish `model_dir` if the gate passed (or `force`), record a release or a refusal."""
    live = live_version(settings)
    previous = live[0] if live else None
    common = {"previous_version": None if previous is None else str(previous),
              "trigger": trigger, "forced": bool(force), "model_dir": str(model_dir),
              "content_hash": content_hash_of(model_dir), "metrics": _metrics(gate_result),
              "profile": read_profile(model_dir),
              "labelled_docs": export.labelled if export else 0,
              "holdout_size": int(export.holdout.sum()) if export else 0,
              "window": export.window() if export else {},
              "gate": ({"passed": gate_result.passed, "margin": gate_result.margin,
                        "reason": gate_result.reason} if gate_result else
                       {"passed": True, "margin": settings.gate_margin,
                        "reason": "no holdout: no analyst-labelled documents to compare on"}),
              **(extra or {})}
    passed = gate_result is None or gate_result.passed
    if not passed and not force:
        doc = record(os_client, settings, {"action": "refused", "version": None, **common})
        return Outcome(False, None, previous, gate_result, doc)
    if not publish:
        return Outcome(False, None, previous, gate_result, None)
    version = place_and_load(settings, model_dir, triton)
    doc = record(os_client, settings, {"action": "release", "version": str(version), **common})
    return Outcome(True, version, previous, gate_result, doc)


def rollback_target(os_client, settings, current: int, versions: list[int]) -> int:
    """The version that was live before `current`: from the release log, else current - 1."""
    for doc in releases(os_client, settings):
        if doc.get("version") == str(current) and doc.get("previous_version"):
            target = int(doc["previous_version"])
            if target in versions:
                return target
    earlier = [v for v in versions if v < current]
    if not earlier:
        raise ReleaseError(f"version {current} is the only version: nothing to roll back to")
    return earlier[-1]


def rollback(os_client, settings, to: int | None = None, trigger: str = "cli",
             triton=None) -> Outcome:
    repo = repository.live_repository(settings)
    versions = repository.list_versions(repo)
    if not versions:
        raise ReleaseError(f"no model versions in {repo}: publish one with `colog publish`")
    current = versions[-1]
    target = to if to is not None else rollback_target(os_client, settings, current, versions)
    if target not in versions:
        raise ReleaseError(f"version {target} is not in the repository (have {versions})")
    if target == current:
        raise ReleaseError(f"version {target} is already live")
    source = repo / repository.COLOG / str(target) / repository.VERSION_MODEL_DIR
    # Copy out first: place_version copies from a folder that must not be inside the model tree.
    with tempfile.TemporaryDirectory(prefix="colog-rollback-") as tmp:
        copy = Path(tmp) / repository.VERSION_MODEL_DIR
        shutil.copytree(source, copy)
        version = place_and_load(settings, copy, triton)
    doc = record(os_client, settings, {
        "action": "rollback", "version": str(version), "rollback_of": str(target),
        "previous_version": str(current), "trigger": trigger, "forced": False,
        "model_dir": str(source), "content_hash": content_hash_of(source),
        "profile": read_profile(source)})
    return Outcome(True, version, current, None, doc)


# --- the whole retraining path (CLI and beat) ---------------------------------------------------


@dataclass
class RetrainOptions:
    since: str | None = None
    classes: int | None = None
    epochs: int | None = None
    force: bool = False
    publish: bool = True
    out_dir: Path | None = None
    seed: int = 42
    from_scratch: bool = False


def candidate_spec(live_dir: Path | None, opts: RetrainOptions, settings):
    """The candidate keeps the live model's features and architecture (so workers keep building
    the same inputs and the comparison is like for like) unless told otherwise."""
    from colog.core.features.spec import FeatureSpec
    from colog.core.model.bundle import load_model_dir
    from colog.services.train.loop import TrainOptions
    from colog.services.train.pipeline import TrainSpec

    options = TrainOptions(epochs=opts.epochs or TrainOptions().epochs, seed=opts.seed,
                           progress=False)
    if live_dir is None:
        return TrainSpec(num_classes=opts.classes or 2,
                         features=FeatureSpec.from_settings(settings), options=options)
    loaded = load_model_dir(live_dir)
    # Everything but what the spec itself sets (features and head) and the vocabulary.
    overrides = {k: v for k, v in loaded.config.to_dict().items()
                 if k not in ("vocab_size", "max_tokens", "window", "sequence_mode",
                              "num_classes")}
    return TrainSpec(num_classes=opts.classes or len(loaded.classes), features=loaded.features,
                     options=options, model_overrides=overrides)


def retrain(os_client, settings, opts: RetrainOptions, trigger: str, console) -> Outcome:
    """Export → train on the non-holdout part → gate against live → publish → record."""
    from colog.core.features.embedding import SentenceEmbedder
    from colog.services.train.pipeline import train_from_records

    started = time.perf_counter()
    export = export_labelled(os_client, settings, opts.since)  # NoLabelsError propagates
    train_records, hold_records = export.split()
    console.print(f"exported {len(export.records)} events of {export.streams} stream(s): "
                  f"{export.labelled} analyst-labelled, {len(hold_records)} in the holdout")
    for doc_id, problem in export.invalid[:10]:
        console.print(f"[yellow]ignored invalid label on {doc_id}: {problem}[/]")
    if not hold_records:
        raise ReleaseError("the holdout is empty: label more documents or raise "
                           "COLOG_HOLDOUT_FRACTION")
    live = live_version(settings)
    spec = candidate_spec(live[1] if live else None, opts, settings)
    out = opts.out_dir or (Path(settings.cache_dir) / "trainer" / "candidates"
                           / utc_now().strftime("%Y%m%dT%H%M%S%f"))
    embedder = SentenceEmbedder()
    start_from = None
    if live and not opts.from_scratch:
        # Fine-tune the live model: a handful of labels moves it, and it keeps what it knew.
        from colog.core.model.bundle import load_model_dir

        loaded = load_model_dir(live[1])
        if len(loaded.classes) == spec.num_classes:
            start_from = loaded.model
            console.print(f"fine-tuning live version {live[0]} (--from-scratch to start anew)")
    try:
        outcome = train_from_records(train_records, None, out, spec, console, embedder,
                                     model=start_from)
    except ValueError as exc:
        raise ReleaseError(f"cannot train: {exc}") from exc
    # What this candidate learned from, for the drift monitor (training rows only, plus what
    # the live model knew when it was fine-tuned from it).
    train_rows = ~export.holdout
    profile = build_profile([t for t, keep in zip(export.template_ids, train_rows) if keep],
                            [r.stream for r, keep in zip(export.records, train_rows) if keep])
    if start_from is not None:
        profile = fine_tuned_profile(read_profile(live[1]), profile)
    write_profile(out, profile)
    candidate = evaluate_on_holdout(out, export.records, export.holdout, embedder)
    live_report = evaluate_on_holdout(live[1], export.records, export.holdout, embedder) \
        if live else None
    result = gate(candidate, live_report, settings.gate_margin)
    print_comparison(console, result, len(hold_records))
    done = release(os_client, settings, out, gate_result=result, export=export, trigger=trigger,
                   force=opts.force, publish=opts.publish,
                   extra={"train_size": outcome.train_size,
                          "train_seconds": round(time.perf_counter() - started, 1)})
    return done


def gate_model_dir(os_client, settings, model_dir: Path, console) -> tuple[GateResult | None,
                                                                           Export | None]:
    """For `colog publish`: the gate on a holdout from OpenSearch, or (None, None) without labels."""
    try:
        export = export_labelled(os_client, settings)
    except NoLabelsError as exc:
        console.print(f"no holdout ({exc}); publishing without a comparison")
        return None, None
    if not export.holdout.any():
        console.print("no holdout: none of the exported documents falls in the holdout; "
                      "publishing without a comparison")
        return None, None
    live = live_version(settings)
    from colog.core.features.embedding import SentenceEmbedder

    embedder = SentenceEmbedder()
    candidate = evaluate_on_holdout(model_dir, export.records, export.holdout, embedder)
    live_report = evaluate_on_holdout(live[1], export.records, export.holdout, embedder) \
        if live else None
    result = gate(candidate, live_report, settings.gate_margin)
    print_comparison(console, result, int(export.holdout.sum()))
    return result, export


def describe(doc: dict[str, Any]) -> str:
    return f"{doc.get('action')} version {doc.get('version')}"
