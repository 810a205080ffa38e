"""The self-contained model directory: everything serving needs, nothing from the trainer.

    model.safetensors    weights (safetensors: no pickle, so loading runs no code)
    config.json          ModelConfig
    classes.json         class names in head order
    feature_config.json  how the modalities were built (window, mode, max_tokens, ...)
    metrics.json         training/validation metrics
    decision.json        decision thresholds on the event and context scores (chosen on the
                         validation split; absent in older directories, which then use 0.5)
    memory.json          the template memory (colog/core/model/memory.py; optional)
    version.json         colog version, creation time, content hash of the files above
    tokenizer.json       (and any other extra file) copied in

The directory is written to a temporary sibling and renamed into place, so a reader sees the old
model or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colog import __version__
from colog.core.features.spec import FeatureSpec
from colog.core.model.config import ConfigError, ModelConfig
from colog.core.model.memory import MEMORY_FILE, TemplateMemory
from colog.core.model.network import CoLog
from colog.core.verdict import DECISION_FILE, Thresholds

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CLASSES = "classes.json"
FEATURES = "feature_config.json"
METRICS = "metrics.json"
VERSION = "version.json"
DECISION = DECISION_FILE
HASHED = (WEIGHTS, CONFIG, CLASSES, FEATURES)
OPTIONAL_HASHED = (DECISION, MEMORY_FILE)  # hashed when present: older directories lack them
KNOWN_CLASSES = {2: ["normal", "anomaly"], 4: ["normal", "event", "context", "both"]}


class ModelDirError(ValueError):
    """A model directory that cannot be loaded (or written); the message names the file."""


def content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in HASHED + tuple(n for n in OPTIONAL_HASHED if (directory / n).is_file()):
        digest.update(name.encode())
        with (directory / name).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True, default=_jsonable) + "\n",
                    encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_classes(classes: Any, num_classes: int, where: str) -> list[str]:
    expected = KNOWN_CLASSES.get(num_classes)
    if classes != expected:
        raise ModelDirError(f"{where}: unknown class list {classes!r}; a {num_classes}-class "
                            f"model has {expected}")
    return list(classes)


def save_model_dir(out: Path, model: CoLog, config: ModelConfig, *, classes: list[str],
                   feature_config: dict, metrics: dict,
                   extra_files: dict[str, Path] | None = None,
                   thresholds: Thresholds | None = None,
                   memory: TemplateMemory | None = None) -> Path:
    out = Path(out)
    _check_classes(list(classes), config.num_classes, "classes")
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / VERSION).is_file())):
        raise ModelDirError(f"{out} exists and is not a model directory: refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS))
        _write_json(staging / CONFIG, config.to_dict())
        _write_json(staging / CLASSES, list(classes))
        _write_json(staging / FEATURES, feature_config)
        _write_json(staging / METRICS, metrics)
        _write_json(staging / DECISION, (thresholds or Thresholds()).to_dict())
        if memory is not None:
            memory.save(staging)
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, staging / name)
        _write_json(staging / VERSION, {
            "colog_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "content_hash": content_hash(staging),
            "format": 1,
        })
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _swap_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{staging.name}")
    out.rename(old)          # the only window without `out` is between these two renames
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _read_json(directory: Path, name: str, required: bool = True) -> Any:
    path = directory / name
    if not path.is_file():
        if required:
            raise ModelDirError(f"{path} is missing")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path} is corrupt: not valid JSON ({exc})") from exc


@dataclass
class LoadedModel:
    path: Path
    config: ModelConfig
    classes: list[str]
    feature_config: dict
    metrics: dict
    version: dict
    model: CoLog
    device: torch.device
    thresholds: Thresholds = Thresholds()
    memory: TemplateMemory | None = None

    @property
    def features(self) -> FeatureSpec:
        """How this model's inputs are built (raises FeatureSpecError when malformed)."""
        return FeatureSpec.from_mapping(self.feature_config)

    @torch.no_grad()
    def predict(self, tokens: np.ndarray, sequence: np.ndarray, sequence_mask: np.ndarray,
                batch_size: int = 256) -> dict[str, np.ndarray]:
        """Class probabilities and the explanation outputs, as float32 numpy arrays."""
        n = len(tokens)
        if not (len(sequence) == len(sequence_mask) == n):
            raise ValueError(f"batch sizes differ: tokens {n}, sequence {len(sequence)}, "
                             f"sequence_mask {len(sequence_mask)}")
        k = self.config.context_length
        if n and (sequence.shape[1] != k or sequence_mask.shape[1] != k):
            raise ValueError(f"this model needs {k} window rows, got {sequence.shape[1]}")
        parts: dict[str, list[np.ndarray]] = {key: [] for key in
                                              ("probs", "modality_weights", "context_attention",
                                               "token_attention")}
        for start in range(0, n, batch_size):
            end = start + batch_size
            out = self.model(
                torch.as_tensor(np.asarray(tokens[start:end], np.int64), device=self.device),
                torch.as_tensor(np.asarray(sequence[start:end], np.float32), device=self.device),
                torch.as_tensor(np.asarray(sequence_mask[start:end], np.float32),
                                device=self.device))
            probs = torch.softmax(out.logits, dim=-1).cpu().numpy()
            if self.memory is not None:
                probs = self.memory.apply(probs, np.asarray(tokens[start:end]), self.classes)
            parts["probs"].append(probs)
            parts["modality_weights"].append(out.modality_weights.cpu().numpy())
            parts["context_attention"].append(out.context_attention.cpu().numpy())
            parts["token_attention"].append(out.token_attention.cpu().numpy())
        widths = {"probs": len(self.classes), "modality_weights": 2, "context_attention": k,
                  "token_attention": tokens.shape[1] if n else self.config.max_tokens}
        return {key: (np.concatenate(chunks).astype(np.float32) if chunks
                      else np.zeros((0, widths[key]), np.float32))
                for key, chunks in parts.items()}


