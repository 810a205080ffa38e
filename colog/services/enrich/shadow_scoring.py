"""The worker's side of shadow evaluation: score each batch with the candidate too.

Whether a shadow runs is Triton's to say: a worker asks at most every `shadow_check_s` whether
the shadow model is ready, so `colog shadow start`/`stop` reach every worker without a restart
or any shared state. The candidate sees exactly the rows the live model saw (no second
embedding), and its call runs on a thread of its own while the batch's Drain templates are
assigned, so the live path waits only for what is left of it. Its failures never touch the
live path: the call has no retries, any error is counted and logged, the batch is written with
live verdicts only, and the shadow is asked about again at the next check.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from colog.core.features.modalities import Modalities
from colog.core.verdict import Thresholds

log = logging.getLogger(__name__)


class ShadowScorer:
    def __init__(self, settings, live_spec, live_classes, metrics, client=None):
        from colog.core.serving.client import TritonClient

        self.client = client or TritonClient(settings, model=settings.triton_shadow_model,
                                             retries=0)
        self.live_spec, self.live_classes = live_spec, tuple(live_classes)
        self.metrics = metrics
        self.check_s = float(settings.shadow_check_s)
        self.params = None
        self._active = False
        self._checked_at = float("-inf")
        self._pool: ThreadPoolExecutor | None = None

    def _refresh(self) -> None:
        from colog.core.serving.client import TritonError
        from colog.core.serving.repository import RepositoryError

        self._checked_at = time.monotonic()
        try:
            ready = self.client.is_model_ready()
            params = self.client.model_parameters() if ready else None
        except (TritonError, RepositoryError):
            ready, params = False, None
        if ready and not self._compatible(params):
            log.warning("shadow model %s builds other inputs than the live model (%s vs %s): "
                        "not scored", self.client.model, params, self.live_spec)
            ready = False
        self._active, self.params = ready, params

    def _compatible(self, params) -> bool:
        return params.features == self.live_spec and tuple(params.classes) == self.live_classes

    def active(self) -> bool:
        if time.monotonic() - self._checked_at >= self.check_s:
            self._refresh()
        return self._active

    def _infer(self, modalities: Modalities):
        started = time.perf_counter()
        # Only the probabilities: a shadow verdict records no attention.
        answer = self.client.infer(modalities.tokens, modalities.sequence,
                                   modalities.sequence_mask, outputs=("probs",))
        self.metrics.shadow_seconds.observe(time.perf_counter() - started)
        return answer

    def submit(self, modalities: Modalities) -> Future | None:
        """Start the candidate's inference for the rows, or None when no shadow runs. It runs
        beside the live path's own work (verdicts, templates) instead of after it."""
        if not self.active():
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colog-shadow")
        return self._pool.submit(self._infer, modalities)

    def result(self, future: Future | None) -> tuple[dict[str, np.ndarray], str] | None:
        """The candidate's outputs, or None when no shadow ran or it failed (then counted,
        logged and not asked again before the next check)."""
        if future is None:
            return None
        from colog.core.serving.client import TritonError

        try:
            return future.result()
        except (TritonError, ValueError) as exc:
            self.metrics.shadow_failures.inc()
            log.warning("shadow model %s failed, live verdicts written without it: %s",
                        self.client.model, exc)
            self._active, self._checked_at = False, time.monotonic()
            return None

    def predict(self, modalities: Modalities) -> tuple[dict[str, np.ndarray], str] | None:
        """`submit` and wait: the candidate's outputs for the rows, or None."""
        return self.result(self.submit(modalities))

    def thresholds(self, version: str) -> Thresholds:
        if self.params is None or str(version) not in self.params.thresholds:
            self.params = self.client.model_parameters()
        return self.params.thresholds_of(version)
