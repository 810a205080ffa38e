"""The explanation written on an anomalous document: machine-readable fields and one line.

    point: "FAILED" (0.42), "su" (0.10); context: previous event "pam_authenticate: ..." (0.60)

Weights are how much the score falls when the word or the neighbour is deleted (occlusion,
colog/core/explain/occlusion.py). A part with nothing to show is left out; a verdict with no
part at all gets no explanation (the fields are null), never a made-up one.
"""

from __future__ import annotations

from dataclasses import dataclass

EXCERPT_CHARS = 160   # of the neighbour's message, in the document
LINE_EXCERPT_CHARS = 80  # of the neighbour's message, in the readable line
METHOD = "occlusion"


@dataclass(frozen=True)
class NeighbourRef:
    """The neighbour that drove a collective verdict: enough to find and link it."""

    id: str
    index: str
    timestamp: str | None
    offset: int        # events before (-) or after (+) the explained one, in its stream
    message: str
    template: str | None
    weight: float

    def as_fields(self) -> dict:
        return {"id": self.id, "index": self.index, "timestamp": self.timestamp,
                "offset": self.offset, "message": excerpt(self.message, EXCERPT_CHARS),
                "template": self.template, "weight": self.weight}


def excerpt(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def where(offset: int) -> str:
    if offset == -1:
        return "previous event"
    if offset == 1:
        return "next event"
    return f"{abs(offset)} events {'before' if offset < 0 else 'after'}"


def explanation_line(words: list[tuple[str, float]], neighbour: NeighbourRef | None
                     ) -> str | None:
    parts = []
    if words:
        parts.append("point: " + ", ".join(f'"{text}" ({weight:.2f})' for text, weight in words))
    if neighbour is not None:
        parts.append(f"context: {where(neighbour.offset)} "
                     f'"{excerpt(neighbour.message, LINE_EXCERPT_CHARS)}" '
                     f"({neighbour.weight:.2f})")
    return "; ".join(parts) if parts else None


def explanation_fields(words: list[tuple[str, float]], neighbour: NeighbourRef | None) -> dict:
    """The `colog.*` fields of one verdict's explanation (all null when there is none)."""
    line = explanation_line(words, neighbour)
    if line is None:
        return absent()
    return {"explanation": line,
            "attribution": ({"method": METHOD, "words": [t for t, _ in words],
                             "word_weights": [w for _, w in words]} if words else None),
            "neighbour": neighbour.as_fields() if neighbour is not None else None}


def absent() -> dict:
    """What a normal, bad or unexplainable document carries: nothing (clears an old one)."""
    return {"explanation": None, "attribution": None, "neighbour": None}
