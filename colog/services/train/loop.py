"""The training loop: Adam, warm-up, a decaying learning rate, weight averaging, early stopping.

What it does and why (figures for each choice in benchmarks/RESULTS.md, "Training variants"):
- Identical training rows (same tokens, same window, same target) are trained on once, with
  their count as the weight of their loss: logs repeat themselves, and an epoch over the
  distinct rows costs a fraction of one over all rows for the same expected gradient.
- Linear warm-up, then cosine decay to zero over the epoch budget (`schedule="cosine"`), or
  the paper's halving on plateaus (`schedule="plateau"`).
- An exponential moving average of the weights (`ema_decay`) is what gets evaluated and kept:
  validation macro F1 of the raw weights swung by 0.2 from one epoch to the next.
- Early stopping and the kept epoch use validation macro F1 at the best decision threshold of
  that epoch, so a good model is not discarded because its scores sit on the wrong side of 0.5.
  A tie goes to the later epoch, and only epochs strictly worse than the best count towards
  `patience`: a small validation split saturates early (one error in 42 anomalies is a macro F1
  of 0.994), and stopping at the first epoch that reached it kept a model that had not yet
  learned what the neighbours mean (9 test errors instead of 0 on a contextual suite).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from colog.core.model.memory import TemplateMemory
from colog.core.verdict import Thresholds
from colog.services.train.dataset import Dataset
from colog.services.train.thresholds import choose_thresholds, macro_f1_at

SCHEDULES = ("cosine", "plateau")


@dataclass
class TrainOptions:
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_epochs: int = 1
    patience: int = 4
    schedule: str = "cosine"
    # plateau schedule only: halve after `plateau_epochs` without improvement, at most 3 times
    plateau_epochs: int = 2
    max_decays: int = 3
    decay_factor: float = 0.5
    ema_decay: float = 0.99
    deduplicate: bool = True
    class_weighting: bool = True
    seed: int = 42
    progress: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    best_epoch: int
    best_valid_macro_f1: float
    thresholds: Thresholds
    epochs_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def tensors(data: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = data.modalities
    return (torch.from_numpy(m.tokens), torch.from_numpy(m.sequence),
            torch.from_numpy(m.sequence_mask))


def class_weights(targets: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse square-root frequency: lifts rare classes without letting one outlier dominate."""
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
    weights = weights / weights[counts > 0].mean()
    return torch.tensor(weights, dtype=torch.float32)


def distinct_rows(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct input-and-target, how many rows share it), in row order."""
    m = data.modalities
    first: dict[bytes, int] = {}
    counts: dict[int, int] = {}
    for i in range(len(data)):
        key = b"".join((m.tokens[i].tobytes(), m.sequence[i].tobytes(),
                        m.sequence_mask[i].tobytes(), int(data.targets[i]).to_bytes(2, "little")))
        row = first.setdefault(key, i)
        counts[row] = counts.get(row, 0) + 1
    rows = np.fromiter(counts, dtype=np.int64)
    return rows, np.fromiter(counts.values(), dtype=np.float32)


@torch.no_grad()
def predict_probs(model: nn.Module, data: Dataset, batch_size: int = 256,
                  memory: TemplateMemory | None = None) -> np.ndarray:
    """Class probabilities, computed in length order (cheap padding), returned in row order;
    with `memory`, the event part of messages it knows is its label (as when served)."""
    model.eval()
    tokens, sequence, mask = tensors(data)
    order = np.argsort((data.modalities.tokens != 0).sum(axis=1), kind="stable")
    probs = np.zeros((len(data), len(data.classes)), np.float32)
    for start in range(0, len(data), batch_size):
        rows = torch.from_numpy(order[start:start + batch_size])
        out = model(tokens[rows], sequence[rows], mask[rows])
        probs[rows.numpy()] = torch.softmax(out.logits, dim=-1).numpy()
    if memory is not None:
        probs = memory.apply(probs, data.modalities.tokens, data.classes)
    return probs


class WeightAverage:
    """Exponential moving average of the trainable weights (buffers are copied as they are)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        # Early steps average over fewer steps, so the average is not anchored to the init.
        decay = min(self.decay, (1 + step) / (10 + step))
        for avg, live in zip(self.model.parameters(), model.parameters()):
            if live.requires_grad:
                avg.lerp_(live.detach(), 1.0 - decay)


