"""Everything one worker process needs to enrich streams, built once per process.

Clients are created here, lazily, after a Celery worker forks (docs/design.md §9: gRPC channels made
before fork can hang), never at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from colog.core.engine import SearchEngine
from colog.core.features.embedding import SentenceEmbedder
from colog.core.features.modalities import Modalities
from colog.core.features.semantic import SemanticTokenizer
from colog.core.settings import Settings
from colog.core.verdict import Thresholds
from colog.services.enrich.metrics import WorkerMetrics
from colog.services.enrich.stages import StageClock
from colog.services.enrich.template_store import TemplateStore
from colog.services.enrich.verdict_sources import Scorer

AfterWrite = Callable[..., None]


@dataclass
class EnrichContext:
    settings: Settings
    client: SearchEngine  # the search engine (OpenSearch or Elasticsearch)
    scorer: Scorer
    embedder: SentenceEmbedder
    tokenizer: SemanticTokenizer
    templates: TemplateStore
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    redis: object | None = None
    # colog.services.enrich.shadow_scoring.ShadowScorer: a candidate scored alongside
    shadow: object | None = None
    verdicts: object | None = None  # colog.services.enrich.verdict_reuse.VerdictReuse; None = every row runs
    stages: StageClock = field(default_factory=StageClock)
    after_write_hooks: list[AfterWrite] = field(default_factory=list)

    def predict(self, modalities: Modalities, version: str | None = None
                ) -> tuple[dict[str, np.ndarray], str]:
        hits, misses = self.embedder.hits, self.embedder.misses
        started = time.perf_counter()
        with self.stages.time("infer"):
            outputs, version = self.scorer.predict(modalities, version=version)
        self.metrics.triton_seconds.observe(time.perf_counter() - started)
        self.metrics.cache_hits.inc(self.embedder.hits - hits)
        self.metrics.cache_misses.inc(self.embedder.misses - misses)
        return outputs, version

    def thresholds_for(self, version: str) -> Thresholds:
        """The model version's own thresholds, unless the operator set `score_threshold`."""
        override = self.settings.score_threshold
        if override is not None:
            return Thresholds(override, override)
        return self.scorer.thresholds(version)

    def shadow_thresholds_for(self, version: str) -> Thresholds:
        """The candidate's own thresholds: the ones it would use once promoted (an operator's
        `score_threshold` applies to it as it would after promotion)."""
        override = self.settings.score_threshold
        if override is not None:
            return Thresholds(override, override)
        return self.shadow.thresholds(version)

    def after_write(self, stream, updates, report) -> None:
        for hook in self.after_write_hooks:
            hook(self, stream, updates, report)


def build_context(settings: Settings, scorer: Scorer | None = None,
                  use_cache: bool | None = None, client: SearchEngine | None = None,
                  redis_client=None) -> EnrichContext:
    from colog.core.engine import connect
    from colog.core.redis_client import state_redis
    from colog.services.enrich.embedding_cache import embedding_cache

    client = client or connect(settings)
    redis_client = redis_client or state_redis(settings)
    if scorer is None:
        from colog.core.serving.client import get_client
        from colog.services.enrich.shadow_scoring import ShadowScorer
        from colog.services.enrich.verdict_sources import TritonScorer

        scorer = TritonScorer(get_client(settings), settings.verdict_version_check_s)
        shadow = ShadowScorer(settings, scorer.spec, scorer.classes, WorkerMetrics())
    else:
        shadow = None  # a scorer given by the caller (benchmark baseline, tests) runs alone
    cache = embedding_cache(settings, use_cache)
    embedder = SentenceEmbedder(encode=scorer.embed, cache=cache,
                                batch_size=settings.embed_batch_size)
    tokenizer = SemanticTokenizer(max_tokens=scorer.spec.max_tokens)
    templates = TemplateStore(redis_client, settings.drain_state_key)
    verdicts = None
    if settings.verdict_reuse:
        from colog.core.cache_redis import cache_redis
        from colog.services.enrich.verdict_reuse import NoVerdictCache, RedisVerdictCache, VerdictReuse

        store = RedisVerdictCache(cache_redis(settings), settings.verdict_cache_ttl_s) \
            if settings.verdict_cache else NoVerdictCache()
        verdicts = VerdictReuse(store, settings.triton_model)
    ctx = EnrichContext(settings, client, scorer, embedder, tokenizer, templates,
                        redis=redis_client, shadow=shadow, verdicts=verdicts)
    from colog.services.enrich.hooks import default_hooks

    ctx.after_write_hooks.extend(default_hooks())
    return ctx
