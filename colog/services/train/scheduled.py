"""Scheduled retraining (the `colog.retrain` beat task): the same path as
`colog train --from-opensearch`, off unless COLOG_RETRAIN_INTERVAL_S > 0.

Two retrainings never run at once: a Redis lock (SET NX with a TTL, released only by its holder
through a compare-and-delete script) guards the whole run, so a second beat, a slow run that
overlaps the next tick, or an operator's manual run started through the same function, finds
the lock taken and returns at once.

With `retrain_on_drift`, a tick retrains only while the drift monitor's retrain flag is set
(colog/services/drift/store.py), and a published model clears it: retraining on need, not on a timer.
"""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger(__name__)

LOCK_KEY = "colog:lock:retrain"
LOCK_TTL_S = 6 * 3600  # outlives any sane training run; a killed run frees it after this
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")


class RetrainLock:
    def __init__(self, redis_client, key: str = LOCK_KEY, ttl_s: int = LOCK_TTL_S):
        self.redis, self.key, self.ttl_s = redis_client, key, ttl_s
        self.token = uuid.uuid4().hex
        self.held = False

    def __enter__(self) -> "RetrainLock":
        self.held = bool(self.redis.set(self.key, self.token, nx=True, ex=self.ttl_s))
        return self

    def __exit__(self, *exc) -> None:
        if self.held:
            self.redis.eval(_RELEASE, 1, self.key, self.token)
            self.held = False


def retrain_once(client, settings, redis, force_enabled: bool = False) -> dict:
    """One scheduled retraining with these clients. Returns what happened (never raises for
    expected outcomes)."""
    from rich.console import Console

    from colog.services.train.export import NoLabelsError
    from colog.services.train.release import ReleaseError, RetrainOptions, retrain

    if settings.retrain_interval_s <= 0 and not force_enabled:
        return {"skipped": "scheduled retraining is off (COLOG_RETRAIN_INTERVAL_S=0)"}
    if redis is None:
        return {"skipped": "no Redis: cannot guard against concurrent retraining"}
    from colog.services.drift.store import clear_flag, read_flag

    flag = read_flag(redis)
    if settings.retrain_on_drift and flag is None:
        return {"skipped": "no drift flagged (COLOG_RETRAIN_ON_DRIFT=true)"}
    with RetrainLock(redis) as lock:
        if not lock.held:
            return {"skipped": "another retraining is running"}
        try:
            outcome = retrain(client, settings, RetrainOptions(), "beat",
                              Console(stderr=True))
        except NoLabelsError as exc:
            log.info("retrain: %s", exc)
            return {"skipped": str(exc)}
        except ReleaseError as exc:
            log.warning("retrain failed: %s", exc)
            return {"failed": str(exc)}
    if outcome.published and flag is not None:
        clear_flag(redis)  # the new model has seen the traffic that raised it
    return {"published": outcome.published, "version": outcome.version,
            "previous": outcome.previous,
            "gate": outcome.gate.reason if outcome.gate else None}
