"""Faults in the middle of a pass, against the real servers (the suite's private ones).

Each test runs `colog worker` + `colog beat` over 300 documents, causes one fault once a tenth
of them are final, ends it, and asserts the issue's target: 0 documents lost, 0 verdicts that
differ from a clean pass, every document final, the workers still running — all by themselves,
with no operator action. The row each test records is described in tests/faults/harness.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults import harness

pytestmark = pytest.mark.integration

FLOOD_S = 12.0  # sustained 429s
BLOCK_S = 8.0  # index write block
UNLOADED_S = 5.0  # model unloaded
REDIS_DOWN_S = 2.0


def test_no_fault_baseline(fault_stack, reference, record):
    """The same run with nothing broken: its "time to recover" is how long the rest of the pass
    takes on its own, the yardstick for the rows below."""
    def fault(scenario):
        scenario.notes.append("nothing broken: the rest of the pass alone")

    harness.run(fault_stack, reference, record, "none (baseline)", fault)


def test_triton_killed_and_restarted(fault_stack, reference, record):
    def fault(scenario):
        fault_stack.kill_triton()
        down = time.monotonic()
        fault_stack.start_triton()
        scenario.notes.append(f"SIGKILL, back after {time.monotonic() - down:.0f} s")

    harness.run(fault_stack, reference, record, "triton-killed", fault)


def test_opensearch_restarted(fault_stack, reference, record):
    def fault(scenario):
        fault_stack.stop_opensearch()
        down = time.monotonic()
        fault_stack.start_opensearch()
        scenario.notes.append(f"down {time.monotonic() - down:.0f} s")

    harness.run(fault_stack, reference, record, "opensearch-restarted", fault)


def test_redis_restarted_with_worker_and_beat(fault_stack, reference, record):
    """Broker, partition leases, the embedding cache and the Drain state all vanish (the local
    Redis keeps nothing on disk); the worker's copy of the Drain state is written back."""
    from colog.core.parsing.drain import TemplateParser

    def fault(scenario):
        fault_stack.stop_redis()
        time.sleep(REDIS_DOWN_S)
        fault_stack.start_redis()
        scenario.notes.append(f"down {REDIS_DOWN_S:.0f} s, state lost")

    _, scenario = harness.run(fault_stack, reference, record, "redis-restarted", fault)
    import redis

    client = redis.Redis.from_url(scenario.settings.redis_url)
    state = client.get(scenario.settings.drain_state_key)
    assert state is not None, "the Drain state was not written back after the restart"
    assert len(TemplateParser.from_bytes(state)) >= 4  # the synthetic streams' normal templates
    assert "restored from this worker's copy" in scenario.log("worker1"), scenario.logs_tail()


