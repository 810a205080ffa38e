"""Masking of variable parts of a log message (ids, addresses, numbers, paths).

The same masking feeds Drain3 (so templates group by constant text), the embedding cache key
(so identical masked messages are embedded once) and the semantic modality. Order matters: the
most specific patterns (UUIDs, block ids, addresses) run before the generic number rule, or a
UUID would be eaten piecewise by ``<NUM>``.
"""

from __future__ import annotations

import re

# (placeholder, pattern) in the order they are applied.
MASKING_RULES: tuple[tuple[str, str], ...] = (
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("BLK", r"\bblk_-?\d+\b"),
    ("IP", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    ("IP", r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])"),
    ("PATH", r"(?<![\w/])(?:/[\w.\-@~+]+){2,}/?"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b"),
    ("HEX", r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"),
    ("NUM", r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])"),
)

_COMPILED = tuple((f"<{name}>", re.compile(pattern)) for name, pattern in MASKING_RULES)


def mask_message(text: str) -> str:
    """The message with every variable part replaced by its placeholder, e.g. ``<IP>``."""
    for placeholder, pattern in _COMPILED:
        text = pattern.sub(placeholder, text)
    return text


def drain_masking_instructions() -> list[dict[str, str]]:
    """The same rules in the shape Drain3's ``TemplateMinerConfig.masking_instructions`` wants."""
    return [{"regex_pattern": pattern, "mask_with": name} for name, pattern in MASKING_RULES]
