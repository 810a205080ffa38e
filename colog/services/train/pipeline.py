"""`colog train` and `colog evaluate` from files: records in, model directory or report out."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from colog import __version__
from colog.core.features.embedding import SentenceEmbedder
from colog.core.features.semantic import SemanticTokenizer
from colog.core.features.spec import EMBEDDER, FeatureSpec
from colog.core.labels import class_index, classes_for
from colog.core.model.bundle import save_model_dir
from colog.core.model.config import ModelConfig
from colog.core.model.in_process import score_records
from colog.core.model.memory import TemplateMemory
from colog.core.model.network import CoLog
from colog.core.records import LogRecord
from colog.core.verdict import Thresholds
from colog.services.train.balance import BalanceReport, tomek_undersample
from colog.services.train.baselines import fit_baseline
from colog.services.train.dataset import Dataset, build_dataset, chronological_split, context_labels
from colog.services.train.loop import TrainOptions, predict_probs, seed_everything, tensors, train
from colog.services.train.metrics import classification_report

# The baseline `colog train` fits beside CoLog on the same split, to say when CoLog is worse.
SUMMARY_BASELINE = "tfidf_lr_window"


@dataclass
class TrainSpec:
    num_classes: int = 2
    features: FeatureSpec = field(default_factory=FeatureSpec)
    tomek: bool = True
    # Optional: after early stopping, train again on training + validation rows for the chosen
    # number of epochs. Off by default: the refitted network is never validated, and on the
    # contextual suites it was the less stable choice (docs/decisions.md).
    refit: bool = False
    baseline: bool = True   # fit SUMMARY_BASELINE on the same split for the summary
    memory: bool = True     # store the template memory (colog/core/model/memory.py) with the model
    options: TrainOptions = field(default_factory=TrainOptions)
    model_overrides: dict = field(default_factory=dict)


@dataclass
class TrainOutcome:
    model_dir: Path
    valid_report: dict
    balance: BalanceReport
    train_size: int
    valid_size: int
    best_epoch: int
    seconds: float
    thresholds: Thresholds = field(default_factory=Thresholds)
    baseline_report: dict | None = None
    refit: bool = False


def check_trainable(data: Dataset, what: str) -> None:
    present = np.unique(data.targets)
    if len(present) < 2:
        only = data.classes[int(present[0])] if len(present) else "none"
        raise ValueError(
            f"{what} holds only one class ({only}): label some events of the other class, or "
            "use --label-by-level in `colog convert`")


def remembered(data: Dataset) -> TemplateMemory:
    """The template memory of the labels people gave (analysts, labelled corpora): weak labels
    are a heuristic, and remembering them would pin every line they ever marked normal against
    what the network learns from the analysts' labels of similar lines."""
    rows = np.flatnonzero(data.explicit)
    return TemplateMemory.build(data.modalities.tokens[rows], data.event_anomaly[rows])