def test_sustained_429_from_a_full_write_queue(fault_stack, reference, record):
    """Concurrent bulk requests keep the private node's one-thread write pool and its queue of
    two full for FLOOD_S seconds, so the workers' writes are answered 429."""
    from colog.core.engine.opensearch_client import make_client  # raw: node stats and a flood of bulks

    def rejected(client) -> int:
        stats = client.nodes.stats(metric="thread_pool")["nodes"]
        return sum(n["thread_pool"]["write"]["rejected"] for n in stats.values())

    def fault(scenario):
        stop = threading.Event()
        body = [line for i in range(200) for line in
                ({"index": {"_index": "faults-flood-1"}}, {"message": f"flood {i}"})]

        def flood():
            client = make_client(scenario.settings)
            while not stop.is_set():
                try:
                    client.bulk(body=body)
                except Exception:  # noqa: BLE001 - a 429 for the whole request is the point
                    pass
            client.close()

        client = make_client(scenario.settings)
        before = rejected(client)
        threads = [threading.Thread(target=flood, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(FLOOD_S)
        stop.set()
        for thread in threads:
            thread.join(30)
        count = rejected(client) - before
        client.close()
        scenario.notes.append(f"{count} write requests rejected with 429 in {FLOOD_S:.0f} s")
        assert count > 0, "the node never answered 429: the fault did not happen"

    row, _ = harness.run(fault_stack, reference, record, "opensearch-429", fault)
    assert row["write_retries"] > 0, "the worker's writes were never refused"


def test_index_write_block_set_and_lifted(fault_stack, reference, record):
    def fault(scenario):
        client = scenario.client()
        block = {"index.blocks.write": True}
        client.put_index_settings(scenario.index, block)
        at_block = scenario.final_count()
        time.sleep(BLOCK_S)
        during = scenario.final_count()
        client.put_index_settings(scenario.index, {"index.blocks.write": False})
        client.close()
        scenario.notes.append(f"{BLOCK_S:.0f} s; {during - at_block} documents final "
                              "while blocked")
        assert during == at_block, "writes went through the block: the fault did not happen"

    row, _ = harness.run(fault_stack, reference, record, "index-write-block", fault)
    assert row["write_retries"] > 0, "the worker's writes were never refused"


def test_two_workers_one_killed(fault_stack, reference, record):
    import signal

    def fault(scenario):
        scenario.processes["worker1"].send_signal(signal.SIGKILL)
        scenario.processes["worker1"].wait(10)
        scenario.killed.append("worker1")
        scenario.notes.append("worker1 SIGKILL; worker2 takes its partitions after the lease "
                              "TTL (6 s)")

    harness.run(fault_stack, reference, record, "worker-killed", fault, workers=2, concurrency=1)


def test_corrupt_drain_state(fault_stack, reference, record):
    """Garbage in the Drain state key mid-pass: the worker keeps enriching, keeps the bytes for
    a post-mortem and writes its own copy back; a process without a copy starts a new state
    whose ids continue above the highest id ever given."""
    import redis

    from colog.core.parsing.drain import TemplateParser
    from colog.services.enrich.template_store import TemplateStore

    garbage = b"\x00 this is not a drain state \xff"

    def fault(scenario):
        client = redis.Redis.from_url(scenario.settings.redis_url)
        key = scenario.settings.drain_state_key
        client.set(key, garbage)
        client.incr(key + ":version")  # so every worker reloads it at its next batch
        client.close()
        scenario.notes.append("state key overwritten with garbage")

    _, scenario = harness.run(fault_stack, reference, record, "drain-state-corrupt", fault)
    client = redis.Redis.from_url(scenario.settings.redis_url)
    key = scenario.settings.drain_state_key
    assert client.get(key + ":corrupt") == garbage
    assert len(TemplateParser.from_bytes(client.get(key))) >= 4
    assert "is unreadable" in scenario.log("worker1"), scenario.logs_tail()

    # A process that never held a copy (a worker started after the damage).
    fresh_key = key + ":fresh"
    client.set(fresh_key, garbage)
    client.set(fresh_key + ":last_id", 40)
    assigned = TemplateStore(client, fresh_key).assign(["disk sda1 is full", "user bob logged in"])
    assert [int(template_id) for template_id, _ in assigned] == [41, 42]
    assert len(TemplateParser.from_bytes(client.get(fresh_key))) == 2
    client.close()


def test_served_model_unloaded_and_loaded_again(fault_stack, reference, record):
    from colog.core.serving.client import TritonClient

    def fault(scenario):
        triton = TritonClient(scenario.settings)
        triton.unload_model()
        deadline = time.monotonic() + 30
        while triton.is_model_ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not triton.is_model_ready(), "the model is still served after unload"
        time.sleep(UNLOADED_S)
        triton.load_model()
        triton.close()
        scenario.notes.append(f"`colog` unloaded for {UNLOADED_S:.0f} s")

    harness.run(fault_stack, reference, record, "model-unloaded", fault)


def test_writer_keeps_a_blocked_document_pending(fault_stack):
    """What scenario "index-write-block" relies on, at the writer: a write refused by an index
    block is retried and, when the block outlasts the retries, left unwritten (the document stays
    pending for the next pass), never marked `failed`."""
    from colog.core.engine import connect
    from colog.services.enrich.writer import Update, write_updates

    index = "faults-blocked-1"
    client = connect(fault_stack.settings)
    client.delete_index(index)
    client.index(index, id="a", document={"message": "x", "colog": {"status": "pending"}},
                 refresh=True)
    doc = client.get(index=index, id="a")
    client.put_index_settings(index, {"index.blocks.write": True})
    try:
        report = write_updates(client, [Update(index, "a", doc["_seq_no"], doc["_primary_term"],
                                               {"status": "enriched", "label": "normal"})],
                               max_attempts=3, backoff_s=0.1)
    finally:
        client.put_index_settings(index, {"index.blocks.write": False})
    [(doc_id, reason)] = report.unwritten
    assert doc_id == "a" and report.retries == 2
    assert reason.startswith("gave up after 3 attempts") and "cluster_block_exception" in reason
    assert client.get(index=index, id="a")["_source"]["colog"]["status"] == "pending"
    client.close()
