"""The partition lease against a real Redis, and a pass whose batches outlast the lease TTL."""

from __future__ import annotations

import time

import pytest

from colog.services.enrich.context import build_context
from colog.services.enrich.lease import LOCK_KEY, LeaseLost, PartitionLease
from colog.services.enrich.one_pass import run_pass
from tests.integration.test_enrichment import all_docs, load

pytestmark = pytest.mark.integration
TTL_S = 0.3
PARTITION = 9_901  # far beyond any configured partition count: no worker uses it


@pytest.fixture
def fresh_key(redis_server):
    redis_server.delete(LOCK_KEY.format(PARTITION))
    yield
    redis_server.delete(LOCK_KEY.format(PARTITION))


def test_lease_admits_one_holder(redis_server, fresh_key):
    first = PartitionLease(redis_server, PARTITION, TTL_S)
    second = PartitionLease(redis_server, PARTITION, TTL_S)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()


def test_expired_lease_nobody_took_is_taken_again(redis_server, fresh_key):
    lease = PartitionLease(redis_server, PARTITION, TTL_S)
    assert lease.acquire()
    time.sleep(TTL_S * 1.5)
    assert not redis_server.exists(LOCK_KEY.format(PARTITION))  # it really expired
    lease.renew()  # no error: nobody else holds it
    assert redis_server.exists(LOCK_KEY.format(PARTITION))
    assert not PartitionLease(redis_server, PARTITION, TTL_S).acquire()


def test_expired_lease_another_worker_took_stops_the_holder(redis_server, fresh_key):
    lease = PartitionLease(redis_server, PARTITION, TTL_S)
    assert lease.acquire()
    time.sleep(TTL_S * 1.5)
    other = PartitionLease(redis_server, PARTITION, 30)
    assert other.acquire()
    with pytest.raises(LeaseLost, match="another worker took it"):
        lease.renew()
    lease.release()  # must not free the other worker's lease
    assert redis_server.exists(LOCK_KEY.format(PARTITION))
    other.release()
    assert not redis_server.exists(LOCK_KEY.format(PARTITION))


def test_pass_finishes_when_every_batch_outlasts_the_lease(enrich_env, opensearch, tmp_path):
    """A slow host (CI, 2 cores) once made one stream outlast the TTL and the worker crashed."""
    from tests import synthetic

    rows = synthetic.records(streams=2, per_stream=30, seed=5)
    load(enrich_env, opensearch, tmp_path, "logs-lease-1", rows)
    settings = enrich_env.settings("logs-lease-*", partition_lock_ttl_s=0.001,
                                   inference_batch_size=4, write_batch_size=4)
    summary = run_pass(build_context(settings), flush=True, progress=False, lock_wait_s=0.1)
    assert summary.scored == len(rows) and summary.still_pending == 0
    assert {d["_source"]["colog"]["status"] for d in all_docs(opensearch, "logs-lease-1")} \
        == {"enriched"}
