"""`colog shadow start|stop|promote|status`: a candidate served as its own Triton model.

The candidate is placed in the live repository as a version of `triton_shadow_model` (served
from the `colog` template, so the same backend and the same template memory) and loaded; the
workers notice within `shadow_check_s` (colog/services/enrich/shadow_scoring.py). Versions of the
shadow model are never reused, so `colog.shadow.model.version` names one candidate for good;
`shadow.json` in the shadow model's folder records which candidate is (or was last) in shadow.

A candidate must build the inputs the live model builds (window, sequence mode, tokens) and
have the same head: shadow compares two models on the same rows, nothing else. Promotion goes
through the release gate like `colog publish`, then stops the shadow.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from colog.core.clock import now_iso
from colog.core.serving import repository

STATE_FILE = "shadow.json"


class ShadowError(Exception):
    """A shadow step that cannot go on; the message says why and what to do."""


@dataclass
class ShadowState:
    model: str
    version: int | None          # the candidate's version of the shadow model
    source: str | None           # the model directory it was started from
    content_hash: str | None
    started_at: str | None
    stopped_at: str | None = None

    @property
    def running(self) -> bool:
        return self.version is not None and self.stopped_at is None

    def as_dict(self) -> dict:
        return dict(self.__dict__)



def _folder(settings) -> Path:
    return repository.live_repository(settings) / settings.triton_shadow_model


def read_state(settings) -> ShadowState:
    path = _folder(settings) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ShadowState(**{k: data.get(k) for k in ShadowState.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return ShadowState(settings.triton_shadow_model, None, None, None, None)


def _write_state(settings, state: ShadowState) -> None:
    path = _folder(settings) / STATE_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state.as_dict(), indent=2), encoding="utf-8")
    tmp.replace(path)


def _clients(settings, triton=None):
    from colog.core.serving.client import TritonClient

    live = triton or TritonClient(settings)
    shadow = TritonClient(settings, protocol=live.protocol, url=live.url,
                          model=settings.triton_shadow_model)
    return live, shadow


def check_compatible(candidate: repository.FeatureParameters,
                     live: repository.FeatureParameters) -> None:
    wanted = (live.features.window, live.features.sequence_mode, live.features.max_tokens,
              list(live.classes))
    got = (candidate.features.window, candidate.features.sequence_mode,
           candidate.features.max_tokens, list(candidate.classes))
    if got != wanted:
        names = ("window", "sequence mode", "max tokens", "classes")
        diff = ", ".join(f"{n} {g!r} (live {w!r})" for n, g, w in zip(names, got, wanted)
                         if g != w)
        raise ShadowError(f"the candidate builds other inputs or another head than the live "
                          f"model: {diff}. Shadow compares models on the same rows; publish it "
                          "through `colog publish` (the gate) instead")


def _remove_versions(folder: Path, keep: int | None = None) -> None:
    for version in repository.list_versions(folder.parent, folder.name):
        if version != keep:
            shutil.rmtree(folder / str(version), ignore_errors=True)


def start(settings, model_dir: Path, triton=None) -> ShadowState:
    """Serve `model_dir` as the shadow model (replacing any running candidate)."""
    from colog.services.train.release import content_hash_of

    model_dir = Path(model_dir)
    try:
        candidate = repository.feature_parameters(model_dir)
    except repository.RepositoryError as exc:
        raise ShadowError(str(exc)) from exc
    live_client, shadow_client = _clients(settings, triton)
    check_compatible(candidate, live_client.model_parameters())
    repo = repository.live_repository(settings)
    previous = read_state(settings)
    folder = _folder(settings)
    first = max([previous.version or 0, *repository.list_versions(repo, folder.name)]) + 1
    version = repository.place_version(repo, model_dir, settings.triton_instance_kind,
                                       model=folder.name, first_version=first)
    _remove_versions(folder, keep=version)
    state = ShadowState(folder.name, version, str(model_dir.resolve()),
                        content_hash_of(model_dir), now_iso())
    _write_state(settings, state)
    shadow_client.load_model(model=folder.name)
    return state


def stop(settings, triton=None) -> ShadowState:
    """Unload the shadow model and remove its versions; the state keeps which one it was."""
    from colog.core.serving.client import TritonError

    state = read_state(settings)
    _, shadow_client = _clients(settings, triton)
    try:
        shadow_client.unload_model(model=settings.triton_shadow_model)
    except TritonError as exc:
        if "unknown model" not in str(exc).lower() and "not found" not in str(exc).lower():
            raise
    folder = _folder(settings)
    if folder.is_dir():
        _remove_versions(folder)
    if state.version is not None and state.stopped_at is None:
        state.stopped_at = now_iso()
        _write_state(settings, state)
    return state


def candidate_dir(settings, state: ShadowState) -> Path:
    if not state.running:
        raise ShadowError("no candidate is in shadow: start one with `colog shadow start "
                          "MODEL_DIR`")
    path = _folder(settings) / str(state.version) / repository.VERSION_MODEL_DIR
    if not path.is_dir():
        raise ShadowError(f"{path} is missing: the shadow's files were removed; start it again")
    return path


def promote(os_client, settings, console, force: bool = False, triton=None):
    """Publish the candidate in shadow through the release gate; stop the shadow if it went
    live. Returns the release outcome (a refusal leaves the shadow running)."""
    from colog.services.train.release import gate_model_dir, release

    state = read_state(settings)
    source = candidate_dir(settings, state)
    with tempfile.TemporaryDirectory(prefix="colog-promote-") as tmp:
        # Copy out first: a version is placed from a folder outside the repository.
        model_dir = Path(tmp) / repository.VERSION_MODEL_DIR
        shutil.copytree(source, model_dir)
        gate_result, export = gate_model_dir(os_client, settings, model_dir, console)
        outcome = release(os_client, settings, model_dir, gate_result=gate_result, export=export,
                          trigger="shadow", force=force,
                          extra={"shadow_version": str(state.version)}, triton=triton)
    if outcome.published:
        stop(settings, triton)
    return outcome
