"""The training loop: Adam, warm-up, halving the learning rate on plateaus, early stopping.

Defaults follow the CoLog paper (batch 32, up to 20 epochs, early stopping after 5 epochs
without improvement, 5 warm-up epochs, learning rate halved three times) except the learning
rate: the paper's 5e-5 suits its 256-wide model trained on GPUs for many steps; our CPU default
(hidden 128) reaches its best validation F1 within the epoch budget at 5e-4 (docs/decisions.md).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from tqdm.auto import tqdm

from trainer.dataset import Dataset


@dataclass
class TrainOptions:
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_epochs: int = 5
    patience: int = 5
    plateau_epochs: int = 2
    max_decays: int = 3
    decay_factor: float = 0.5
    class_weighting: bool = True
    seed: int = 42
    progress: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    best_epoch: int
    best_valid_macro_f1: float
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


@torch.no_grad()
def predict_probs(model: nn.Module, data: Dataset, batch_size: int = 256) -> np.ndarray:
    model.eval()
    tokens, sequence, mask = tensors(data)
    chunks = []
    for start in range(0, len(data), batch_size):
        end = start + batch_size
        out = model(tokens[start:end], sequence[start:end], mask[start:end])
        chunks.append(torch.softmax(out.logits, dim=-1).numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, len(data.classes)), np.float32)


def macro_f1(data: Dataset, probs: np.ndarray) -> float:
    return float(f1_score(data.targets, probs.argmax(axis=1),
                          labels=list(range(len(data.classes))), average="macro",
                          zero_division=0))


def train(model: nn.Module, train_data: Dataset, valid_data: Dataset,
          options: TrainOptions) -> TrainResult:
    """Train in place; the model ends holding the weights of its best validation epoch."""
    seed_everything(options.seed)
    started = time.perf_counter()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=options.learning_rate)
    weights = class_weights(train_data.targets, len(train_data.classes))
    loss_fn = nn.CrossEntropyLoss(weight=weights if options.class_weighting else None)
    tokens, sequence, mask = tensors(train_data)
    targets = torch.from_numpy(train_data.targets)
    steps_per_epoch = max(1, -(-len(train_data) // options.batch_size))
    warmup_steps = options.warmup_epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(options.seed)

    best_f1, best_loss, best_epoch, best_state = -1.0, float("inf"), 0, None
    since_best, since_decay, decays, lr_scale, step = 0, 0, 0, 1.0, 0
    history: list[dict] = []
    bar = tqdm(range(1, options.epochs + 1), desc="training", unit="epoch",
               disable=not options.progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(train_data), generator=generator)
        total = 0.0
        for start in range(0, len(order), options.batch_size):
            rows = order[start:start + options.batch_size]
            step += 1
            warm = min(1.0, step / warmup_steps) if warmup_steps else 1.0
            for group in optimizer.param_groups:
                group["lr"] = options.learning_rate * lr_scale * warm
            out = model(tokens[rows], sequence[rows], mask[rows])
            loss = loss_fn(out.logits, targets[rows])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        probs = predict_probs(model, valid_data)
        valid_f1 = macro_f1(valid_data, probs)
        valid_loss = float(nn.functional.nll_loss(
            torch.log(torch.from_numpy(probs).clamp_min(1e-9)),
            torch.from_numpy(valid_data.targets))) if len(valid_data) else 0.0
        history.append({"epoch": epoch, "train_loss": total / max(1, len(train_data)),
                        "valid_macro_f1": valid_f1, "valid_loss": valid_loss,
                        "lr": options.learning_rate * lr_scale})
        bar.set_postfix(loss=f"{total / max(1, len(train_data)):.4f}", valid_f1=f"{valid_f1:.4f}")
        improved = valid_f1 > best_f1 + 1e-6 or (abs(valid_f1 - best_f1) <= 1e-6
                                                  and valid_loss < best_loss)
        if improved:
            best_f1, best_loss, best_epoch = valid_f1, valid_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
            since_best = since_decay = 0
            continue
        if epoch <= options.warmup_epochs:
            continue  # the paper's warm-up: no decay or stopping while the rate still climbs
        since_best += 1
        since_decay += 1
        if since_best >= options.patience:
            break
        if since_decay >= options.plateau_epochs and decays < options.max_decays:
            lr_scale *= options.decay_factor
            decays += 1
            since_decay = 0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(best_epoch, best_f1, len(history), time.perf_counter() - started, history)
