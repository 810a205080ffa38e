"""Label vocabulary, weak labels for unlabelled events, and derivation of context labels.

Precedence, highest first: an explicit label on the record (analyst feedback, or a labelled
corpus) > a weak label from the log level > a weak label from negative-sentiment keywords >
normal. Explicit labels are never overridden. The rules are documented in docs/labelling.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

ANOMALY = "anomaly"
NORMAL = "normal"
LABELS = (NORMAL, ANOMALY)

# 2-class head: index 1 = the event is anomalous.
POINT_CLASSES = [NORMAL, ANOMALY]
# 4-class head: index = event + 2 * context (see docs/internals.md).
POINT_AND_CONTEXT_CLASSES = ["normal", "event", "context", "both"]

ANOMALOUS_LEVELS = frozenset({"WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL", "CRIT",
                              "SEVERE", "EMERG", "ALERT", "PANIC"})

# Words and phrases whose presence in a message signals something went wrong. Matched on word
# boundaries, case-insensitively. Kept deliberately conservative: "error" in "error_count=0" is
# still a hit, so analyst feedback must be able to override it (it does).
NEGATIVE_KEYWORDS = (
    "error", "errors", "fail", "failed", "failure", "failures", "failing", "fatal", "exception",
    "panic", "abort", "aborted", "aborting", "crash", "crashed", "corrupt", "corrupted",
    "denied", "refused", "refusing", "rejected", "timeout", "timed out", "unreachable",
    "unable", "cannot", "can't", "could not", "couldn't", "invalid", "illegal", "unexpected",
    "lost", "killed", "segfault", "segmentation fault", "out of memory", "oom", "broken pipe",
    "reset by peer", "authentication failure", "bad", "critical", "severe", "interrupted",
    "no route to host", "not responding", "unavailable", "overflow", "underflow", "deadlock",
    "shutdown abnormally", "break-in attempt", "possible break-in", "exceeded",
)
_KEYWORD_RE = re.compile(
    r"(?<![\w])(" + "|".join(re.escape(k) for k in sorted(NEGATIVE_KEYWORDS, key=len, reverse=True))
    + r")(?![\w])",
    re.IGNORECASE,
)


class LabelError(ValueError):
    """A label value outside the vocabulary."""


def validate_label(value: object, field: str = "label") -> str:
    """Return the canonical label or raise LabelError with the allowed values."""
    if not isinstance(value, str) or value.strip().lower() not in LABELS:
        raise LabelError(f"{field} must be one of {list(LABELS)}, got {value!r}")
    return value.strip().lower()


def level_is_anomalous(level: str | None) -> bool:
    return level is not None and level.strip().upper() in ANOMALOUS_LEVELS


def negative_keywords_in(message: str) -> list[str]:
    return [m.group(1).lower() for m in _KEYWORD_RE.finditer(message)]


def weak_label(message: str, level: str | None) -> str:
    """Weak label of an unlabelled event: the level first, then negative keywords."""
    if level_is_anomalous(level):
        return ANOMALY
    return ANOMALY if negative_keywords_in(message) else NORMAL


def resolve_label(explicit: str | None, message: str, level: str | None) -> tuple[str, str]:
    """The label to train on and where it came from (`explicit` or `weak`)."""
    if explicit is not None:
        return validate_label(explicit), "explicit"
    return weak_label(message, level), "weak"


def derive_context_labels(event_is_anomaly: np.ndarray, window_index: np.ndarray,
                          centre: int | None) -> np.ndarray:
    """Context label of every event: anomalous when any *other* event in its window is.

    `window_index` is [N, K] of positions into `event_is_anomaly` (-1 = no event); `centre`
    is the column that holds the event itself (None if the window excludes it).
    """
    padded = np.append(event_is_anomaly.astype(bool), False)  # index -1 -> the False sentinel
    neighbours = padded[window_index]
    if centre is not None:
        neighbours[:, centre] = False
    return neighbours.any(axis=1)


def class_index(event_anomaly: np.ndarray, context_anomaly: np.ndarray | None,
                num_classes: int) -> np.ndarray:
    """Training target: event (2 classes) or event + 2 * context (4 classes)."""
    event = event_anomaly.astype(np.int64)
    if num_classes == 2:
        return event
    if num_classes != 4 or context_anomaly is None:
        raise ValueError("4 classes need context labels; num_classes must be 2 or 4")
    return event + 2 * context_anomaly.astype(np.int64)


def classes_for(num_classes: int) -> list[str]:
    if num_classes == 2:
        return list(POINT_CLASSES)
    if num_classes == 4:
        return list(POINT_AND_CONTEXT_CLASSES)
    raise ValueError(f"num_classes must be 2 or 4, got {num_classes}")


def resolve_labels(explicit: Sequence[str | None], messages: Sequence[str],
                   levels: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised resolve_label: (is_anomaly bool[N], is_explicit bool[N])."""
    is_anomaly = np.zeros(len(messages), dtype=bool)
    is_explicit = np.zeros(len(messages), dtype=bool)
    for i, (label, message, level) in enumerate(zip(explicit, messages, levels)):
        value, source = resolve_label(label, message, level)
        is_anomaly[i] = value == ANOMALY
        is_explicit[i] = source == "explicit"
    return is_anomaly, is_explicit
