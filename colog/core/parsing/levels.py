"""One spelling per log level, so `--anomaly-levels WARN` also catches `Warning` and `warn`.

Logs spell levels many ways (``WARNING``, ``Warning``, ``warn``; Android logs a single letter).
Levels are upper-cased and common synonyms folded into one name. Single letters are only
expanded by formats that ask for it (Android), because elsewhere a letter may mean anything.
"""

from __future__ import annotations

from typing import Mapping

_SYNONYMS = {
    "WARNING": "WARN",
    "ERR": "ERROR",
    "SEVERE": "ERROR",
    "CRIT": "CRITICAL",
    "EMERGENCY": "EMERG",
    "INFORMATION": "INFO",
    "INFORMATIONAL": "INFO",
    "DBG": "DEBUG",
}

# Android logcat priorities (V, D, I, W, E, F/A).
ANDROID_LETTERS = {"V": "VERBOSE", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR",
                   "F": "FATAL", "A": "FATAL"}


def normalize_level(raw: str | None, letters: Mapping[str, str] | None = None) -> str | None:
    """The canonical upper-case name of a level, or None for an empty one."""
    if raw is None:
        return None
    level = raw.strip().upper()
    if not level:
        return None
    if letters and level in letters:
        return letters[level]
    return _SYNONYMS.get(level, level)


