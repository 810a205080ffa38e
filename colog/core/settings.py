"""Effective settings, read from COLOG_* environment variables, a `.env` file, or secret files.

Every component (CLI, worker, trainer, local stack, tests) reads the same object, so the local
stack's defaults are exactly what a tool that knows only the defaults will look for.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from colog.core.redaction import redact

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# ECS fields that say which program or source an event came from, most specific first.
DEFAULT_STREAM_SOURCE_FIELDS = ("log.syslog.appname", "service.name", "process.name",
                                "log.file.path", "event.dataset", "data_stream.dataset")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COLOG_",
        env_file=".env",
        env_file_encoding="utf-8",
        # Kubernetes mounts Secrets as files named after the key: COLOG_SECRETS_DIR points there.
        secrets_dir=None,
        extra="ignore",
    )

    # --- the search engine -------------------------------------------------------------------
    # COLOG_OPENSEARCH_* below configure the connection to whichever engine this names (the
    # names predate Elasticsearch support and stay, so existing deployments keep working).
    engine: Literal["opensearch", "elasticsearch"] = Field(
        "opensearch", description="which search engine the cluster runs")
    opensearch_url: str = Field(
        "http://127.0.0.1:9200", description="comma-separated node URLs"
    )
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_password_file: Path | None = Field(
        None, description="file holding the password (takes precedence over the env value)"
    )
    opensearch_ca_certs: Path | None = Field(None, description="CA bundle for TLS verification")
    opensearch_verify_certs: bool = True
    opensearch_timeout_s: float = 30.0

    # --- Redis ----------------------------------------------------------------------------------
    # By role: `redis_url` holds what must survive (Celery broker, partition leases, the retrain
    # lock, the Drain state) and must never evict; `cache_redis_url` holds what may be dropped
    # at any time (embedding cache, verdict cache) and should evict (allkeys-lru).
    redis_url: str = Field("redis://127.0.0.1:6379/0",
                           description="broker, leases, Drain state: persistent, noeviction")
    cache_redis_url: str | None = Field(
        None, description="embedding/verdict caches: an evicting Redis (or database); "
        "default: the same as COLOG_REDIS_URL")
    redis_timeout_s: float = Field(
        5.0, gt=0, description="connect and socket timeout of every Redis call: a Redis that "
        "stops answering fails the call instead of hanging the worker")

    # --- Triton --------------------------------------------------------------------------------
    triton_url: str = Field("127.0.0.1:8001", description="host:port of the chosen protocol")
    triton_http_url: str = "127.0.0.1:8000"
    triton_protocol: Literal["grpc", "http"] = "grpc"
    triton_metrics_port: int = 8002
    triton_model: str = "colog"
    triton_embedder_model: str = "colog_embedder"
    triton_timeout_s: float = 30.0
    triton_retries: int = 4
    triton_instance_kind: Literal["KIND_CPU", "KIND_GPU"] = "KIND_CPU"
    triton_cpu_threads: int = Field(
        1, ge=1, description="torch threads per CPU model instance (each model is a process)")
    triton_model_repository: Path = PROJECT_ROOT / "triton_models"
    triton_onnx_threads: int = Field(
        2, ge=1, description="ONNX Runtime intra-op threads per model instance (threads sleep "
        "when idle, so an idle model costs nothing; the worker waits while a model computes)")
    inference_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="how the Python-backend models run: ONNX Runtime on the exports "
        "written at placement (falls back to PyTorch for a version without one), or PyTorch")
    triton_load_endpoints: str = Field(
        "", description="comma-separated Triton servers a publish or rollback loads the model on "
        "(host:port of the protocol in use); `dns:NAME:PORT` stands for every address NAME "
        "resolves to (a headless Service: one per Triton pod). Empty: only COLOG_TRITON_URL")
    triton_repository_api_header: str = Field(
        "", description="header Triton's restricted repository API (load/unload) requires")
    triton_repository_api_key: SecretStr | None = None
    triton_repository_api_key_file: Path | None = Field(
        None, description="file holding the header's value (re-read on every load: rotation)")

    # --- documents ---------------------------------------------------------------------------
    index_pattern: str = "logs-*"
    incidents_index: str = "colog-incidents"
    models_index: str = "colog-models"
    # The stream key (colog/core/engine/streams.py): every `stream_fields` value, then the first
    # present `stream_fallback_fields` value. The order puts what names one program before what
    # names a shared source: a syslog file or a `system.syslog` dataset holds many programs.
    stream_fields: list[str] = Field(
        default_factory=lambda: ["host.name"], description="always part of the stream key")
    stream_fallback_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STREAM_SOURCE_FIELDS),
        description="the first of these present completes the stream key")
    max_message_bytes: int = 16384

    # --- model / modalities ------------------------------------------------------------------
    window: int = 1
    sequence_mode: Literal["context", "background"] = "context"
    max_tokens: int = 60
    context_timeout_s: float = 60.0

    # --- batching ------------------------------------------------------------------------------
    read_batch_size: int = 500
    write_batch_size: int = 500
    inference_batch_size: int = 256
    embed_batch_size: int = 128
    partitions: int = 8

    # --- local stack ---------------------------------------------------------------------------
    # --- worker runtime ---
    beat_interval_s: float = Field(10.0, description="how often beat dispatches pending partitions")
    partition_lock_ttl_s: float = Field(
        120.0, description="a partition lock outlives a killed worker by at most this long")
    embedding_cache: bool = True
    embedding_cache_ttl_s: int = 7 * 24 * 3600
    verdict_reuse: bool = Field(
        True, description="identical model inputs are scored once: deduplicated per batch and "
        "(with verdict_cache) kept in Redis per model version (colog/services/enrich/verdict_reuse.py)")
    verdict_cache: bool = True
    verdict_cache_ttl_s: int = Field(24 * 3600, ge=1)
    verdict_version_check_s: float = Field(
        10.0, gt=0.0, description="how often a worker asks Triton for the newest version "
        "(reused verdicts are keyed by it; a publish is picked up within this time)")
    drain_state_key: str = "colog:drain:state"
    metrics_port: int = 9108
    beat_metrics_port: int = Field(
        9109, description="where `colog beat` serves the pending-documents and lag gauges "
        "(its own port: a worker and beat on one host must not collide)")
    heartbeat_file: Path = Field(Path("/tmp/colog-worker.heartbeat"),
                                 description="touched by the worker; `colog health` reads it")
    heartbeat_max_age_s: float = 120.0
    heartbeat_interval_s: float = Field(
        15.0, gt=0, description="how often the worker's consumer checks itself and writes the "
        "heartbeat (only when the broker answers and running tasks make progress)")
    progress_stall_s: float = Field(
        600.0, gt=0, description="running tasks that read or write nothing for this long make "
        "the worker unhealthy")
    beat_heartbeat_file: Path = Field(Path("/tmp/colog-beat.heartbeat"),
                                      description="touched by beat after each scheduler tick")
    score_threshold: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="override the served model's own decision thresholds (chosen on its "
        "validation split by `colog train`) with one cut on the event and context scores")
    explanations: bool = Field(
        True, description="explain anomalous verdicts (colog.explanation, colog.attribution.*, "
        "colog.neighbour.*) by occlusion: extra rows of the same model, for anomalies only "
        "(docs/explanations.md)")

    # --- incidents and alerting ---
    incident_quiet_period_s: float = 300.0
    alert_interval_minutes: int = 5
    alert_min_anomalies: int = 1
    alert_min_incidents: int = 1
    alert_destination_id: str | None = Field(
        None, description="an Alerting destination (Notifications channel) id: `colog setup "
        "--monitors` then gives every trigger an action whose message lists the anomalies "
        "with their explanations")
    dashboards_url: str | None = None

    # --- retraining and releases ---
    retrain_interval_s: float = Field(0.0, description="0 = scheduled retraining off")
    gate_margin: float = Field(0.0, description="candidate macro F1 may be this much lower")
    holdout_fraction: float = 0.2
    retrain_on_drift: bool = Field(
        False, description="scheduled retraining runs only when the drift monitor set the "
        "retrain flag (with COLOG_RETRAIN_INTERVAL_S > 0)")

    # --- drift monitor (colog/services/drift/) ---
    drift_index: str = "colog-drift"
    drift_interval_s: float = Field(300.0, description="how often beat checks drift; 0 = off")
    drift_window_s: float = Field(3600.0, description="the recent window, in event time")
    drift_reference_s: float = Field(
        86400.0, description="the trailing reference: this long, just before the recent window")
    drift_reference: Literal["auto", "trailing", "training"] = Field(
        "auto", description="compare with the live model's training data (auto: when its "
        "release recorded a profile) or with the trailing window")
    drift_min_events: int = Field(200, ge=1, description="fewer events in a window: no verdict")
    drift_templates_js: float = Field(0.5, gt=0.0, le=1.0)
    drift_new_share: float = Field(0.3, gt=0.0, le=1.0)
    drift_unseen_share: float = Field(0.3, gt=0.0, le=1.0)
    drift_score_js: float = Field(0.3, gt=0.0, le=1.0)
    drift_max_streams: int = 500
    drift_max_templates: int = 2000

    # --- shadow evaluation (colog/services/shadow/) ---
    triton_shadow_model: str = "colog_shadow"
    shadow_check_s: float = Field(
        10.0, description="how often a worker asks Triton whether a shadow model is served")

    cache_dir: Path = PROJECT_ROOT / ".cache"
    opensearch_version: str = Field("2.19.1", description="local stack's OpenSearch")
    elasticsearch_version: str = Field("9.1.0", description="local stack's Elasticsearch")
    opensearch_heap: str = Field("1g", description="local stack's engine heap (either engine)")

    @field_validator("stream_fields", "stream_fallback_fields", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def engine_product(self) -> str:
        return "Elasticsearch" if self.engine == "elasticsearch" else "OpenSearch"

    @property
    def engine_version(self) -> str:
        """The local stack's version of the configured engine."""
        return self.elasticsearch_version if self.engine == "elasticsearch" \
            else self.opensearch_version

    @property
    def opensearch_hosts(self) -> list[str]:
        return [url.strip() for url in self.opensearch_url.split(",") if url.strip()]

    def opensearch_secret(self) -> str | None:
        """The password, from its file when one is configured (rotated Secrets land there)."""
        if self.opensearch_password_file is not None:
            return self.opensearch_password_file.read_text(encoding="utf-8").strip()
        if self.opensearch_password is not None:
            return self.opensearch_password.get_secret_value()
        return None

    @property
    def effective_cache_redis_url(self) -> str:
        return self.cache_redis_url or self.redis_url

    def triton_repository_api_secret(self) -> str | None:
        """The restricted repository API's header value, from its file when one is configured
        (read each time: a rotated Secret is picked up without a restart)."""
        if self.triton_repository_api_key_file is not None:
            return self.triton_repository_api_key_file.read_text(encoding="utf-8").strip()
        if self.triton_repository_api_key is not None:
            return self.triton_repository_api_key.get_secret_value()
        return None

    def masked(self) -> dict[str, object]:
        """Settings as a plain dict with every secret replaced, for `colog config` and logs."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                shown[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                shown[name] = str(value)
            elif isinstance(value, str):
                shown[name] = redact(value)  # a password inside COLOG_OPENSEARCH_URL / REDIS_URL
            else:
                shown[name] = value
        return shown


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    # Secret files (one per setting, named like the field, e.g. opensearch_password) are read
    # from COLOG_SECRETS_DIR when it is set: that is how Kubernetes mounts a Secret.
    secrets_dir = os.environ.get("COLOG_SECRETS_DIR")
    return Settings(_secrets_dir=secrets_dir) if secrets_dir else Settings()
