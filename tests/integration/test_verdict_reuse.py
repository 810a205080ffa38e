"""Verdict reuse end to end: a pass with reuse writes the verdicts of a pass without it, and a
new model version never reads the verdicts of the old one (real OpenSearch, Redis, Triton)."""

from __future__ import annotations

import pytest

from colog.app.bench import flush_caches, reset_status
from colog.services.enrich.context import build_context
from colog.services.enrich.one_pass import run_pass
from tests.integration.test_enrichment import all_docs, load

pytestmark = pytest.mark.integration
SCORE_TOLERANCE = 1e-4


def verdicts_of(client, index: str) -> dict[str, dict]:
    out = {}
    for hit in all_docs(client, index):
        colog = hit["_source"]["colog"]
        out[hit["_id"]] = {"label": colog["label"], "context": colog["context"]["label"],
                           "type": colog["anomaly_type"], "score": colog["score"],
                           "context_score": colog["context"]["score"],
                           "version": colog["model"]["version"],
                           "tokens": colog["attention"]["tokens"]}
    return out


def assert_same_verdicts(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for doc_id in a:
        x, y = a[doc_id], b[doc_id]
        for exact in ("label", "context", "type", "version", "tokens"):
            assert x[exact] == y[exact], (doc_id, exact, x[exact], y[exact])
        assert abs(x["score"] - y["score"]) <= SCORE_TOLERANCE, doc_id
        assert abs(x["context_score"] - y["context_score"]) <= SCORE_TOLERANCE, doc_id


def repeating_rows(records: list[dict], per_stream: int = 40, cycle: int = 4) -> list[dict]:
    """Each stream cycles through `cycle` of its own messages: windows repeat as in real logs
    (the fixture's messages carry random words and never repeat)."""
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    by_stream: dict[str, list[dict]] = {}
    for record in records:
        by_stream.setdefault(record["stream"], []).append(record)
    rows = []
    for s, (_stream, own) in enumerate(sorted(by_stream.items())):
        for i in range(per_stream):
            row = dict(own[i % cycle])
            row["@timestamp"] = (start + timedelta(seconds=i, milliseconds=s)).isoformat() \
                .replace("+00:00", "Z")
            rows.append(row)
    return rows


def enrich(env, index_pattern: str, reuse: bool):
    ctx = build_context(env.settings(index_pattern, verdict_reuse=reuse))
    summary = run_pass(ctx, flush=True, progress=False)
    return ctx, summary


def test_reuse_writes_the_verdicts_of_a_pass_without_it(enrich_env, opensearch, redis_server,
                                                        tmp_path):
    index = "logs-reuse-1"
    rows = repeating_rows(enrich_env.records)
    load(enrich_env, opensearch, tmp_path, index, rows)
    flush_caches(redis_server)
    _, plain = enrich(enrich_env, "logs-reuse-1*", reuse=False)
    without = verdicts_of(opensearch, index)
    assert plain.scored == len(rows)

    reset_status(opensearch.native, index)
    flush_caches(redis_server)
    cold_ctx, cold = enrich(enrich_env, "logs-reuse-1*", reuse=True)
    assert cold.scored == len(rows)
    assert cold_ctx.verdicts.counts.model < len(rows)  # repeats were not run again
    assert_same_verdicts(without, verdicts_of(opensearch, index))

    reset_status(opensearch.native, index)
    warm_ctx, _ = enrich(enrich_env, "logs-reuse-1*", reuse=True)  # the cache from the last pass
    assert warm_ctx.verdicts.counts.model == 0 and warm_ctx.verdicts.counts.cache > 0
    assert_same_verdicts(without, verdicts_of(opensearch, index))


def test_a_new_version_never_reads_the_old_versions_verdicts(enrich_env, opensearch,
                                                             redis_server, tmp_path):
    from colog.core.serving import repository
    from colog.core.serving.client import TritonClient
    from tests.fixtures.triton import build_tiny_model

    index = "logs-reuse-2"
    load(enrich_env, opensearch, tmp_path, index, enrich_env.records)
    flush_caches(redis_server)
    first_ctx, _ = enrich(enrich_env, "logs-reuse-2*", reuse=True)
    before = verdicts_of(opensearch, index)
    old_version = next(iter(before.values()))["version"]

    settings = enrich_env.settings("logs-reuse-2*")
    repo = repository.live_repository(settings)
    client = TritonClient(settings)
    other = build_tiny_model(tmp_path / "other", seed=9, num_classes=4, max_tokens=24,
                             vocab_size=30522)  # the real tokenizer's ids
    try:
        new_version = repository.place_version(repo, other)
        client.load_model()
        reset_status(opensearch.native, index)
        ctx, summary = enrich(enrich_env, "logs-reuse-2*", reuse=True)
        after = verdicts_of(opensearch, index)
        assert {v["version"] for v in after.values()} == {str(new_version)} != {old_version}
        assert ctx.verdicts.counts.cache == 0 and ctx.verdicts.counts.model > 0
        assert any(abs(after[d]["score"] - before[d]["score"]) > SCORE_TOLERANCE for d in after)
    finally:
        import shutil

        shutil.rmtree(repo / "colog" / str(new_version), ignore_errors=True)
        client.load_model()
