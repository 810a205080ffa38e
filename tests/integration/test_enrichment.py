"""The enrichment worker end to end against real OpenSearch, Redis and Triton."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from colog.core.fields import ANOMALY_TYPES, FINAL_STATUSES, LABELS, POLARITIES
from colog.core.parsing.masking import mask_message
from colog.services.enrich.context import build_context
from colog.services.enrich.ingest import ingest_file
from colog.services.enrich.one_pass import run_pass
from colog.services.enrich.setup import run_setup
from tests.fixtures.enrich import colog_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
COLOG = str(Path(sys.executable).with_name("colog"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def all_docs(client, index: str) -> list[dict]:
    client.refresh(index)
    result = client.search({"size": 10000, "seq_no_primary_term": True,
                            "sort": [{"event.sequence": "asc"}]}, index)
    return result["hits"]["hits"]


def load(env, client, tmp_path, index: str, rows: list[dict], **ingest_args):
    client.delete_index(index)
    run_setup(client, env.settings(index.rsplit("-", 1)[0] + "-*"))
    return ingest_file(client, write_jsonl(tmp_path / f"{index}.jsonl", rows), index,
                       **ingest_args)


def assert_contract(colog: dict, k: int) -> None:
    assert colog["status"] == "enriched"
    assert colog["label"] in LABELS and colog["context"]["label"] in LABELS
    assert colog["polarity"] in POLARITIES
    assert (colog["polarity"] == "negative") == (colog["label"] == "anomaly")
    assert colog["anomaly_type"] in ANOMALY_TYPES
    assert 0.0 <= colog["score"] <= 1.0 and 0.0 <= colog["context"]["score"] <= 1.0
    attention = colog["attention"]
    assert attention["semantic"] + attention["sequence"] == pytest.approx(1.0, abs=1e-4)
    assert len(attention["context"]) == k
    assert attention["tokens"] and len(attention["tokens"]) == len(attention["token_weights"])
    assert colog["template"]["id"] and colog["template"]["text"]
    assert colog["stream"] and colog["model"]["version"] and colog["enriched_at"]


# --- contract, labels, bad documents, second pass ---------------------------------------------

@pytest.fixture(scope="module")
def enriched_index(enrich_env, opensearch, tmp_path_factory):
    index = "logs-contract-1"
    settings = enrich_env.settings("logs-contract-*", max_message_bytes=2048)
    tmp = tmp_path_factory.mktemp("contract")
    report = load(enrich_env, opensearch, tmp, index, enrich_env.records)
    assert report.indexed == len(enrich_env.records)
    bad = {
        "bad-no-message": {"@timestamp": "2026-11-01T00:00:00Z", "host": {"name": "bad"}},
        "bad-empty": {"@timestamp": "2026-11-01T00:00:01Z", "message": "  ",
                      "host": {"name": "bad"}},
        "bad-huge": {"@timestamp": "2026-11-01T00:00:02Z", "message": "y" * 5000,
                     "host": {"name": "bad"}},
        "bad-binary": {"@timestamp": "2026-11-01T00:00:03Z",
                       "message": "\x00\x01\x02\x03\x04payload\x05\x06", "host": {"name": "bad"}},
        "bad-not-text": {"@timestamp": "2026-11-01T00:00:04Z", "message": 12345,
                         "host": {"name": "bad"}},
    }
    for doc_id, source in bad.items():
        opensearch.index(index, id=doc_id, document={**source, "event": {"sequence": 10 ** 6}})
    # Analysts labelled two documents before the worker reached them.
    first = all_docs(opensearch, index)[:2]
    for hit in first:
        opensearch.update(index, hit["_id"], partial={"colog": {"feedback": {
            "label": "anomaly", "by": "analyst-1", "at": "2026-11-02T00:00:00Z"}}})
    ctx = build_context(settings)
    summary = run_pass(ctx, flush=True, progress=False)
    return {"index": index, "settings": settings, "summary": summary, "bad": bad,
            "feedback_ids": [h["_id"] for h in first]}


def test_every_document_ends_final_with_all_contract_fields(enriched_index, opensearch, enrich_env):
    docs = all_docs(opensearch, enriched_index["index"])
    assert len(docs) == len(enrich_env.records) + len(enriched_index["bad"])
    assert enriched_index["summary"].still_pending == 0
    k = 3  # context window W=1
    for hit in docs:
        colog = hit["_source"]["colog"]
        assert colog["status"] in FINAL_STATUSES, hit["_id"]
        if hit["_id"].startswith("bad-"):
            continue
        assert_contract(colog, k)
        assert colog["stream"] == f"localhost|{hit['_source']['log']['file']['path']}"


def test_bad_documents_are_skipped_or_failed_with_a_reason(enriched_index, opensearch):
    expected = {"bad-no-message": ("skipped", "no message"), "bad-empty": ("skipped", "empty"),
                "bad-huge": ("failed", "over the limit"), "bad-binary": ("failed", "binary"),
                "bad-not-text": ("failed", "not text")}
    for doc_id, (status, words) in expected.items():
        colog = opensearch.get(index=enriched_index["index"], id=doc_id)["_source"]["colog"]
        assert colog["status"] == status, doc_id
        assert words in colog["error"], (doc_id, colog["error"])


def test_anomaly_query_returns_the_labelled_anomalies(enriched_index, opensearch, enrich_env):
    index = enriched_index["index"]
    opensearch.refresh(index)
    found = opensearch.search({"size": 1000, "query": {"term": {"colog.label": "anomaly"}},
                               "_source": ["message"]}, index)["hits"]["hits"]
    found_messages = {h["_source"]["message"] for h in found}
    expected = {r["message"] for r in enrich_env.records if r["label"] == "anomaly"}
    assert expected, "the fixture must hold anomalies"
    recall = len(found_messages & expected) / len(expected)
    precision = len(found_messages & expected) / max(1, len(found_messages))
    assert recall == 1.0 and precision >= 0.9, (recall, precision, found_messages ^ expected)


def test_feedback_survives_enrichment(enriched_index, opensearch):
    for doc_id in enriched_index["feedback_ids"]:
        colog = opensearch.get(index=enriched_index["index"], id=doc_id)["_source"]["colog"]
        assert colog["feedback"] == {"label": "anomaly", "by": "analyst-1",
                                     "at": "2026-11-02T00:00:00Z"}
        assert colog["status"] == "enriched"


# --- explanations -----------------------------------------------------------------------------

def _whole_word_of(message: str, word: str) -> bool:
    """`word` occurs in `message` with no word character glued to either side (a masked
    parameter such as an address is a whole word too)."""
    import re

    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message) is not None


def test_anomalies_are_explained_in_whole_words_of_their_own_message(enriched_index,
                                                                    opensearch):
    docs = all_docs(opensearch, enriched_index["index"])
    explained_words = anomalous = unexplained = 0
    for hit in docs:
        colog, message = hit["_source"]["colog"], hit["_source"].get("message")
        if hit["_id"].startswith("bad-") or colog["anomaly_type"] == "none":
            # Normal, rejected, empty: no explanation at all, never a made-up one.
            assert colog.get("explanation") is None, hit["_id"]
            assert colog.get("attribution") is None and colog.get("neighbour") is None
            continue
        anomalous += 1
        if colog.get("explanation") is None:
            # Nothing whose deletion moves the score by 0.005 (redundant evidence): nothing
            # is named, and then nothing at all is written.
            assert colog.get("attribution") is None and colog.get("neighbour") is None
            unexplained += 1
            continue
        attribution = colog.get("attribution")
        if colog["label"] != "anomaly":
            assert attribution is None  # a collective verdict is explained by its context
            continue
        assert attribution["method"] == "occlusion"
        assert len(attribution["words"]) == len(attribution["word_weights"]) >= 1
        assert attribution["word_weights"] == sorted(attribution["word_weights"], reverse=True)
        for word in attribution["words"]:
            assert not word.startswith("##") and _whole_word_of(message, word), (word, message)
            assert f'"{word}"' in colog["explanation"]
        explained_words += 1
    # Not vacuous: anomalies were explained. Whether any point anomaly of this synthetic data is
    # explained in words depends on its evidence (redundant words name nothing); the word rules
    # themselves are covered message by message in tests/unit/test_explanations.py.
    assert anomalous - unexplained >= 1, (explained_words, unexplained, anomalous)


def test_the_neighbour_that_mattered_is_a_real_document_of_the_same_stream(enriched_index,
                                                                          opensearch):
    docs = all_docs(opensearch, enriched_index["index"])
    order: dict[str, list[str]] = {}
    for hit in docs:  # sorted by event.sequence: stream order
        colog = hit["_source"]["colog"]
        if colog.get("stream") and not hit["_id"].startswith("bad-"):
            order.setdefault(colog["stream"], []).append(hit["_id"])
    referenced = 0
    for hit in docs:
        colog = hit["_source"]["colog"]
        ref = colog.get("neighbour")
        if ref is None:
            continue
        assert colog["context"]["label"] == "anomaly"
        neighbour = opensearch.get(ref["index"], ref["id"])["_source"]
        assert neighbour["colog"]["stream"] == colog["stream"]
        assert neighbour["@timestamp"] == ref["timestamp"]
        assert " ".join(neighbour["message"].split()).startswith(ref["message"].rstrip("…"))
        stream = order[colog["stream"]]
        assert stream.index(ref["id"]) - stream.index(hit["_id"]) == ref["offset"] != 0
        assert 0.0 < ref["weight"] <= 1.0
        assert "context:" in colog["explanation"] and ref["template"]
        referenced += 1
    assert referenced >= 1, "the fixture must give collective verdicts"


def test_second_pass_changes_nothing(enriched_index, opensearch):
    index = enriched_index["index"]
    before = {h["_id"]: h["_seq_no"] for h in all_docs(opensearch, index)}
    summary = run_pass(build_context(enriched_index["settings"]), flush=True, progress=False)
    after = {h["_id"]: h["_seq_no"] for h in all_docs(opensearch, index)}
    assert summary.scored == 0 and summary.rejected == 0
    assert after == before


# --- windows: own stream only, across batch boundaries ------------------------------------------

class RecordingScorer:
    """The real Triton scorer, keeping a copy of every batch it was asked to score."""

    def __init__(self, inner):
        self.inner, self.spec, self.classes, self.batches = inner, inner.spec, inner.classes, []

    def predict(self, modalities, version=None):
        self.batches.append(modalities)
        return self.inner.predict(modalities, version=version)

    def embed(self, texts):
        return self.inner.embed(texts)

    def thresholds(self, version):
        return self.inner.thresholds(version)


def test_context_is_the_own_streams_neighbours_across_batches(enrich_env, opensearch, tmp_path):
    from colog.core.serving.client import TritonClient
    from colog.services.enrich.verdict_sources import TritonScorer

    index = "logs-window-1"
    rows = enrich_env.records  # three interleaved streams
    load(enrich_env, opensearch, tmp_path, index, rows)
    # Every row reaches the model (no reuse): the test reads the inputs the model was given.
    # Nor explanations: their extra rows would be recorded as batches too.
    settings = enrich_env.settings("logs-window-*", read_batch_size=3, inference_batch_size=2,
                                   write_batch_size=2, verdict_reuse=False, explanations=False)
    scorer = RecordingScorer(TritonScorer(TritonClient(settings)))
    ctx = build_context(settings, scorer=scorer)
    summary = run_pass(ctx, flush=True, progress=False)
    assert summary.scored == len(rows) and len(scorer.batches) > 10

    by_tokens = {}
    for r in rows:
        key = tuple(ctx.tokenizer.encode([mask_message(r["message"])])[0])
        assert key not in by_tokens, "fixture messages must be distinguishable"
        by_tokens[key] = r
    centre: dict[str, np.ndarray] = {}
    windows: dict[str, np.ndarray] = {}
    for batch in scorer.batches:
        for tokens, sequence, mask in zip(batch.tokens, batch.sequence, batch.sequence_mask):
            record = by_tokens[tuple(tokens)]
            assert record["message"] not in windows, "an event was scored twice"
            windows[record["message"]] = (sequence, mask)
            centre[record["message"]] = sequence[1]
    assert len(windows) == len(rows)
    streams: dict[str, list[str]] = {}
    for r in rows:
        streams.setdefault(r["stream"], []).append(r["message"])
    for messages in streams.values():
        for i, message in enumerate(messages):
            sequence, mask = windows[message]
            for column, j in ((0, i - 1), (2, i + 1)):
                if 0 <= j < len(messages):
                    assert mask[column] == 1.0
                    np.testing.assert_allclose(sequence[column], centre[messages[j]], atol=1e-5)
                else:
                    assert mask[column] == 0.0 and not sequence[column].any()


# --- a worker killed mid-batch ----------------------------------------------------------------

def _env(settings, **extra) -> dict:
    return {**os.environ, **colog_env(settings, **extra)}


def _verdicts(client, index: str) -> dict:
    return {(h["_source"]["log"]["file"]["path"], h["_source"]["event"]["sequence"]):
            h["_source"].get("colog", {}) for h in all_docs(client, index)}


# Documents with a verdict or a rejection. Not "has colog.status": the ingest pipeline that
# `colog setup` attaches stamps `pending` when a document is indexed.
FINISHED = {"terms": {"colog.status": list(FINAL_STATUSES)}}


def test_sigkill_mid_batch_then_restart_equals_a_clean_run(enrich_env, opensearch, tmp_path):
    from tests import synthetic

    rows = synthetic.records(streams=3, per_stream=80, seed=21)
    load(enrich_env, opensearch, tmp_path, "logs-clean-1", rows)
    load(enrich_env, opensearch, tmp_path, "logs-kill-1", rows)
    run_pass(build_context(enrich_env.settings("logs-clean-*")), flush=True, progress=False)

    settings = enrich_env.settings("logs-kill-*")
    env = _env(settings, COLOG_WRITE_BATCH_SIZE=2, COLOG_INFERENCE_BATCH_SIZE=2,
               COLOG_READ_BATCH_SIZE=4, COLOG_PARTITION_LOCK_TTL_S=3)
    worker = subprocess.Popen([COLOG, "enrich", "--no-progress"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        done = opensearch.count("logs-kill-1", query=FINISHED)
        if 0 < done < len(rows) // 2:
            worker.send_signal(signal.SIGKILL)
            killed_at = done
            break
        time.sleep(0.02)
    worker.wait(30)
    assert killed_at is not None, f"the worker ended before it could be killed:\n" \
                                  f"{worker.stdout.read().decode()[-2000:]}"
    opensearch.refresh("logs-kill-1")
    partial = opensearch.count("logs-kill-1", query=FINISHED)
    assert partial < len(rows), "the kill must leave work undone"
    rerun = subprocess.run([COLOG, "enrich", "--no-progress"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    clean, killed = _verdicts(opensearch, "logs-clean-1"), _verdicts(opensearch, "logs-kill-1")
    assert clean.keys() == killed.keys() and len(clean) == len(rows)
    for key, want in clean.items():
        got = killed[key]
        assert got["status"] == want["status"] == "enriched", key
        for name in ("label", "anomaly_type", "stream"):
            assert got[name] == want[name], (key, name)
        assert got["context"]["label"] == want["context"]["label"], key
        assert got["score"] == pytest.approx(want["score"], abs=1e-4), key
        assert got["attention"]["context"] == pytest.approx(want["attention"]["context"], abs=1e-4)


# --- Celery worker + beat ---------------------------------------------------------------------

def test_celery_worker_and_beat_enrich_everything(enrich_env, opensearch, tmp_path):
    from colog.app.stack.process import free_port

    rows = enrich_env.records
    load(enrich_env, opensearch, tmp_path, "logs-celery-1", rows)
    settings = enrich_env.settings("logs-celery-*")
    metrics_port = free_port()
    env = _env(settings, COLOG_CONTEXT_TIMEOUT_S=0, COLOG_BEAT_INTERVAL_S=1,
               COLOG_METRICS_PORT=metrics_port, COLOG_HEARTBEAT_FILE=tmp_path / "hb")
    worker = subprocess.Popen([COLOG, "worker", "--concurrency", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    beat = subprocess.Popen([COLOG, "beat"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        pending = len(rows)
        while time.monotonic() < deadline:
            opensearch.refresh("logs-celery-1")
            pending = opensearch.count("logs-celery-1", query={"bool": {
                "must_not": {"terms": {"colog.status": list(FINAL_STATUSES)}}}})
            if pending == 0 or worker.poll() is not None:
                break
            time.sleep(1)
        assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
        assert pending == 0, f"{pending} documents still pending"
        health = subprocess.run([COLOG, "health"], env=env, capture_output=True, text=True)
        assert health.returncode == 0, health.stderr
        import urllib.request

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
        enriched = [line for line in metrics.splitlines()
                    if line.startswith('colog_documents_total{status="enriched"}')]
        assert enriched and float(enriched[0].split()[-1]) == len(rows)
    finally:
        for process in (beat, worker):
            process.send_signal(signal.SIGTERM)
        for process in (beat, worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_index_without_the_colog_template_is_enriched_too(enrich_env, opensearch):
    """Dynamic mapping makes host.name text (+ .keyword): streams still group and filter."""
    index = "plain-dynamic-1"
    opensearch.delete_index(index)
    rows = enrich_env.records[:30]
    for i, r in enumerate(rows):
        opensearch.index(index, id=str(i), document={
            "@timestamp": r["@timestamp"], "message": r["message"],
            "host": {"name": "web 1"}, "log": {"file": {"path": r["stream"]}},
            "event": {"sequence": i}})
    mapping = opensearch.get_mapping(index)[index]["mappings"]["properties"]
    assert mapping["host"]["properties"]["name"]["type"] == "text"
    summary = run_pass(build_context(enrich_env.settings(index)), flush=True, progress=False)
    assert summary.scored == len(rows) and summary.still_pending == 0
    streams = {h["_source"]["colog"]["stream"] for h in all_docs(opensearch, index)}
    assert streams == {f"web 1|{s}" for s in {r["stream"] for r in rows}}


def test_beat_queues_at_most_one_task_per_partition(enrich_env, opensearch, redis_server,
                                                    tmp_path, monkeypatch):
    """While no worker takes them, ticks of beat add no second task for a partition to the real
    broker queue; a task taken off the queue lets the next tick queue the partition again."""
    from colog.app.worker import tasks
    from colog.app.worker.celery_app import QUEUE
    from colog.app.worker.thread_context import reset_context
    from colog.core.settings import get_settings
    from tests.fixtures.enrich import colog_env

    rows = enrich_env.records
    load(enrich_env, opensearch, tmp_path, "logs-queued-1", rows)
    # The task builds its own context from the settings, as in a worker: point them here.
    for name, value in colog_env(enrich_env.settings("logs-queued-*")).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_context()

    def clean() -> None:
        redis_server.delete(QUEUE, "colog:lock:dispatch",
                            *redis_server.scan_iter("colog:queued:*"))

    clean()
    try:
        for _ in range(3):
            redis_server.delete("colog:lock:dispatch")  # each call is a new beat interval
            partitions = tasks.dispatch()["partitions"]
        assert partitions and redis_server.llen(QUEUE) == len(partitions)  # once each
        redis_server.delete(tasks.QUEUED_KEY.format(partitions[0]))  # a worker took it
        redis_server.delete("colog:lock:dispatch")
        tasks.dispatch()
        assert redis_server.llen(QUEUE) == len(partitions) + 1
    finally:
        clean()
        reset_context()
        monkeypatch.undo()
        get_settings.cache_clear()
