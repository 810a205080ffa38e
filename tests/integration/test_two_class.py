"""A 2-class model served by the real Triton: context scores across batches and passes.

A 2-class model has no context head: an event's context score is the highest point score of
the other events in its window. Each test enriches streams in many small read, inference and
write batches (and in two passes, the second after more events arrived) and compares every
document with an offline pass of the same model over the whole stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from colog.core.features.windows import centre_column
from colog.core.model.in_process import score_records
from colog.core.records import order_by_stream_time, record_from_dict
from colog.core.serving.client import TritonClient
from colog.core.serving.repository import place_version
from colog.core.verdict import neighbour_max
from colog.services.enrich.context import build_context
from colog.services.enrich.ingest import ingest_file
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.setup import run_setup
from tests import synthetic
from tests.fixtures.enrich import served, serving_settings, train_synthetic_model
from tests.integration.test_enrichment import all_docs, write_jsonl

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def point_models(tmp_path_factory, opensearch, redis_server, stack_settings):
    root = tmp_path_factory.mktemp("two-class")
    models = {mode: train_synthetic_model(root / mode, num_classes=2, sequence_mode=mode,
                                          epochs=8)
              for mode in ("context", "background")}
    settings = serving_settings(root, stack_settings)
    with served(settings, models["context"]) as repo:
        yield settings, repo, models


def offline(model_dir, rows: list[dict], mode: str) -> dict[str, tuple[float, float]]:
    """(point score, context score) of every message from one in-process pass per stream."""
    records = order_by_stream_time([record_from_dict(r, i) for i, r in enumerate(rows, 1)])
    scored = score_records(model_dir, records)
    point = scored.outputs["probs"][:, 1]
    context = neighbour_max(point, scored.modalities.window_index, centre_column(1, mode))
    return {r.message: (float(p), float(c)) for r, p, c in zip(records, point, context)}


def enrich_in_two_passes(settings, client, tmp_path, index: str, rows: list[dict],
                         mode: str) -> None:
    """First the first 60 % of every stream (in context mode the newest events wait for later
    neighbours), then the rest arrives and a flushing pass finishes: the first events of the
    second pass have neighbours scored in the first."""
    cut = int(len(rows) * 0.6)
    small = settings.model_copy(update={
        "index_pattern": index, "read_batch_size": 3, "inference_batch_size": 2,
        "write_batch_size": 2, "context_timeout_s": 10 ** 9})
    client.delete_index(index)
    run_setup(client, small)
    path = tmp_path / f"{index}.jsonl"
    assert ingest_file(client, write_jsonl(path, rows[:cut]), index).indexed == cut
    first = run_pass(build_context(small), flush=False, progress=False)
    assert 0 < first.scored <= cut
    if mode == "context":
        assert first.still_pending > 0, "the first pass must leave events waiting for neighbours"
    # The same file again, now whole: ids are a hash of file and line, so the first 60 % are
    # recognised as already present and only the rest is added.
    report = ingest_file(client, write_jsonl(path, rows), index)
    assert report.indexed == len(rows) - cut and report.duplicates == cut
    second = run_pass(build_context(small), flush=True, progress=False)
    assert second.still_pending == 0


@pytest.mark.parametrize("mode", ["context", "background"])
def test_two_class_context_scores_equal_an_offline_pass(point_models, opensearch, tmp_path,
                                                        mode):
    settings, repo, models = point_models
    if mode == "background":  # publish the background model as the next version and load it
        version = place_version(repo, models["background"])
        TritonClient(settings).load_model()
        assert TritonClient(settings).model_parameters().features.sequence_mode == "background"
    else:
        version = 1
    rows = synthetic.records(streams=3, per_stream=40, seed=31)
    index = f"logs-point{mode}-1"
    enrich_in_two_passes(settings, opensearch, tmp_path, index, rows, mode)

    want = offline(models[mode], rows, mode)
    docs = all_docs(opensearch, index)
    assert len(docs) == len(rows)
    collective = 0
    for hit in docs:
        colog = hit["_source"]["colog"]
        assert colog["status"] == "enriched", hit["_id"]
        assert colog["model"]["version"] == str(version)
        point, context = want[hit["_source"]["message"]]
        assert colog["score"] == pytest.approx(point, abs=1e-4), hit["_source"]["message"]
        assert colog["context"]["score"] == pytest.approx(context, abs=1e-4), \
            hit["_source"]["message"]
        collective += colog["anomaly_type"] in ("collective", "both")
    assert collective > 0, "the stream must hold events whose neighbour is anomalous"
    assert np.isfinite([h["_source"]["colog"]["context"]["score"] for h in docs]).all()
