"""The Celery application: Redis broker, settings that keep work from being lost (docs/design.md §9).

- `task_acks_late` + `task_reject_on_worker_lost`: a task whose worker dies is redelivered.
  Redelivery can repeat work, which is safe: the state of record is the document, and writes
  are guarded by sequence numbers.
- `worker_prefetch_multiplier=1`: a worker holds one task at a time, so the queue length that
  the autoscaler sees is the real backlog.
- `visibility_timeout` above the longest task (a partition pass is bounded by the partition lock
  TTL and the batch sizes).
- Beat dispatches pending partitions every `beat_interval_s`; a task that finds its partition
  locked returns at once, so duplicate dispatches cost nothing. Beat's scheduler
  (colog/app/worker/beat.py) also exports the pending-documents and lag gauges, once for the cluster.
- Liveness: a consumer bootstep writes the heartbeat only while the broker answers and running
  tasks make progress (colog/services/enrich/health.py).
- SIGTERM (warm shutdown): running passes stop at their next batch boundary and release their
  leases (colog/services/enrich/shutdown.py); `visibility_timeout` only matters for a task whose worker was
  killed before it acknowledged, and is documented with the grace period (docs/operations.md).
"""

from __future__ import annotations

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_shutting_down

from colog.core.settings import get_settings

QUEUE = "colog"


def make_app() -> Celery:
    settings = get_settings()
    app = Celery("colog", broker=settings.redis_url, include=["colog.app.worker.tasks"])
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_transport_options={"visibility_timeout": 3600},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        beat_scheduler="colog.app.worker.beat:MeasuringScheduler",
        # Beat's loop wakes at least this often: its heartbeat and the lag gauges follow it.
        beat_max_loop_interval=max(1.0, min(5.0, settings.beat_interval_s)),
        beat_schedule={
            "dispatch-pending": {"task": "colog.dispatch",
                                 "schedule": settings.beat_interval_s},
            **({"retrain": {"task": "colog.retrain", "schedule": settings.retrain_interval_s}}
               if settings.retrain_interval_s > 0 else {}),
            **({"drift-check": {"task": "colog.drift", "schedule": settings.drift_interval_s}}
               if settings.drift_interval_s > 0 else {}),
        },
    )
    from colog.services.enrich.health import liveness_step

    app.steps["consumer"].add(liveness_step())
    return app


app = make_app()


@worker_shutting_down.connect
def _stop_passes(**_kwargs) -> None:
    from colog.services.enrich.shutdown import request_stop

    request_stop()


@task_prerun.connect
def _task_started(task_id=None, **_kwargs) -> None:
    from colog.services.enrich.health import PROGRESS

    PROGRESS.task_started(str(task_id))


@task_postrun.connect
def _task_finished(task_id=None, **_kwargs) -> None:
    from colog.services.enrich.health import PROGRESS

    PROGRESS.task_finished(str(task_id))


@worker_process_init.connect
def _fresh_clients(**_kwargs) -> None:
    """Clients are per process: drop anything inherited across fork."""
    from colog.app.worker.thread_context import reset_context

    reset_context()
