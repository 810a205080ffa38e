"""Turn a Loghub-style header spec into one compiled regular expression.

A spec names the header fields in angle brackets, e.g.

    <Date> <Time> <Pid> <Level> <Component>: <Content>

Conventions (the same ones Loghub's benchmark settings use, so their specs can be pasted in):

- the text between fields is a regular-expression fragment, so literal brackets are escaped
  (``\\[<Process>\\]``) and optional parts are groups (``<Component>(\\[<Pid>\\])?:``);
- every run of spaces matches one or more whitespace characters, because many logs pad
  columns to a fixed width;
- ``<Content>`` must appear exactly once; it is the message and takes the rest of the line;
- every other field matches as little text as possible (``.*?``) unless the format gives it
  its own pattern, which is how a field that may itself contain the separator is pinned down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

CONTENT_FIELD = "Content"

_FIELD_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
_SPACES_RE = re.compile(r" +")
_DEFAULT_FIELD_PATTERN = ".*?"


class HeaderSpecError(ValueError):
    """The header spec itself is unusable (no <Content>, duplicate field, bad regex)."""


@dataclass(frozen=True)
class HeaderPattern:
    spec: str
    fields: tuple[str, ...]
    regex: re.Pattern[str]

    def match(self, line: str) -> dict[str, str] | None:
        """The header fields of `line` (absent optional fields as ""), or None."""
        found = self.regex.match(line)
        if found is None:
            return None
        return {name: (value or "") for name, value in found.groupdict().items()}


def compile_header(spec: str, field_patterns: Mapping[str, str] | None = None) -> HeaderPattern:
    """Compile `spec`; `field_patterns` overrides the lazy default pattern of named fields."""
    if not isinstance(spec, str) or not spec.strip():
        raise HeaderSpecError("the header spec is empty")
    patterns = dict(field_patterns or {})
    names = _FIELD_RE.findall(spec)
    if names.count(CONTENT_FIELD) != 1:
        raise HeaderSpecError(f"the header spec must contain <{CONTENT_FIELD}> exactly once: {spec!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HeaderSpecError(f"field(s) named twice in the header spec: {', '.join(duplicates)}")
    unknown = sorted(set(patterns) - set(names))
    if unknown:
        raise HeaderSpecError(f"pattern(s) given for field(s) not in the spec: {', '.join(unknown)}")

    parts: list[str] = []
    position = 0
    for found in _FIELD_RE.finditer(spec):
        parts.append(_SPACES_RE.sub(r"\\s+", spec[position:found.start()]))
        name = found.group(1)
        # Content takes the rest of the line; the `$` anchor below makes that explicit.
        pattern = ".*" if name == CONTENT_FIELD else patterns.get(name, _DEFAULT_FIELD_PATTERN)
        parts.append(f"(?P<{name}>{pattern})")
        position = found.end()
    parts.append(_SPACES_RE.sub(r"\\s+", spec[position:]))
    source = "^" + "".join(parts) + "$"
    try:
        regex = re.compile(source)
    except re.error as exc:
        raise HeaderSpecError(f"the header spec is not a valid pattern ({exc}): {spec!r}") from exc
    return HeaderPattern(spec=spec, fields=tuple(names), regex=regex)

