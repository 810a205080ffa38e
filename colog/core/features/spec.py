"""The feature specification: how a model's inputs are built from a stream of events.

One object for everyone who builds or checks inputs: the trainer writes it into the model
directory (`feature_config.json`), the repository writes it into Triton's config parameters, the
worker reads it back from Triton (or from a model directory) to build the rows it sends, the
shadow scorer compares a candidate's with the live model's, and the bench builds its rows with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from colog.core.features.windows import BACKGROUND, CONTEXT, centre_column, window_length

EMBEDDER = "all-MiniLM-L6-v2"  # the sentence model of the sequence modality
EMBEDDING_DIM = 384  # its sentence-embedding width (and its word-piece width)
SEQUENCE_MODES = (CONTEXT, BACKGROUND)


class FeatureSpecError(ValueError):
    """A feature specification that inputs cannot be built from; the message names the key."""


@dataclass(frozen=True)
class FeatureSpec:
    window: int = 1                 # W: neighbours on each side (context) or before (background)
    sequence_mode: str = CONTEXT    # context: i-W..i+W; background: i-W..i
    max_tokens: int = 60            # word pieces of the semantic modality

    def __post_init__(self) -> None:
        for name in ("window", "max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FeatureSpecError(f"{name} must be an integer, got {value!r}")
        if self.window < 0:
            raise FeatureSpecError(f"window must be >= 0, got {self.window}")
        if self.max_tokens < 1:
            raise FeatureSpecError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.sequence_mode not in SEQUENCE_MODES:
            raise FeatureSpecError(f"sequence_mode must be one of {SEQUENCE_MODES}, "
                                   f"got {self.sequence_mode!r}")

    @property
    def context_length(self) -> int:
        """K: rows of the sequence modality."""
        return window_length(self.window, self.sequence_mode)

    @property
    def centre(self) -> int:
        """The column of the window that holds the event itself."""
        return centre_column(self.window, self.sequence_mode)

    def to_config(self) -> dict[str, Any]:
        """As stored in a model directory's feature_config.json."""
        return asdict(self)

    def to_parameters(self) -> dict[str, str]:
        """As Triton config parameters (string values)."""
        return {name: str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FeatureSpec:
        """From feature_config.json or Triton's config parameters (values may be strings)."""
        try:
            return cls(window=int(values["window"]), sequence_mode=str(values["sequence_mode"]),
                       max_tokens=int(values["max_tokens"]))
        except KeyError as exc:
            raise FeatureSpecError(f"the feature specification has no {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FeatureSpecError):
                raise
            raise FeatureSpecError(f"the feature specification is malformed: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Any) -> FeatureSpec:
        """The defaults for a model trained here (COLOG_WINDOW, COLOG_SEQUENCE_MODE,
        COLOG_MAX_TOKENS)."""
        return cls(settings.window, settings.sequence_mode, settings.max_tokens)
