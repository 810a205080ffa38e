"""Client for the CoLog models on Triton (tritonclient, gRPC by default, HTTP selectable).

- Batching: rows are sent in chunks of the model's `max_batch_size` (read from its config).
  The first chunk may go to any served version; the rest are pinned to the version that
  answered it, so one call never mixes two model versions.
- Timeouts: every request carries `settings.triton_timeout_s`.
- Retries: unreachable server / deadline exceeded are retried `settings.triton_retries` times with
  exponential backoff, then :class:`TritonUnavailable`. A model (or version) that is not loaded
  raises :class:`ModelNotReady` at once, naming the model and the server.
- Fork safety: the underlying connection is created lazily and re-created in a new process
  (gRPC channels made before a fork can hang; see docs/design.md §9).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from colog.core.features.spec import EMBEDDING_DIM
from colog.core.serving.repository import FeatureParameters

OUTPUTS = ("probs", "modality_weights", "context_attention", "token_attention")
_NOT_READY_STATUS = {"StatusCode.NOT_FOUND", "StatusCode.UNAVAILABLE_MODEL", "404"}
_RETRY_STATUS = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "502", "503", "504"}


class TritonError(Exception):
    """Triton answered with an error, or could not be asked. `url` names the server (the CLI's
    one-line error reports it), empty when unknown."""

    def __init__(self, message: str = "", url: str = ""):
        super().__init__(message)
        self.url = url


class TritonUnavailable(TritonError):
    """The server could not be reached (after retries)."""


class ModelNotReady(TritonError):
    """The requested model or version is not loaded on the server."""

    def __init__(self, model: str, url: str, version: str = "", detail: str = ""):
        self.model, self.version, self.detail = model, version, detail
        what = f"model '{model}'" + (f" version {version}" if version else "")
        super().__init__(
            f"{what} is not ready on Triton at {url}"
            + (f" ({detail})" if detail else "")
            + ". Place and load a model with `colog serve --model MODEL_DIR`, "
            "or check `colog stack status`.",
            url,
        )


class TritonClient:
    def __init__(self, settings: Any = None, *, protocol: str | None = None, url: str | None = None,
                 model: str | None = None, embedder_model: str | None = None,
                 timeout_s: float | None = None, retries: int | None = None,
                 backoff_s: float = 0.2):
        if settings is None:
            from colog.core.settings import get_settings

            settings = get_settings()
        self.protocol = protocol or settings.triton_protocol
        if self.protocol not in ("grpc", "http"):
            raise ValueError(f"triton protocol must be 'grpc' or 'http', not {self.protocol!r}")
        if self.protocol == settings.triton_protocol:
            default_url = settings.triton_url
        elif self.protocol == "http":
            default_url = settings.triton_http_url
        else:  # gRPC asked for while settings name HTTP: Triton's gRPC port on the same host
            default_url = settings.triton_http_url.split("://")[-1].rpartition(":")[0] + ":8001"
        self.url = (url or default_url).split("://")[-1]
        self.model = model or settings.triton_model
        self.embedder_model = embedder_model or settings.triton_embedder_model
        self.timeout_s = float(timeout_s if timeout_s is not None else settings.triton_timeout_s)
        self.retries = int(retries if retries is not None else settings.triton_retries)
        self.backoff_s = backoff_s
        self.settings = settings  # re-read for the repository API key (a rotated Secret)
        self._conn: Any = None
        self._pid: int | None = None
        self._max_batch: dict[str, int] = {}

    # --- connection ---------------------------------------------------------------------------

    @property
    def _module(self):
        if self.protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
        return module

    def _client(self):
        if self._conn is None or self._pid != os.getpid():
            if self.protocol == "grpc":
                self._conn = self._module.InferenceServerClient(self.url)
            else:
                self._conn = self._module.InferenceServerClient(
                    self.url, connection_timeout=self.timeout_s, network_timeout=self.timeout_s)
            self._pid = os.getpid()
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 — closing a dead connection
                pass
        self._conn = None

    def _call(self, what: str, fn, model: str = "", version: str = ""):
        """Run `fn(client)` with retries on unavailability; map errors to ours."""
        from tritonclient.utils import InferenceServerException

        attempt = 0
        while True:
            try:
                return fn(self._client())
            except InferenceServerException as exc:
                status = str(exc.status() or "")
                message = exc.message() or str(exc)
                if model and (status in _NOT_READY_STATUS or "not ready" in message
                              or "unknown model" in message.lower()):
                    raise ModelNotReady(model, self.url, version, message) from exc
                if status not in _RETRY_STATUS:
                    raise TritonError(f"Triton at {self.url}: {what} failed: {message}",
                                      self.url) from exc
                error: Exception = exc
                if status == "StatusCode.UNAVAILABLE":
                    # A gRPC channel whose server went away reconnects on its own backoff
                    # (growing to minutes), so a restarted Triton could wait unused; a new
                    # channel connects as soon as the server answers (tests/faults). Dropped,
                    # not closed: another thread may still be using it (one client per process).
                    self._conn = None
            except (ConnectionError, OSError, TimeoutError) as exc:  # HTTP transport errors
                error = exc
                self._conn = None  # reconnect: the HTTP pool may hold a dead socket
            if attempt >= self.retries:
                raise TritonUnavailable(
                    f"Triton at {self.url} ({self.protocol}) unreachable for {what} after "
                    f"{attempt + 1} attempts: {error}. Is it running? `colog stack status`",
                    self.url,
                ) from error
            time.sleep(self.backoff_s * (2 ** attempt))
            attempt += 1

    # --- metadata -----------------------------------------------------------------------------

    def model_config(self, model: str | None = None) -> dict[str, Any]:
        model = model or self.model

        def get(c):
            if self.protocol == "grpc":
                return c.get_model_config(model, as_json=True, client_timeout=self.timeout_s)["config"]
            return c.get_model_config(model)

        return self._call("get model config", get, model=model)

    def max_batch_size(self, model: str | None = None) -> int:
        model = model or self.model
        if model not in self._max_batch:
            self._max_batch[model] = int(self.model_config(model).get("max_batch_size", 0)) or 1
        return self._max_batch[model]

    def model_parameters(self) -> FeatureParameters:
        """Feature settings of the served `colog` model (window, sequence mode, tokens, classes)."""
        raw = self.model_config(self.model).get("parameters", {})
        return FeatureParameters.from_config({k: v.get("string_value", "") for k, v in raw.items()})

    def is_model_ready(self, model: str | None = None, version: str = "") -> bool:
        model = model or self.model
        return bool(self._call("readiness", lambda c: c.is_model_ready(model, version)))

    def ready_versions(self, model: str | None = None) -> list[int]:
        """The versions of `model` Triton serves now (its metadata lists the ready ones)."""
        model = model or self.model

        def get(c):
            if self.protocol == "grpc":
                return list(c.get_model_metadata(model, client_timeout=self.timeout_s).versions)
            return list(c.get_model_metadata(model).get("versions", []))

        return sorted(int(v) for v in self._call("model metadata", get, model=model)
                      if str(v).isdigit())


    # --- model control (EXPLICIT mode) --------------------------------------------------------

    def repository_headers(self) -> dict[str, str] | None:
        """The header Triton's restricted repository API asks for (`--http-restricted-api` /
        `--grpc-restricted-protocol model-repository:NAME=VALUE`), or None when unrestricted.
        The value is read on every call, so a rotated Secret file applies at once."""
        name = getattr(self.settings, "triton_repository_api_header", "")
        if not name:
            return None
        value = self.settings.triton_repository_api_secret()
        if not value:
            raise TritonError("COLOG_TRITON_REPOSITORY_API_HEADER is set but no key: set "
                              "COLOG_TRITON_REPOSITORY_API_KEY(_FILE)", self.url)
        if self.protocol == "grpc":
            # Triton's gRPC frontend matches metadata `triton-grpc-protocol-<key>` (lower case,
            # as gRPC metadata keys must be); found against a real server, tests/integration.
            return {f"triton-grpc-protocol-{name.lower()}": value}
        return {name: value}

    def load_model(self, version: int | str | None = None, model: str | None = None) -> None:
        """(Re)load `model` from the repository: its newest versions per its version policy, or
        only `version` (a rollback) through a config override. Returns when it is ready.

        Known limit: after a pinned load, a plain load keeps serving the pinned version (Triton
        keeps the override); placing a new version or restarting Triton ends the pin."""
        model = model or self.model
        config = None
        if version is not None:
            current = self.model_config(model)
            current["version_policy"] = {"specific": {"versions": [int(version)]}}
            config = json.dumps(current)
        headers = self.repository_headers()
        self._call(f"load {model}", lambda c: c.load_model(model, config=config, headers=headers))
        if not self.is_model_ready(model, "" if version is None else str(version)):
            raise ModelNotReady(model, self.url, "" if version is None else str(version),
                                "load returned but the model is not ready")

    def unload_model(self, model: str | None = None) -> None:
        model = model or self.model
        headers = self.repository_headers()
        self._call(f"unload {model}", lambda c: c.unload_model(model, headers=headers))

    # --- inference ----------------------------------------------------------------------------

    def _tensor(self, name: str, array: np.ndarray, dtype: str):
        tensor = self._module.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        return tensor

    def _infer(self, model: str, inputs: list, outputs: Sequence[str], version: str):
        requested = [self._module.InferRequestedOutput(name) for name in outputs]

        def run(c):
            if self.protocol == "grpc":
                return c.infer(model, inputs, model_version=version, outputs=requested,
                               client_timeout=self.timeout_s)
            return c.infer(model, inputs, model_version=version, outputs=requested)

        result = self._call(f"infer {model}", run, model=model, version=version)
        response = result.get_response()
        answered = response.model_version if self.protocol == "grpc" else response.get("model_version", "")
        return {name: result.as_numpy(name) for name in outputs}, str(answered)

    def infer(self, tokens: np.ndarray, sequence: np.ndarray, sequence_mask: np.ndarray,
              version: int | str | None = None, outputs: Sequence[str] = OUTPUTS
              ) -> tuple[dict[str, np.ndarray], str]:
        """Outputs of `colog` for B rows (all four, or only those asked for), and the model
        version that answered them all."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int64)
        sequence = np.ascontiguousarray(sequence, dtype=np.float32)
        sequence_mask = np.ascontiguousarray(sequence_mask, dtype=np.float32)
        rows = len(tokens)
        if tokens.ndim != 2 or sequence.ndim != 3 or sequence_mask.ndim != 2:
            raise ValueError("expected tokens [B,L], sequence [B,K,384], sequence_mask [B,K]; got "
                             f"{tokens.shape}, {sequence.shape}, {sequence_mask.shape}")
        if len(sequence) != rows or len(sequence_mask) != rows or sequence.shape[1] != sequence_mask.shape[1]:
            raise ValueError("tokens, sequence and sequence_mask disagree on B or K: "
                             f"{tokens.shape}, {sequence.shape}, {sequence_mask.shape}")
        if sequence.shape[2] != EMBEDDING_DIM:
            raise ValueError(f"sequence rows must be {EMBEDDING_DIM}-d, got {sequence.shape[2]}")
        if rows == 0:
            raise ValueError("infer needs at least one row")
        unknown = set(outputs) - set(OUTPUTS)
        if unknown or not outputs:
            raise ValueError(f"outputs must be some of {OUTPUTS}, got {list(outputs)}")
        pinned = "" if version is None else str(version)
        step = self.max_batch_size(self.model)
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, rows, step):
            end = start + step
            inputs = [self._tensor("tokens", tokens[start:end], "INT64"),
                      self._tensor("sequence", sequence[start:end], "FP32"),
                      self._tensor("sequence_mask", sequence_mask[start:end], "FP32")]
            answer, answered = self._infer(self.model, inputs, tuple(outputs), pinned)
            pinned = pinned or answered
            parts.append(answer)
        merged = {name: np.concatenate([p[name] for p in parts]) for name in outputs}
        return merged, pinned

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, 384] all-MiniLM-L6-v2 embeddings from `colog_embedder`."""
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ValueError(f"embed needs strings; items {bad[:10]} are not")
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        step = self.max_batch_size(self.embedder_model)
        chunks = []
        for start in range(0, len(texts), step):
            batch = np.array([[t.encode("utf-8")] for t in texts[start:start + step]], dtype=object)
            outputs, _ = self._infer(self.embedder_model, [self._tensor("text", batch, "BYTES")],
                                     ("embedding",), "")
            chunks.append(outputs["embedding"])
        return np.concatenate(chunks).astype(np.float32)


_clients: dict[tuple, TritonClient] = {}


def get_client(settings: Any = None, protocol: str | None = None) -> TritonClient:
    """One client per process, server and model, created on first use, never inherited by a
    fork. Keyed by where it points: a process that talks to two servers (a test session, a
    shadow deployment) must never get the first server's client for the second."""
    if settings is None:
        from colog.core.settings import get_settings

        settings = get_settings()
    fresh = TritonClient(settings, protocol=protocol)
    key = (os.getpid(), fresh.protocol, fresh.url, fresh.model, fresh.embedder_model,
           fresh.timeout_s, fresh.retries)
    return _clients.setdefault(key, fresh)
