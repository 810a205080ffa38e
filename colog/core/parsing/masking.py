"""Masking of variable parts of a log message (ids, addresses, numbers, paths).

The same masking feeds Drain3 (so templates group by constant text), the embedding cache key
(so identical masked messages are embedded once) and the semantic modality. Order matters: the
most specific patterns (UUIDs, block ids, addresses) run before the generic number rule, or a
UUID would be eaten piecewise by ``<NUM>``.

Boundaries: a masked value must not be glued to a word character on either side, so words
that merely contain digits or hex letters (``appattempt_1445``, ``deadline``, ``Class::add``)
stay as they are. A trailing full stop ends a value (``from 10.0.0.1.``) but a dot followed by
a digit continues it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_H = r"[0-9a-fA-F]{1,4}"
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
# RFC 4291 text forms: eight groups, or `::` standing for one or more zero groups (with an
# optional embedded IPv4 tail). Six-group `a:b:c:d:e:f` without `::` is NOT matched, because
# clock times (12:30:45) and MAC-like ids would otherwise turn into <IP>.
_IPV6 = (
    r"(?<![\w:.])(?:"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,6}}:(?:{_H}:){{0,5}}{_IPV4}"
    rf"|::(?:ffff(?::0{{1,4}})?:)?{_IPV4}"
    rf"|(?:{_H}:){{1,6}}(?::{_H}){{1,6}}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|::(?:{_H}:){{0,6}}{_H}"
    r")(?:%[0-9A-Za-z]+)?(?![\w:]|\.\d)"
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = (rf"(?<![\w.\-/@])(?:(?:{_LABEL}\.)+[a-z]{{2,24}}:\d{{1,5}}"
         rf"|(?:{_LABEL}\.){{2,}}[a-z]{{2,24}})(?![\w\-]|\.\w)")

# (placeholder, pattern) in the order they are applied.
MASKING_RULES: tuple[tuple[str, str], ...] = (
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("BLK", r"\bblk_-?\d+\b"),
    # IPv6 first: its embedded-IPv4 form (::ffff:10.1.2.3) would otherwise lose its tail.
    ("IP", _IPV6),
    ("IP", rf"(?<![\w.]){_IPV4}(?::\d{{1,5}})?(?!\w|\.\d)"),
    ("MAC", r"(?<![\w:])[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}(?![\w:])"),
    # Host names: lower-case dotted names with a port (www.google.com:443, a.org:80) or with
    # three or more labels (proxy.cse.cuhk.edu.hk). Lower case only, so Java class names
    # (org.apache.hadoop.mapreduce.v2.app.MRAppMaster, dfs.DataNode) stay readable text.
    ("HOST", _HOST),
    ("PATH", r"(?<![\w/])(?:/[\w.\-@~+]+){2,}/?"),
    ("PATH", r"(?<![\w\\])[A-Za-z]:\\(?:[^\\\s\"'<>|]+\\)*[^\\\s\"'<>|,;]*"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b"),
    ("HEX", r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"),
    ("NUM", r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?!\w|\.\d)"),
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



@dataclass(frozen=True)
class TracedMask:
    """A masked message that remembers where each of its characters came from."""

    text: str                          # == mask_message(original)
    origins: list[tuple[int, int]]     # per character of `text`: the span of the original
    parameters: list[tuple[int, int]]  # spans of the original that placeholders replaced


def mask_with_origins(text: str) -> TracedMask:
    """`mask_message(text)` and, for each of its characters, the span of `text` it stands for:
    a kept character its own position, every character of a placeholder the whole value it
    replaced. Explanations use it to show the analyst the original words, parameters included.
    """
    original_length = len(text)
    origins = [(i, i + 1) for i in range(len(text))]
    placeholder_char = [False] * len(text)
    for placeholder, pattern in _COMPILED:
        parts, spans, flags, last = [], [], [], 0
        for match in pattern.finditer(text):
            start, end = match.span()
            parts.append(text[last:start])
            spans.extend(origins[last:start])
            flags.extend(placeholder_char[last:start])
            replaced = origins[start:end]
            at = origins[start][0] if start < len(origins) else original_length
            covered = (replaced[0][0], replaced[-1][1]) if replaced else (at, at)
            parts.append(placeholder)
            spans.extend([covered] * len(placeholder))
            flags.extend([True] * len(placeholder))
            last = end
        if not parts:
            continue
        parts.append(text[last:])
        spans.extend(origins[last:])
        flags.extend(placeholder_char[last:])
        text, origins, placeholder_char = "".join(parts), spans, flags
    parameters = sorted({span for span, flag in zip(origins, placeholder_char)
                         if flag and span[1] > span[0]})
    return TracedMask(text, origins, parameters)
