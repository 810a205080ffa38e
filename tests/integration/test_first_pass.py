"""A first pass (empty Drain state, empty caches) writes the verdicts an offline pass of the same
model gives, and two workers sharing the Drain state through its change log agree on every
template id."""

from __future__ import annotations

import time

import pytest

from colog.core.model.in_process import score_records
from colog.core.records import order_by_stream_time, record_from_dict
from colog.core.verdict import verdicts
from colog.services.enrich.context import build_context
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.template_store import TemplateStore
from tests.integration.test_enrichment import all_docs, load

pytestmark = pytest.mark.integration


def _fresh(settings, **overrides):
    return settings.model_copy(update={"drain_state_key": f"colog:test:drain:{time.time_ns()}",
                                       **overrides})


def test_first_pass_verdicts_equal_an_offline_pass_of_the_same_model(enrich_env, opensearch,
                                                                      tmp_path):
    from colog.core.cache_redis import cache_redis
    from colog.services.enrich.embedding_cache import PREFIX as EMBEDDINGS
    from colog.services.enrich.verdict_reuse import PREFIX as VERDICTS

    index = "logs-parity-1"
    rows = enrich_env.records
    load(enrich_env, opensearch, tmp_path, index, rows)
    settings = _fresh(enrich_env.settings("logs-parity-*"), inference_batch_size=16)
    cache = cache_redis(settings)
    for prefix in (EMBEDDINGS, VERDICTS):
        for key in cache.scan_iter(match=prefix + "*"):
            cache.delete(key)
    summary = run_pass(build_context(settings), flush=True, progress=False)
    assert summary.scored == len(rows)

    records = order_by_stream_time([record_from_dict(r, i) for i, r in enumerate(rows, 1)])
    scored = score_records(enrich_env.model_dir, records)
    from colog.core.model.bundle import load_model_dir

    thresholds = load_model_dir(enrich_env.model_dir).thresholds
    offline = verdicts(scored.outputs, scored.classes,
                       [scored.tokenizer.tokens_of(t) for t in scored.modalities.tokens],
                       thresholds=thresholds)
    expected = {(r.stream, r.line): v for r, v in zip(records, offline)}
    docs = all_docs(opensearch, index)
    assert len(docs) == len(expected)
    for hit in docs:
        source = hit["_source"]
        verdict = expected[(source["log"]["file"]["path"], source["event"]["sequence"])]
        assert source["colog"]["label"] == verdict.label
        assert source["colog"]["score"] == pytest.approx(verdict.score, abs=1e-3)
    # Every document names its template (texts generalise over the pass: an early document
    # keeps the text its template had when it was enriched).
    assert all(hit["_source"]["colog"]["template"]["id"] for hit in docs)


def test_two_workers_on_one_drain_state_give_the_ids_one_worker_gives(enrich_env, redis_server):
    """Workers that learn alternately, each reading only the other's changes, assign the same
    (id, text) to every message as a single worker that saw the messages in the same order."""
    messages = [r["message"] for r in enrich_env.records]
    key = f"colog:test:drain:{time.time_ns()}"
    one, two = TemplateStore(redis_server, key), TemplateStore(redis_server, key)
    alone = TemplateStore()
    shared, single = [], []
    for n, start in enumerate(range(0, len(messages), 7)):
        batch = messages[start:start + 7]
        shared += (one if n % 2 == 0 else two).assign(batch)
        single += alone.assign(batch)
    assert shared == single
    assert one.snapshots_written + two.snapshots_written == 1
    assert redis_server.llen(key + ":log") > 0
