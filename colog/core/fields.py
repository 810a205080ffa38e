"""The document contract (docs/design.md §5): every `colog.*` field, its type, and its mapping.

Other people's alert rules and dashboards depend on these names and types; change them only
with a migration note. The enricher writes `colog.*` except `colog.feedback.*`, which belongs to
analysts.
"""

from __future__ import annotations

STATUS_PENDING = "pending"
STATUS_ENRICHED = "enriched"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"
STATUSES = (STATUS_PENDING, STATUS_ENRICHED, STATUS_FAILED, STATUS_SKIPPED)
FINAL_STATUSES = (STATUS_ENRICHED, STATUS_FAILED, STATUS_SKIPPED)
ANOMALY_TYPES = ("none", "point", "collective", "both")
LABELS = ("anomaly", "normal")
POLARITIES = ("negative", "positive")

# Dotted field name -> OpenSearch mapping of the leaf.
COLOG_FIELDS: dict[str, dict] = {
    "colog.status": {"type": "keyword"},
    "colog.label": {"type": "keyword"},
    "colog.polarity": {"type": "keyword"},
    "colog.score": {"type": "float"},
    "colog.context.label": {"type": "keyword"},
    "colog.context.score": {"type": "float"},
    "colog.anomaly_type": {"type": "keyword"},
    "colog.attention.semantic": {"type": "float"},
    "colog.attention.sequence": {"type": "float"},
    "colog.attention.context": {"type": "float"},
    "colog.attention.tokens": {"type": "keyword"},
    "colog.attention.token_weights": {"type": "float"},
    "colog.template.id": {"type": "keyword"},
    "colog.template.text": {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                                   "ignore_above": 1024}}},
    "colog.stream": {"type": "keyword"},
    "colog.model.version": {"type": "keyword"},
    "colog.enriched_at": {"type": "date"},
    "colog.error": {"type": "keyword", "ignore_above": 2048,
                    "fields": {"text": {"type": "text"}}},
    # A candidate's verdict while it runs in shadow (colog/services/shadow/); never read by alert rules.
    "colog.shadow.label": {"type": "keyword"},
    "colog.shadow.score": {"type": "float"},
    "colog.shadow.context.label": {"type": "keyword"},
    "colog.shadow.context.score": {"type": "float"},
    "colog.shadow.anomaly_type": {"type": "keyword"},
    "colog.shadow.model.version": {"type": "keyword"},
    "colog.feedback.label": {"type": "keyword"},
    "colog.feedback.context_label": {"type": "keyword"},
    "colog.feedback.by": {"type": "keyword"},
    "colog.feedback.at": {"type": "date"},
}

# Fields of the input documents the project reads; mapped so a fresh index sorts and filters
# them correctly even before the first document arrives.
INPUT_FIELDS: dict[str, dict] = {
    "@timestamp": {"type": "date"},
    "message": {"type": "text"},
    "host.name": {"type": "keyword"},
    "log.file.path": {"type": "keyword"},
    "log.level": {"type": "keyword"},
    "event.dataset": {"type": "keyword"},
    "event.sequence": {"type": "long"},
}

FEEDBACK_PREFIX = "colog.feedback."


def nest(flat: dict[str, dict]) -> dict:
    """Dotted names to the nested `properties` tree that a mapping wants."""
    root: dict = {}
    for dotted, leaf in flat.items():
        node = root
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = dict(leaf)
    return root


def mapping_properties() -> dict:
    """The `properties` of the index template: input fields plus the whole colog contract."""
    return nest({**INPUT_FIELDS, **COLOG_FIELDS})


def get_path(doc: dict, dotted: str):
    """The value at a dotted path of a `_source`, accepting both nested and flat-dotted keys."""
    if dotted in doc:
        return doc[dotted]
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
