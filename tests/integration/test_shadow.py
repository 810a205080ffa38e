"""Shadow evaluation on the real servers: a candidate served by Triton as its own model scores
every batch beside the live model; its verdicts land in `colog.shadow.*` while the live
verdicts stay exactly those of a pass without it; the report counts agreement and flips from
the documents; promotion goes through the release gate; a shadow that fails mid-pass leaves
the live path whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from colog.core.serving.client import TritonClient
from colog.services.enrich.context import build_context
from colog.services.enrich.ingest import ingest_file
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.setup import run_setup
from colog.services.enrich.verdict_sources import LocalScorer
from colog.services.shadow import deployment
from colog.services.shadow.report import shadow_report
from colog.services.train.release import releases
from tests.fixtures.enrich import colog_env, served, serving_settings, train_synthetic_model
from tests.integration.test_enrichment import all_docs, write_jsonl

pytestmark = pytest.mark.integration
LIVE_FIELDS = ("label", "anomaly_type", "model")


@pytest.fixture(scope="module")
def shadow_env(tmp_path_factory, opensearch, redis_server, stack_settings, enrich_env):
    root = tmp_path_factory.mktemp("shadow")
    tag = time.time_ns()
    candidate = train_synthetic_model(root / "candidate", epochs=2)  # same features, other weights
    settings = serving_settings(root, stack_settings).model_copy(update={
        "shadow_check_s": 0.0, "models_index": f"colog-models-shadowtest-{tag}"})
    with served(settings, enrich_env.model_dir) as repo:
        yield settings, repo, candidate, enrich_env.records, f"logs-shadowtest-{tag}"
    opensearch.delete_index(f"logs-shadowtest-{tag}-*,colog-models-shadowtest-{tag}")


def enrich(client, settings, tmp_path, index: str, rows: list[dict], scorer=None, **overrides):
    settings = settings.model_copy(update={"index_pattern": index, **overrides})
    run_setup(client, settings)
    assert ingest_file(client, write_jsonl(tmp_path / f"{index}.jsonl", rows), index).indexed \
        == len(rows)
    ctx = build_context(settings, scorer=scorer)
    summary = run_pass(ctx, flush=True, progress=False)
    assert summary.still_pending == 0
    return {d["_source"]["message"]: d for d in all_docs(client, index)}, ctx


def colog_of(doc: dict) -> dict:
    return doc["_source"]["colog"]


def test_shadow_scores_beside_live_and_promotes_through_the_gate(shadow_env, opensearch,
                                                                 tmp_path):
    settings, repo, candidate, rows, prefix = shadow_env
    alone, _ = enrich(opensearch, settings, tmp_path, f"{prefix}-alone", rows)
    assert not any("shadow" in colog_of(d) for d in alone.values())

    state = deployment.start(settings, candidate)
    assert state.running and state.version == 1
    shadowed_index = f"{prefix}-both"
    shadowed, ctx = enrich(opensearch, settings, tmp_path, shadowed_index, rows)
    reference, _ = enrich(opensearch, settings, tmp_path, f"{prefix}-candidate", rows,
                          scorer=LocalScorer(candidate))
    flips = 0
    for message, doc in shadowed.items():
        live, shadow = colog_of(doc), colog_of(doc)["shadow"]
        before = colog_of(alone[message])
        # the live verdict is the live model's, as without a shadow
        assert {k: live[k] for k in LIVE_FIELDS} == {k: before[k] for k in LIVE_FIELDS}
        assert live["score"] == pytest.approx(before["score"], abs=1e-5)
        assert live["context"]["score"] == pytest.approx(before["context"]["score"], abs=1e-5)
        # the shadow verdict is the candidate's: the same as the candidate run in-process
        expected = colog_of(reference[message])
        assert shadow["model"]["version"] == "1"
        assert shadow["score"] == pytest.approx(expected["score"], abs=1e-4)
        assert shadow["label"] == expected["label"]
        assert shadow["anomaly_type"] == expected["anomaly_type"]
        flips += live["label"] != shadow["label"]
    assert 0 < flips < len(rows), "the candidate must differ from the live model on some rows"

    # Analysts label a few documents: each side is judged on them.
    labelled = list(shadowed.values())[::7]
    for doc in labelled:
        opensearch.update(doc["_index"], doc["_id"], {"colog": {"feedback": {
            "label": "anomaly" if "error" in doc["_source"]["message"].lower() else "normal"}}},
            refresh=True)
    opts = settings.model_copy(update={"index_pattern": shadowed_index})
    report = shadow_report(opensearch, opts, "1")
    assert report.scored == len(rows)
    assert report.scored - report.agreeing == flips == sum(report.flips.values())
    assert report.live_on_labels.documents == report.shadow_on_labels.documents == len(labelled)
    by_stream = report.flips_by(2)
    assert sum(by_stream.values()) == flips

    env = {**os.environ, **colog_env(opts), "COLOG_MODELS_INDEX": opts.models_index}
    shown = subprocess.run([sys.executable, "-m", "colog.app.cli", "shadow", "report"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert f"{len(rows)} documents scored by both" in shown.stdout
    assert f"({flips} would flip)" in shown.stdout

    # Promotion goes through the gate: an impossible margin refuses it and the shadow stays.
    from rich.console import Console

    quiet = Console(file=open(os.devnull, "w"))
    refused = deployment.promote(opensearch, opts.model_copy(update={"gate_margin": -2.0}),
                                 quiet)
    assert not refused.published and refused.doc["action"] == "refused"
    assert refused.doc["trigger"] == "shadow" and refused.doc["shadow_version"] == "1"
    assert TritonClient(settings, model=settings.triton_shadow_model).is_model_ready()
    passed = deployment.promote(opensearch, opts.model_copy(update={"gate_margin": 2.0}), quiet)
    assert passed.published and passed.version == 2 and passed.previous == 1
    assert passed.doc["shadow_version"] == "1"
    assert [d["action"] for d in releases(opensearch, opts)][:2] == ["release", "refused"]
    assert not deployment.read_state(settings).running
    assert not TritonClient(settings, model=settings.triton_shadow_model,
                            retries=0).is_model_ready()
    assert TritonClient(settings).infer(*_one_row(ctx))[1] == "2"


def _one_row(ctx):
    import numpy as np

    k = 3
    return (np.ones((1, ctx.scorer.spec.max_tokens), dtype=np.int64),
            np.zeros((1, k, 384), dtype=np.float32), np.ones((1, k), dtype=np.float32))


def test_a_failing_shadow_leaves_the_live_path_whole(shadow_env, opensearch, tmp_path):
    settings, repo, candidate, rows, prefix = shadow_env
    state = deployment.start(settings, candidate)
    assert state.version >= 2  # versions of the shadow model are never reused
    index = f"{prefix}-failing"
    # The worker believes the shadow is up (checked once, not again for an hour)...
    settings_once = settings.model_copy(update={"index_pattern": index, "shadow_check_s": 3600.0})
    run_setup(opensearch, settings_once)
    ingest_file(opensearch, write_jsonl(tmp_path / "f.jsonl", rows), index)
    ctx = build_context(settings_once)
    assert ctx.shadow.active()
    failures = ctx.metrics.shadow_failures._value.get()
    # ...and then the shadow model goes away in the middle of the work.
    TritonClient(settings, model=settings.triton_shadow_model).unload_model()
    summary = run_pass(ctx, flush=True, progress=False)
    assert summary.still_pending == 0 and summary.scored == len(rows)
    docs = all_docs(opensearch, index)
    assert all(colog_of(d)["status"] == "enriched" and "shadow" not in colog_of(d) for d in docs)
    assert ctx.metrics.shadow_failures._value.get() == failures + 1
    assert not ctx.shadow.active()
    deployment.stop(settings)
    assert not deployment.read_state(settings).running


def test_a_candidate_with_other_inputs_is_refused(shadow_env, tmp_path):
    settings, repo, candidate, rows, prefix = shadow_env
    other = train_synthetic_model(tmp_path / "two-class", num_classes=2, epochs=1)
    with pytest.raises(deployment.ShadowError, match="classes"):
        deployment.start(settings, other)
