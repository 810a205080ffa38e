"""Beat's scheduler: Celery's persistent scheduler, plus what only one process may do.

After every tick it touches the beat heartbeat (`colog health --beat`, beat's liveness probe: a
scheduler loop that stopped ticking stops touching it) and, every `beat_interval_s`, measures
the pending documents and the lag for the whole index pattern into the gauges beat serves on
its metrics port (colog/services/enrich/lag.py). A failed measurement is logged and retried next interval;
it never stops the schedule.
"""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler

log = logging.getLogger(__name__)


class MeasuringScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._measured_at = 0.0
        self._client = None

    def tick(self, *args, **kwargs):
        from colog.core.settings import get_settings
        from colog.services.enrich.health import touch_heartbeat

        interval = super().tick(*args, **kwargs)
        settings = get_settings()
        touch_heartbeat(settings, settings.beat_heartbeat_file)
        if time.monotonic() - self._measured_at >= settings.beat_interval_s:
            self._measured_at = time.monotonic()
            self._measure(settings)
        return interval

    def _measure(self, settings) -> None:
        from colog.services.enrich.lag import refresh_lag

        try:
            if self._client is None:
                from colog.core.engine import connect

                self._client = connect(settings)  # the configured engine (refresh_lag reads it)
            refresh_lag(self._client, settings)
        except Exception as exc:  # noqa: BLE001 — OpenSearch down: the schedule goes on
            log.warning("lag gauges not refreshed: %s", exc)
