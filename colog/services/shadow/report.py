"""`colog shadow report`: what the candidate would have changed, and both models on the
documents analysts labelled.

Counted by the engine with composite aggregations over every document the candidate scored
(paged, so exact at any volume): agreement of the event labels, the verdicts that would flip
grouped by stream and template, and for analyst-labelled documents precision, recall and F1 of
the anomaly class for the live verdict and the candidate's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from colog.core.fields import STATUS_ENRICHED

LIVE, SHADOW, FEEDBACK = "colog.label", "colog.shadow.label", "colog.feedback.label"


@dataclass
class ModelOnLabels:
    documents: int = 0
    correct: int = 0
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def add(self, predicted: str, truth: str, count: int) -> None:
        self.documents += count
        self.correct += count if predicted == truth else 0
        if predicted == "anomaly" and truth == "anomaly":
            self.true_positive += count
        elif predicted == "anomaly":
            self.false_positive += count
        elif truth == "anomaly":
            self.false_negative += count

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        actual = self.true_positive + self.false_negative
        return self.true_positive / actual if actual else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None
                                                    else None)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.documents if self.documents else None


@dataclass
class ShadowReport:
    version: str
    scored: int = 0
    agreeing: int = 0
    # (live label, shadow label, stream, template id) -> documents, for the disagreements
    flips: Counter = field(default_factory=Counter)
    template_text: dict[str, str] = field(default_factory=dict)
    live_on_labels: ModelOnLabels = field(default_factory=ModelOnLabels)
    shadow_on_labels: ModelOnLabels = field(default_factory=ModelOnLabels)

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.scored if self.scored else None

    def flips_by(self, position: int) -> Counter:
        """Disagreements summed by stream (2) or template (3), per direction."""
        grouped: Counter = Counter()
        for key, count in self.flips.items():
            grouped[(key[0], key[1], key[position])] += count
        return grouped


def _composite(client, index: str, query: dict, sources: list[tuple[str, str]],
               sub_aggs: dict | None = None, page: int = 1000):
    """Every bucket of a composite aggregation, page by page."""
    after = None
    while True:
        composite = {"size": page, "sources": [{name: {"terms": {"field": f, "missing_bucket": True}}}
                                               for name, f in sources]}
        if after is not None:
            composite["after"] = after
        body = {"size": 0, "query": query, "aggs": {"rows": {"composite": composite,
                                                             **({"aggs": sub_aggs} if sub_aggs else {})}}}
        result = client.search(body, index, lenient=True)
        rows = result.get("aggregations", {}).get("rows", {})
        yield from rows.get("buckets", [])
        after = rows.get("after_key")
        if not after or not rows.get("buckets"):
            return


def shadow_report(client, settings, version: str) -> ShadowReport:
    report = ShadowReport(str(version))
    scored = {"bool": {"filter": [{"term": {"colog.status": STATUS_ENRICHED}},
                                  {"term": {"colog.shadow.model.version": str(version)}}]}}
    for bucket in _composite(client, settings.index_pattern, scored,
                             [("live", LIVE), ("shadow", SHADOW), ("stream", "colog.stream"),
                              ("template", "colog.template.id")],
                             {"text": {"terms": {"field": "colog.template.text.keyword",
                                                 "size": 1}}}):
        key, count = bucket["key"], bucket["doc_count"]
        report.scored += count
        if key["live"] == key["shadow"]:
            report.agreeing += count
            continue
        report.flips[(key["live"], key["shadow"], key["stream"], key["template"])] += count
        texts = bucket.get("text", {}).get("buckets", [])
        if texts and key["template"] is not None:
            report.template_text[str(key["template"])] = texts[0]["key"]
    labelled = {"bool": {"filter": [*scored["bool"]["filter"], {"exists": {"field": FEEDBACK}}]}}
    for bucket in _composite(client, settings.index_pattern, labelled,
                             [("truth", FEEDBACK), ("live", LIVE), ("shadow", SHADOW)]):
        key, count = bucket["key"], bucket["doc_count"]
        report.live_on_labels.add(key["live"], key["truth"], count)
        report.shadow_on_labels.add(key["shadow"], key["truth"], count)
    return report
