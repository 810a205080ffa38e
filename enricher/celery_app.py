"""The Celery application: Redis broker, settings that keep work from being lost (OPS-NOTES).

- `task_acks_late` + `task_reject_on_worker_lost`: a task whose worker dies is redelivered.
  Redelivery can repeat work, which is safe: the state of record is the document, and writes
  are guarded by sequence numbers.
- `worker_prefetch_multiplier=1`: a worker holds one task at a time, so the queue length that
  the autoscaler sees is the real backlog.
- `visibility_timeout` above the longest task (a partition pass is bounded by the partition lock
  TTL and the batch sizes).
- Beat dispatches pending partitions every `beat_interval_s`; a task that finds its partition
  locked returns at once, so duplicate dispatches cost nothing.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from colog.settings import get_settings

QUEUE = "colog"


def make_app() -> Celery:
    settings = get_settings()
    app = Celery("colog", broker=settings.redis_url, include=["enricher.tasks"])
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
        beat_schedule={
            "dispatch-pending": {"task": "colog.dispatch",
                                 "schedule": settings.beat_interval_s},
            **({"retrain": {"task": "colog.retrain", "schedule": settings.retrain_interval_s}}
               if settings.retrain_interval_s > 0 else {}),
            **({"drift-check": {"task": "colog.drift", "schedule": settings.drift_interval_s}}
               if settings.drift_interval_s > 0 else {}),
        },
    )
    return app


app = make_app()


@worker_process_init.connect
def _fresh_clients(**_kwargs) -> None:
    """Clients are per process: drop anything inherited across fork."""
    from enricher import tasks

    tasks.reset_context()
