"""From model outputs to the verdict written on a document (docs/design.md §5).

Pure functions shared by `colog evaluate`, the enricher and the demo, so a verdict means the same
thing everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from colog.core.labels import ANOMALY, NORMAL

THRESHOLD = 0.5
DECISION_FILE = "decision.json"  # in a model directory: the Thresholds below, as JSON


@dataclass(frozen=True)
class Thresholds:
    """Cuts on the event and the context score, chosen on validation data by the trainer and
    stored with the model (`decision.json`); 0.5 for models written before that existed."""

    event: float = THRESHOLD
    context: float = THRESHOLD

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "Thresholds":
        if not isinstance(data, dict):
            raise ValueError(f"thresholds must be an object, got {type(data).__name__}")
        values = {}
        for name in ("event", "context"):
            value = data.get(name, THRESHOLD)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0.0 < value < 1.0:
                raise ValueError(f"threshold {name!r} must be a number in (0, 1), got {value!r}")
            values[name] = float(value)
        return cls(**values)


def event_and_context_scores(probs: np.ndarray, classes: list[str]
                             ) -> tuple[np.ndarray, np.ndarray | None]:
    """P(event anomalous) and, for the 4-class head, P(context anomalous)."""
    if len(classes) == 2:
        return probs[:, 1], None
    event = probs[:, classes.index("event")] + probs[:, classes.index("both")]
    context = probs[:, classes.index("context")] + probs[:, classes.index("both")]
    return event, context


def predicted_classes(probs: np.ndarray, classes: list[str], thresholds: Thresholds) -> np.ndarray:
    """Head class indices as the verdicts decide them: event (+ 2 x context for 4 classes)."""
    event, context = event_and_context_scores(probs, classes)
    predicted = (event >= thresholds.event).astype(np.int64)
    if context is not None:
        predicted += 2 * (context >= thresholds.context).astype(np.int64)
    return predicted


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


def neighbour_max(point_scores: np.ndarray, window_index: np.ndarray, centre: int) -> np.ndarray:
    """Highest point score among the other events of each window (0 where there are none).

    `window_index` [N, K] holds positions into `point_scores` (-1 = no event); every position
    it names must have a score: a NaN there is a caller's bug, reported rather than written.
    """
    padded = np.append(np.asarray(point_scores, dtype=np.float64), 0.0)
    neighbours = padded[window_index].copy()
    neighbours[:, centre] = 0.0
    if np.isnan(neighbours).any():
        raise ValueError("a neighbour in the window has no point score")
    return neighbours.max(axis=1)


def label_fields(probs: np.ndarray, classes: list[str], thresholds: Thresholds,
                 context_scores: np.ndarray | None = None) -> list[dict]:
    """Labels, scores and anomaly type only (no attention): what a shadow verdict records.
    The same cuts as `verdicts`, so a shadow's copy of the live model writes the same labels."""
    event, context = event_and_context_scores(probs, classes)
    if context is None:
        context = np.zeros_like(event) if context_scores is None else context_scores
    rows = []
    for score, ctx_score in zip(event.tolist(), np.asarray(context).tolist()):
        is_event, is_context = score >= thresholds.event, ctx_score >= thresholds.context
        rows.append({"label": ANOMALY if is_event else NORMAL, "score": round(score, 6),
                     "context": {"label": ANOMALY if is_context else NORMAL,
                                 "score": round(ctx_score, 6)},
                     "anomaly_type": anomaly_type(is_event, is_context)})
    return rows


def verdicts(outputs: dict[str, np.ndarray], classes: list[str], token_strings: list[list[str]],
             thresholds: Thresholds = Thresholds(), top_k: int = 5,
             context_scores: np.ndarray | None = None) -> list[Verdict]:
    """One verdict per row. A 2-class model has no context head: its context score is then
    `context_scores` (the highest point score of the window's other events, see
    `neighbour_max`), else 0."""
    event, context = event_and_context_scores(outputs["probs"], classes)
    if context is None:
        context = np.zeros_like(event) if context_scores is None else context_scores
    result = []
    for i in range(len(event)):
        score = float(event[i])
        ctx_score = float(context[i])
        is_event = score >= thresholds.event
        is_context = ctx_score >= thresholds.context
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
