"""Celery tasks: `colog.dispatch` (beat) and `colog.enrich_partition` (workers)."""

from __future__ import annotations

import logging

import redis

from colog.app.worker.celery_app import app
from colog.app.worker.thread_context import context
from colog.core.engine.errors import TLSFailed, Unreachable
from colog.core.serving.client import ModelNotReady, TritonUnavailable

log = logging.getLogger(__name__)
QUEUED_KEY = "colog:queued:{}"  # set while a task for the partition waits in the queue
QUEUED_TTL_S = 60  # a task lost with its queue (Redis restarted) blocks a partition this long
# What a later attempt of a pass can cure: a server that did not answer, a model still loading.
# The project's clients raise their own classes (the engine's Unreachable, Triton's, redis-py's),
# none of which is a builtin ConnectionError. A pass that fails is safe to run again: the
# documents are the state of record and writes are guarded (docs/design.md §9).
TRANSIENT_ERRORS = (Unreachable, TritonUnavailable, ModelNotReady, redis.ConnectionError,
                    redis.TimeoutError, ConnectionError, TimeoutError)
# ...and what it cannot: a certificate the worker does not trust stays untrusted.
PERMANENT_ERRORS = (TLSFailed,)


@app.task(name="colog.dispatch", ignore_result=True)
def dispatch() -> dict:
    """Enqueue one task per partition that has pending streams (the lag gauges are beat's:
    colog/app/worker/beat.py)."""
    from colog.services.enrich.partitions import streams_by_partition

    ctx = context()
    interval = ctx.settings.beat_interval_s
    # A second beat (a mis-scaled Deployment) finds the slot taken and does nothing.
    if ctx.redis is not None and not ctx.redis.set("colog:lock:dispatch", "1", nx=True,
                                                   px=max(100, int(interval * 800))):
        return {"partitions": [], "skipped": "dispatched by another beat this interval"}
    grouped = streams_by_partition(ctx)
    for partition in grouped:
        # At most one task per partition waits in the queue: while workers are slower than
        # beat, a tick adds nothing that the waiting task will not do anyway.
        if ctx.redis is not None and not ctx.redis.set(QUEUED_KEY.format(partition), "1",
                                                       nx=True, ex=QUEUED_TTL_S):
            continue
        enrich_partition.delay(partition)
    from colog.services.enrich.incidents import close_stale_incidents

    closed = close_stale_incidents(ctx.client, ctx.settings)
    return {"partitions": sorted(grouped), "incidents_closed": len(closed)}


@app.task(name="colog.enrich_partition", ignore_result=True, acks_late=True,
          autoretry_for=TRANSIENT_ERRORS, dont_autoretry_for=PERMANENT_ERRORS,
          retry_backoff=True, retry_backoff_max=60, max_retries=5)
def enrich_partition(partition: int, flush: bool = False) -> dict:
    from colog.services.enrich.partitions import enrich_partition as run

    ctx = context()
    if ctx.redis is not None:
        # Taken off the queue: events that arrive from now on need the next task.
        ctx.redis.delete(QUEUED_KEY.format(partition))
    report = run(ctx, partition, flush=flush)
    log.info("partition %s: scored %s, rejected %s, waiting %s%s", partition, report.scored,
             report.rejected, report.waiting, " (locked by another worker)"
             if report.locked_out else " (taken over by another worker)" if report.lease_lost
             else " (stopped: worker shutting down)" if report.stopped else "")
    return {"partition": partition, "scored": report.scored, "rejected": report.rejected,
            "stopped": report.stopped}


@app.task(name="colog.drift", ignore_result=True)
def drift_check() -> dict:
    """Drift of every index and stream against its reference (off when COLOG_DRIFT_INTERVAL_S=0)."""
    from colog.services.drift.check import run_check

    ctx = context()
    report = run_check(ctx.client, ctx.settings, ctx.redis)
    if report.drifted:
        log.warning("drift: %s of %s measures over a threshold (%s); retrain flag %s",
                    len(report.drifted), len(report.measures),
                    ", ".join(sorted({r for m in report.drifted for r in m.reasons})),
                    "raised" if report.flag_raised else "already set")
    return {"measures": len(report.measures), "drifted": len(report.drifted)}


@app.task(name="colog.retrain", ignore_result=True)
def retrain() -> dict:
    """Scheduled retraining (off unless COLOG_RETRAIN_INTERVAL_S > 0); one at a time. For the
    local stack: the Helm chart runs retraining in its trainer CronJob instead, and sets the
    interval to 0 for workers and beat."""
    from colog.services.train.scheduled import retrain_once

    ctx = context()
    return retrain_once(ctx.client, ctx.settings, ctx.redis)