def _learning_rate(options: TrainOptions, step: int, warmup_steps: int, total_steps: int,
                   plateau_scale: float) -> float:
    warm = min(1.0, step / warmup_steps) if warmup_steps else 1.0
    if options.schedule == "plateau":
        return options.learning_rate * plateau_scale * warm
    progress = max(0.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return options.learning_rate * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train(model: nn.Module, train_data: Dataset, valid_data: Dataset, options: TrainOptions,
          stop_after: int | None = None, memory: TemplateMemory | None = None) -> TrainResult:
    """Train in place; the model ends holding the weights of its best validation epoch.

    `stop_after`: run exactly this many epochs of the same schedule and keep the last one (the
    refit on all labelled data, which has no validation split left to choose an epoch with).
    `memory`: the template memory served with the model, applied to validation predictions.
    """
    seed_everything(options.seed)
    started = time.perf_counter()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=options.learning_rate)
    weights = class_weights(train_data.targets, len(train_data.classes))
    if not options.class_weighting:
        weights = torch.ones_like(weights)
    if options.deduplicate:
        rows, counts = distinct_rows(train_data)
    else:
        rows, counts = np.arange(len(train_data)), np.ones(len(train_data), np.float32)
    tokens, sequence, mask = (t[torch.from_numpy(rows)] for t in tensors(train_data))
    targets = torch.from_numpy(train_data.targets[rows])
    row_weights = torch.from_numpy(counts) * weights[targets]
    steps_per_epoch = max(1, -(-len(rows) // options.batch_size))
    warmup_steps = options.warmup_epochs * steps_per_epoch
    total_steps = options.epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(options.seed)
    average = WeightAverage(model, options.ema_decay) if options.ema_decay else None
    evaluated = average.model if average else model

    best = (-1.0, float("inf"))
    best_epoch, best_state, best_thresholds = 0, None, Thresholds()
    since_best, since_decay, decays, plateau_scale, step = 0, 0, 0, 1.0, 0
    history: list[dict] = []
    epochs = options.epochs if stop_after is None else min(options.epochs, stop_after)
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch",
               disable=not options.progress)
    for epoch in bar:
        model.train()
        total = 0.0
        order = torch.randperm(len(targets), generator=generator)
        for batch in order.split(options.batch_size):
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(options, step, warmup_steps, total_steps,
                                             plateau_scale)
            out = model(tokens[batch], sequence[batch], mask[batch])
            per_row = nn.functional.cross_entropy(out.logits, targets[batch], reduction="none")
            w = row_weights[batch]
            loss = (per_row * w).sum() / w.sum()  # = the class-weighted mean over all copies
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            if average:
                average.update(model, step)
            total += float((per_row.detach() * w).sum())
        entry = {"epoch": epoch, "train_loss": total / float(row_weights.sum()),
                 "lr": optimizer.param_groups[0]["lr"]}
        history.append(entry)
        if stop_after is not None:
            bar.set_postfix(loss=f"{entry['train_loss']:.4f}")
            continue
        probs = predict_probs(evaluated, valid_data, memory=memory)
        thresholds = choose_thresholds(valid_data.targets, probs, valid_data.classes)
        valid_f1 = macro_f1_at(valid_data.targets, probs, valid_data.classes, thresholds)
        valid_loss = float(nn.functional.nll_loss(
            torch.log(torch.from_numpy(probs).clamp_min(1e-9)),
            torch.from_numpy(valid_data.targets))) if len(valid_data) else 0.0
        entry.update(valid_macro_f1=valid_f1, valid_loss=valid_loss,
                     thresholds=thresholds.to_dict())
        bar.set_postfix(loss=f"{entry['train_loss']:.4f}", valid_f1=f"{valid_f1:.4f}")
        if valid_f1 >= best[0] - 1e-6:
            best, best_epoch, best_thresholds = (max(valid_f1, best[0]), valid_loss), epoch, \
                thresholds
            best_state = copy.deepcopy(evaluated.state_dict())
            since_best = since_decay = 0
            continue
        if epoch <= options.warmup_epochs:
            continue  # no decay or stopping while the rate still climbs
        since_best += 1
        since_decay += 1
        if since_best >= options.patience:
            break
        if (options.schedule == "plateau" and since_decay >= options.plateau_epochs
                and decays < options.max_decays):
            plateau_scale *= options.decay_factor
            decays += 1
            since_decay = 0
    if stop_after is not None:
        best_epoch, best_state = len(history), copy.deepcopy(evaluated.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(best_epoch, best[0], best_thresholds, len(history),
                       time.perf_counter() - started, history)
