"""Prometheus metrics of the worker (served on COLOG_METRICS_PORT by `colog worker`). The
cluster-wide gauges (pending documents, lag) are beat's alone: colog/services/enrich/lag.py."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from colog.services.enrich.writer import WriteReport

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class WorkerMetrics:
    """One set per process; the prometheus_client default registry holds them."""

    _instance: "WorkerMetrics | None" = None

    def __new__(cls):
        if cls._instance is None:
            self = super().__new__(cls)
            self.documents = Counter("colog_documents_total",
                                     "Documents given a final status", ["status"])
            self.write_outcomes = Counter("colog_write_outcomes_total",
                                          "Bulk write-back outcomes other than a plain update",
                                          ["outcome"])
            self.batch_seconds = Histogram("colog_batch_seconds",
                                           "Time to build, score and write one batch",
                                           buckets=_BUCKETS)
            self.triton_seconds = Histogram("colog_triton_seconds",
                                            "Latency of one Triton inference call",
                                            buckets=_BUCKETS)
            self.cache_hits = Counter("colog_embedding_cache_hits_total",
                                      "Embeddings served from the cache")
            self.cache_misses = Counter("colog_embedding_cache_misses_total",
                                        "Embeddings computed by the embedder")
            self.verdict_rows = Counter(
                "colog_verdict_rows_total", "Model rows by where their outputs came from: "
                "an identical row of the same batch, the verdict cache, or the model",
                ["source"])
            self.shadow_seconds = Histogram("colog_shadow_seconds",
                                            "Latency of one shadow model inference call",
                                            buckets=_BUCKETS)
            self.shadow_failures = Counter("colog_shadow_failures_total",
                                           "Shadow inference calls that failed (the live "
                                           "verdicts were written without shadow fields)")
            self.verdict_latency = Histogram(
                "colog_ingest_to_verdict_seconds",
                "From event.ingested to the verdict's write-back, per enriched document",
                buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300, 600))
            cls._instance = self
        return cls._instance

    def record_write(self, report: WriteReport) -> None:
        for status, count in report.written.items():
            self.documents.labels(status=status).inc(count)
        for outcome in ("noop", "conflicts_resolved", "already_final", "deleted", "retries"):
            value = getattr(report, outcome)
            if value:
                self.write_outcomes.labels(outcome=outcome).inc(value)
        if report.unwritten:
            self.write_outcomes.labels(outcome="unwritten").inc(len(report.unwritten))