def load_model_dir(path: Path, device: str | torch.device = "cpu",
                   verify: bool = True) -> LoadedModel:
    """Load a model directory for inference (eval mode). `verify` checks the content hash."""
    directory = Path(path)
    if not directory.is_dir():
        raise ModelDirError(f"model directory {directory} does not exist")
    weights_path = directory / WEIGHTS
    if not weights_path.is_file():
        raise ModelDirError(f"{weights_path} is missing: not a complete model directory")
    raw_config = _read_json(directory, CONFIG)
    try:
        config = ModelConfig.from_dict(raw_config)
    except (ConfigError, TypeError) as exc:
        raise ModelDirError(f"{directory / CONFIG} is invalid: {exc}") from exc
    classes = _check_classes(_read_json(directory, CLASSES), config.num_classes,
                             str(directory / CLASSES))
    features = _read_json(directory, FEATURES)
    if not isinstance(features, dict):
        raise ModelDirError(f"{directory / FEATURES} is corrupt: expected a JSON object")
    metrics = _read_json(directory, METRICS, required=False) or {}
    decision = _read_json(directory, DECISION, required=False)
    try:
        thresholds = Thresholds() if decision is None else Thresholds.from_dict(decision)
    except ValueError as exc:
        raise ModelDirError(f"{directory / DECISION} is invalid: {exc}") from exc
    remembered = _read_json(directory, MEMORY_FILE, required=False)
    try:
        memory = None if remembered is None else TemplateMemory.from_dict(remembered)
    except ValueError as exc:
        raise ModelDirError(f"{directory / MEMORY_FILE} is invalid: {exc}") from exc
    version = _read_json(directory, VERSION, required=False) or {}
    recorded = version.get("content_hash")
    if verify and recorded and content_hash(directory) != recorded:
        raise ModelDirError(f"{directory / VERSION}: content hash mismatch, the weights or "
                            "config changed after the model was written")

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelDirError(f"{weights_path} is corrupt: {exc}") from exc
    model = CoLog(config, pretrained_tokens=False)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(part for part in (
            f"missing {missing[:5]}" if missing else "",
            f"unexpected {unexpected[:5]}" if unexpected else "",
            "wrong shapes " + ", ".join(f"{k} {tuple(state[k].shape)} != "
                                        f"{tuple(expected[k].shape)}" for k in wrong[:5])
            if wrong else "") if part)
        raise ModelDirError(f"{weights_path} does not match {directory / CONFIG}: {detail}")
    model.load_state_dict(state)
    device = torch.device(device)
    model.to(device).eval()
    return LoadedModel(directory, config, classes, features, metrics, version, model, device,
                       thresholds, memory)
