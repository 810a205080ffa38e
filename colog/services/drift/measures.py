"""Pure drift measures over count distributions; no engine, no I/O.

Jensen-Shannon divergence (base 2, so it lies in [0, 1] and is symmetric and finite even when a
template is absent from one side, unlike KL) between the template frequencies of a recent window
and a reference, and between their score histograms. New templates: present in the recent
window, absent from the reference. Unseen: absent from what the live model was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

SCORE_BIN = 0.05  # width of the score histogram's bins (20 bins over [0, 1])


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """JS divergence (bits) of two count distributions over the same kind of keys."""
    p_total, q_total = float(sum(p.values())), float(sum(q.values()))
    if p_total <= 0 or q_total <= 0:
        raise ValueError("both distributions need at least one count")
    divergence = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0.0) / p_total, q.get(key, 0.0) / q_total
        m = (a + b) / 2
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
        if b > 0:
            divergence += 0.5 * b * math.log2(b / m)
    return min(1.0, max(0.0, divergence))


def share_outside(counts: Mapping[str, float], known: set[str] | Mapping[str, float]) -> float:
    """Share of the counted events whose key is not in `known`."""
    total = float(sum(counts.values()))
    if total <= 0:
        return 0.0
    return sum(v for k, v in counts.items() if k not in known) / total


def histogram_mean(histogram: Mapping[float, float]) -> float | None:
    """Mean of a histogram keyed by bin start (bin centres weighted by counts)."""
    total = float(sum(histogram.values()))
    if total <= 0:
        return None
    return sum((float(k) + SCORE_BIN / 2) * v for k, v in histogram.items()) / total


@dataclass(frozen=True)
class DriftThresholds:
    min_events: int
    templates_js: float
    new_share: float
    unseen_share: float
    score_js: float


@dataclass
class WindowCounts:
    """What one window holds: events per template id and per score bin."""

    templates: dict[str, float] = field(default_factory=dict)
    scores: dict[float, float] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return int(sum(self.templates.values()))


@dataclass
class DriftMeasure:
    scope: str                      # "stream" or "index"
    index: str
    stream: str | None
    recent_events: int
    reference_events: int
    reference_kind: str             # "trailing" or "training"
    templates_js: float | None = None
    new_templates: int = 0
    new_share: float | None = None
    unseen_share: float | None = None   # None: the live model has no training profile
    score_js: float | None = None
    score_mean_recent: float | None = None
    score_mean_reference: float | None = None
    reasons: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)


def measure(scope: str, index: str, stream: str | None, recent: WindowCounts,
            reference: WindowCounts, reference_kind: str, trained_on: set[str] | None,
            limits: DriftThresholds) -> DriftMeasure:
    """Compare a recent window with its reference; name every threshold it crosses.

    Too few events on either side gives no verdict (a quiet stream is not a drifting one)."""
    result = DriftMeasure(scope, index, stream, recent.events, reference.events, reference_kind)
    if recent.events < limits.min_events:
        result.note = f"too few recent events ({recent.events} < {limits.min_events})"
        return result
    if trained_on is not None:
        result.unseen_share = share_outside(recent.templates, trained_on)
        if result.unseen_share >= limits.unseen_share:
            result.reasons.append("unseen_templates")
    if reference.events < limits.min_events:
        result.note = f"too few reference events ({reference.events} < {limits.min_events})"
        return result
    result.templates_js = js_divergence(recent.templates, reference.templates)
    new = {k for k in recent.templates if k not in reference.templates}
    result.new_templates = len(new)
    result.new_share = share_outside(recent.templates, reference.templates)
    if result.templates_js >= limits.templates_js:
        result.reasons.append("template_frequencies")
    if result.new_share >= limits.new_share:
        result.reasons.append("new_templates")
    if sum(recent.scores.values()) > 0 and sum(reference.scores.values()) > 0:
        result.score_js = js_divergence({str(k): v for k, v in recent.scores.items()},
                                        {str(k): v for k, v in reference.scores.items()})
        result.score_mean_recent = histogram_mean(recent.scores)
        result.score_mean_reference = histogram_mean(reference.scores)
        if result.score_js >= limits.score_js:
            result.reasons.append("score_distribution")
    return result
