"""Label vocabulary, weak labels for unlabelled events, and derivation of context labels.

Precedence, highest first: an explicit label on the record (analyst feedback, or a labelled
corpus) > a weak label from the log level (ERROR and above) > a weak label from failure phrases
> normal. Explicit labels are never overridden. The rules are documented in docs/labelling.md.
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

# `colog convert --label-by-level`: the classic Loghub convention for level-labelled corpora
# (WARN and above), used to turn a labelled benchmark log into explicit labels.
ANOMALOUS_LEVELS = frozenset({"WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL", "CRIT",
                              "SEVERE", "EMERG", "ALERT", "PANIC"})

# Weak labels for events nobody labelled: rules an analyst can check, each with its reason
# (docs/labelling.md). They are deliberately narrow: every weak "anomaly" is an alert someone
# reads, and the first version (WARN and 60 generic words such as "invalid", "timeout",
# "interrupted") flagged 44 % of the demo's 10,000 sample lines.
WEAK_ANOMALY_LEVELS = frozenset({"ERROR", "ERR", "FATAL", "CRITICAL", "CRIT", "SEVERE", "EMERG",
                                 "ALERT", "PANIC"})
# Not WARN: services log routine retries and reconnects as WARN (the ZooKeeper sample logs 1,318
# WARN lines in 2,000, most of them a peer reconnecting).

# (phrase, why a line holding it deserves a look). Matched case-insensitively on word boundaries.
WEAK_ANOMALY_PHRASES: tuple[tuple[str, str], ...] = (
    ("fatal", "the program says it cannot continue"),
    ("panic", "kernel or runtime panic"),
    ("segfault", "a process crashed on a memory error"),
    ("segmentation fault", "a process crashed on a memory error"),
    ("core dumped", "a process crashed"),
    ("out of memory", "memory exhaustion; processes get killed"),
    ("oom-killer", "the kernel killed a process for memory"),
    ("exception", "an unhandled or logged exception: a code path failed"),
    ("traceback", "a stack trace follows: a code path failed"),
    ("corrupt", "data corruption"),
    ("corrupted", "data corruption"),
    ("deadlock", "work stopped waiting on itself"),
    ("authentication failure", "a failed login (brute force shows as many)"),
    ("failed password", "a failed login (brute force shows as many)"),
    ("invalid user", "a login attempt for an account that does not exist"),
    ("break-in attempt", "sshd's own intrusion warning"),
    ("permission denied", "access refused by the system"),
    ("access denied", "access refused by the system"),
    ("connection refused", "a service is down or refusing clients"),
    ("no route to host", "the network path is gone"),
    ("failed to", "an operation the program attempted did not succeed"),
    ("failure", "the program reports a failure"),
)
NEGATIVE_KEYWORDS = tuple(phrase for phrase, _ in WEAK_ANOMALY_PHRASES)
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
    """WARN and above: `colog convert --label-by-level` (not the weak labels)."""
    return level is not None and level.strip().upper() in ANOMALOUS_LEVELS


def negative_keywords_in(message: str) -> list[str]:
    return [m.group(1).lower() for m in _KEYWORD_RE.finditer(message)]


def weak_reason(message: str, level: str | None) -> str | None:
    """Which weak rule marks an unlabelled event anomalous ("level ERROR", "phrase
    'failed password'"), or None when no rule does (the event is then normal)."""
    if level is not None and level.strip().upper() in WEAK_ANOMALY_LEVELS:
        return f"level {level.strip().upper()}"
    found = negative_keywords_in(message)
    return f"phrase {found[0]!r}" if found else None


def weak_label(message: str, level: str | None) -> str:
    """Weak label of an unlabelled event: the level first, then the failure phrases."""
    return ANOMALY if weak_reason(message, level) else NORMAL


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
