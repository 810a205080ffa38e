"""In-process scoring of records with a model directory (evaluation, baselines, the demo).

The enricher asks Triton instead; both build features with the same code and read the same
feature settings from the model directory, so a verdict does not depend on where it was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colog.core.features.embedding import SentenceEmbedder
from colog.core.features.modalities import Modalities, build_modalities
from colog.core.features.semantic import TOKENIZER_FILE, SemanticTokenizer
from colog.core.features.spec import FeatureSpec
from colog.core.model.bundle import LoadedModel, load_model_dir
from colog.core.parsing.masking import mask_message
from colog.core.records import LogRecord


def tokenizer_for(model_dir: Path, max_tokens: int) -> SemanticTokenizer:
    path = Path(model_dir) / TOKENIZER_FILE
    return SemanticTokenizer(path if path.is_file() else None, max_tokens=max_tokens)


@dataclass
class Scored:
    outputs: dict[str, np.ndarray]
    modalities: Modalities
    classes: list[str]
    tokenizer: SemanticTokenizer


def featurise(records: Sequence[LogRecord], tokenizer: SemanticTokenizer,
              embedder: SentenceEmbedder, features: FeatureSpec) -> Modalities:
    masked = [mask_message(r.message) for r in records]
    return build_modalities(masked, [r.stream for r in records], tokenizer, embedder,
                            features.window, features.sequence_mode)


def score_records(model_dir: Path, records: Sequence[LogRecord],
                  embedder: SentenceEmbedder | None = None,
                  loaded: LoadedModel | None = None) -> Scored:
    loaded = loaded or load_model_dir(model_dir)
    features = loaded.features
    tokenizer = tokenizer_for(model_dir, features.max_tokens)
    modalities = featurise(records, tokenizer, embedder or SentenceEmbedder(), features)
    outputs = loaded.predict(modalities.tokens, modalities.sequence, modalities.sequence_mask)
    return Scored(outputs, modalities, loaded.classes, tokenizer)