def train_from_records(train_records: list[LogRecord], valid_records: list[LogRecord] | None,
                       out_dir: Path, spec: TrainSpec, console: Console | None = None,
                       embedder: SentenceEmbedder | None = None,
                       model: CoLog | None = None) -> TrainOutcome:
    console = console or Console(stderr=True)
    started = time.perf_counter()
    features = spec.features
    tokenizer = SemanticTokenizer(max_tokens=features.max_tokens)
    embedder = embedder or SentenceEmbedder()
    build = dict(num_classes=spec.num_classes, window=features.window,
                 mode=features.sequence_mode)
    full = build_dataset(train_records, tokenizer, embedder, **build)
    if valid_records is None:
        # Validation is the latest 20% of every stream of TRAIN: early stopping sees the future
        # as serving will, and every source is represented.
        train_rows, valid_rows = chronological_split(full.timestamps, [0.8, 0.2], full.streams)
        train_data, valid_data = full.take(train_rows), full.take(valid_rows)
    else:
        train_data = full
        valid_data = build_dataset(valid_records, tokenizer, embedder, **build)
    check_trainable(train_data, "the training data")
    labelled = train_data  # every label, before Tomek links thin the rows trained on
    memory = remembered(labelled) if spec.memory else None
    balance = BalanceReport(train_data.summary(), train_data.summary())
    centre = features.centre
    if spec.tomek:
        train_data, balance = tomek_undersample(train_data, centre)
    console.print(f"train {len(train_data)} events {train_data.summary()}, "
                  f"validation {len(valid_data)} events {valid_data.summary()}")
    console.print(balance.describe() if spec.tomek else "Tomek links: off")

    config = ModelConfig.for_features(features, vocab_size=tokenizer.vocab_size,
                                      num_classes=spec.num_classes, **spec.model_overrides)
    if model is None:  # a fine-tuned model keeps the statistics its weights were trained with
        # Seeded here, not only in the loop: loading the sentence model or anything else that
        # ran before draws from torch's generator, and the initial weights must not depend on it.
        seed_everything(spec.options.seed)
        model = CoLog(config)
        model.set_embedding_statistics(*tensors(train_data)[1:])
    refit = spec.refit and len(valid_data) > 0
    # The refit starts where this run started (copied only when there will be one).
    initial = copy.deepcopy(model.state_dict()) if refit else None
    # The memory decides the messages it knows, so the epoch and the thresholds are chosen on
    # how the network does on the rest.
    result = train(model, train_data, valid_data, spec.options, memory=memory)
    valid_report = classification_report(
        valid_data.targets, predict_probs(model, valid_data, memory=memory), valid_data.classes,
        result.thresholds)
    baseline_report = None
    if spec.baseline and len(valid_data):
        fitted = fit_baseline(SUMMARY_BASELINE, train_data, valid_data, features.window,
                              features.sequence_mode, spec.options.seed)
        baseline_report = classification_report(valid_data.targets,
                                                fitted.predict_proba(valid_data),
                                                valid_data.classes, fitted.thresholds)
        baseline_report["name"] = SUMMARY_BASELINE
    refit_result, refit_size = None, 0
    every_label = labelled.concat(valid_data) if len(valid_data) else labelled
    if memory is not None:
        # The memory takes the validation labels too (often the newest templates), after the
        # epoch and thresholds were chosen: a lookup needs no retraining to use them.
        memory = remembered(every_label)
    if refit:
        everything = every_label
        if spec.tomek:
            everything, _ = tomek_undersample(everything, centre)
        console.print(f"refit on training + validation ({len(everything)} events) for "
                      f"{result.best_epoch} epochs")
        model.load_state_dict(initial)
        refit_size = len(everything)
        refit_result = train(model, everything, valid_data, spec.options,
                             stop_after=result.best_epoch)
    metrics = {
        "validation": valid_report,
        "baseline_validation": baseline_report,
        "thresholds": result.thresholds.to_dict(),
        "memory": {"messages": len(memory) if memory is not None else 0},
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": round(result.seconds + (refit_result.seconds if refit_result else 0), 2),
        "train_size": len(train_data),
        "valid_size": len(valid_data),
        "refit": {"enabled": refit, "size": refit_size,
                  "note": "validation figures are of the model chosen before the refit"},
        "tomek": {"enabled": spec.tomek, "removed": balance.removed,
                  "before": balance.before, "after": balance.after},
        "options": spec.options.to_dict(),
        "history": result.history,
    }
    feature_config = {**features.to_config(), "embedder": EMBEDDER,
                      "masking": "colog.core.parsing.masking", "colog_version": __version__}
    extra = {tokenizer.path.name: tokenizer.path}
    save_model_dir(out_dir, model, config, classes=classes_for(spec.num_classes),
                   feature_config=feature_config, metrics=metrics, extra_files=extra,
                   thresholds=result.thresholds, memory=memory)
    return TrainOutcome(Path(out_dir), valid_report, balance, len(train_data), len(valid_data),
                        result.best_epoch, time.perf_counter() - started, result.thresholds,
                        baseline_report, refit)


def evaluation_targets(records: list[LogRecord], scored, num_classes: int,
                       features: FeatureSpec) -> np.ndarray:
    from colog.core.labels import resolve_labels

    event, _ = resolve_labels([r.label for r in records], [r.message for r in records],
                              [r.level for r in records])
    context = context_labels(records, event, scored.modalities.window_index, features.window,
                             features.sequence_mode)
    return class_index(event, context, num_classes)


def evaluate_records(model_dir: Path, records: list[LogRecord],
                     embedder: SentenceEmbedder | None = None) -> dict:
    from colog.core.model.bundle import load_model_dir

    loaded = load_model_dir(model_dir)
    scored = score_records(model_dir, records, embedder, loaded)
    targets = evaluation_targets(records, scored, len(loaded.classes), loaded.features)
    report = classification_report(targets, scored.outputs["probs"], loaded.classes,
                                   loaded.thresholds)
    report["model_dir"] = str(model_dir)
    report["_probs"] = scored.outputs["probs"]
    report["_targets"] = targets
    return report
