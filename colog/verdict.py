"""From model outputs to the verdict written on a document (DESIGN section 5).

Pure functions shared by `colog evaluate`, the enricher and the demo, so a verdict means the same
thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colog.labels import ANOMALY, NORMAL

THRESHOLD = 0.5


def event_and_context_scores(probs: np.ndarray, classes: list[str]
                             ) -> tuple[np.ndarray, np.ndarray | None]:
    """P(event anomalous) and, for the 4-class head, P(context anomalous)."""
    if len(classes) == 2:
        return probs[:, 1], None
    event = probs[:, classes.index("event")] + probs[:, classes.index("both")]
    context = probs[:, classes.index("context")] + probs[:, classes.index("both")]
    return event, context


def anomaly_type(event_anomalous: bool, context_anomalous: bool) -> str:
    if event_anomalous and context_anomalous:
        return "both"
    if event_anomalous:
        return "point"
    if context_anomalous:
        return "collective"
    return "none"


@dataclass
class Verdict:
    label: str
    polarity: str
    score: float
    context_label: str
    context_score: float
    anomaly_type: str
    attention_semantic: float
    attention_sequence: float
    attention_context: list[float]
    attention_tokens: list[str]
    attention_token_weights: list[float]

    def as_fields(self) -> dict:
        """The `colog.*` sub-document (without status, template, stream, model, time)."""
        return {
            "label": self.label,
            "polarity": self.polarity,
            "score": self.score,
            "context": {"label": self.context_label, "score": self.context_score},
            "anomaly_type": self.anomaly_type,
            "attention": {
                "semantic": self.attention_semantic,
                "sequence": self.attention_sequence,
                "context": self.attention_context,
                "tokens": self.attention_tokens,
                "token_weights": self.attention_token_weights,
            },
        }


def top_tokens(tokens: list[str], weights: np.ndarray, k: int = 5) -> tuple[list[str], list[float]]:
    """The k real tokens with the highest attention, strongest first."""
    n = min(len(tokens), len(weights))
    order = np.argsort(-weights[:n], kind="stable")[:k]
    return [tokens[i] for i in order], [round(float(weights[i]), 6) for i in order]


def neighbour_max(event: np.ndarray, window_index: np.ndarray, centre: int) -> np.ndarray:
    """Highest event score among the other events of each window (0 where there are none)."""
    padded = np.append(event, 0.0)
    neighbours = padded[window_index].copy()
    neighbours[:, centre] = 0.0
    return neighbours.max(axis=1)


def verdicts(outputs: dict[str, np.ndarray], classes: list[str], token_strings: list[list[str]],
             threshold: float = THRESHOLD, top_k: int = 5,
             window_index: np.ndarray | None = None, centre: int = 0) -> list[Verdict]:
    """One verdict per row. A 2-class model has no context head: its context score is then the
    highest point score of the window's other events (needs `window_index`), else 0."""
    event, context = event_and_context_scores(outputs["probs"], classes)
    if context is None:
        context = (neighbour_max(event, window_index, centre) if window_index is not None
                   else np.zeros_like(event))
    result = []
    for i in range(len(event)):
        score = float(event[i])
        ctx_score = float(context[i])
        is_event = score >= threshold
        is_context = ctx_score >= threshold
        tokens, weights = top_tokens(token_strings[i], outputs["token_attention"][i], top_k)
        result.append(Verdict(
            label=ANOMALY if is_event else NORMAL,
            polarity="negative" if is_event else "positive",
            score=round(score, 6),
            context_label=ANOMALY if is_context else NORMAL,
            context_score=round(ctx_score, 6),
            anomaly_type=anomaly_type(is_event, is_context),
            attention_semantic=round(float(outputs["modality_weights"][i, 0]), 6),
            attention_sequence=round(float(outputs["modality_weights"][i, 1]), 6),
            attention_context=[round(float(x), 6) for x in outputs["context_attention"][i]],
            attention_tokens=tokens,
            attention_token_weights=weights,
        ))
    return result
