"""The CoLog network's hyper-parameters and ablation switches, serialised as config.json.

CPU defaults, not the paper's sizes (hidden 256, MAL projection 2048): the model is served per
document on CPU, and on the 2k-line Loghub samples hidden 128 / projection 512 train in seconds
per epoch while the paper's sizes cost several times more per sample (benchmarks/RESULTS.md,
"Model cost"). The paper's sizes remain one config away (`ModelConfig.paper_sizes`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from colog.core.features.spec import EMBEDDING_DIM, SEQUENCE_MODES, FeatureSpec
from colog.core.features.windows import window_length

ATTENTIONS = ("mhia", "mha")
MODALITIES = ("both", "semantic", "sequence")
TOKEN_INITS = ("minilm", "random")
MAL_KINDS = ("attention", "gate")
EVENT_EMBEDDINGS = ("semantic", "sequence")
# Keys added after the first model directories were written, with the values those directories
# were trained with: an old config.json without them still builds the network it was saved from.
LEGACY_DEFAULTS = {"mal": "gate", "event_embedding": "sequence",
                   "standardise_embeddings": False}


class ConfigError(ValueError):
    """A config value (or key) that the network cannot be built from; names the key."""


@dataclass
class ModelConfig:
    vocab_size: int
    max_tokens: int = 60
    window: int = 1
    sequence_mode: str = "context"
    num_classes: int = 2
    hidden: int = 64
    heads: int = 4
    blocks: int = 2
    projection: int = 256          # modality adaptation layer's higher space
    dropout: float = 0.1
    embedding_dim: int = EMBEDDING_DIM  # sentence-embedding width of the sequence input
    token_dim: int = EMBEDDING_DIM      # word-piece embedding width (MiniLM's own)
    token_init: str = "minilm"     # start from all-MiniLM-L6-v2's input embeddings
    freeze_tokens: bool = True     # keep those embeddings fixed: unseen words stay meaningful
    attention: str = "mhia"        # "mha" = ablation: self-attention within each modality
    use_mal: bool = True
    # "attention": the paper's MAL (eq. 11-16), every node attends over all nodes of its own
    # modality in the projected space; "gate": one pooled summary gates every node (ablation).
    mal: str = "attention"
    # Where the event's own sentence embedding goes: "semantic" = a first node beside its
    # tokens, the sequence modality then holds only the neighbours (paper eq. 4 and 6);
    # "sequence" = the centre row of the window (ablation).
    event_embedding: str = "semantic"
    # Centre and scale sentence embeddings per dimension with statistics of the training rows
    # (stored with the weights). Messages of one system share a large common component, which
    # the layer norm after the projection would otherwise leave to dominate what differs.
    standardise_embeddings: bool = True
    use_balancing: bool = True
    modalities: str = "both"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def features(self) -> FeatureSpec:
        return FeatureSpec(self.window, self.sequence_mode, self.max_tokens)

    @property
    def context_length(self) -> int:
        """K: rows of the sequence modality."""
        return window_length(self.window, self.sequence_mode)

    @classmethod
    def for_features(cls, features: FeatureSpec, **values) -> ModelConfig:
        """A network whose input shapes follow `features`."""
        return cls(max_tokens=features.max_tokens, window=features.window,
                   sequence_mode=features.sequence_mode, **values)

    def validate(self) -> None:
        def positive(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

        for name in ("vocab_size", "max_tokens", "hidden", "heads", "blocks", "projection",
                     "embedding_dim", "token_dim"):
            positive(name)
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ConfigError(f"window must be an integer >= 0, got {self.window!r}")
        if self.num_classes not in (2, 4) or isinstance(self.num_classes, bool):
            raise ConfigError(f"num_classes must be 2 or 4, got {self.num_classes!r}")
        if self.hidden % self.heads:
            raise ConfigError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name, allowed in (("sequence_mode", SEQUENCE_MODES), ("attention", ATTENTIONS),
                              ("modalities", MODALITIES), ("token_init", TOKEN_INITS),
                              ("mal", MAL_KINDS), ("event_embedding", EVENT_EMBEDDINGS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {list(allowed)}, "
                                  f"got {getattr(self, name)!r}")
        for name in ("use_mal", "use_balancing", "freeze_tokens", "standardise_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "ModelConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config key(s): {unknown}")
        if "vocab_size" not in data:
            raise ConfigError("model config lacks the required key 'vocab_size'")
        return cls(**(LEGACY_DEFAULTS | data))

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def paper_sizes(self) -> "ModelConfig":
        """The paper's sizes (hidden 256, 4 heads, T = 2, MAL projection 2048, 60 tokens)."""
        return self.replace(hidden=256, heads=4, blocks=2, projection=2048, max_tokens=60)


# The ablations of the paper's Table 17, as config changes on top of the full model.
ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {},
    "mha": {"attention": "mha"},
    "no_mal": {"use_mal": False},
    "mal_gate": {"mal": "gate"},
    "event_in_sequence": {"event_embedding": "sequence"},
    "no_bl": {"use_balancing": False},
    "semantic_only": {"modalities": "semantic"},
    "sequence_only": {"modalities": "sequence"},
}
