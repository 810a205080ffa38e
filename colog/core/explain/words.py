"""Whole words of the original message, aligned with the model's word pieces.

The model reads word pieces of the masked, lower-cased message ("u ##bu ##nt ##u", "ip"); an
analyst reads the message as it was logged ("ubuntu", "10.0.0.1"). Each piece is traced back
through the tokenizer's offsets, the placeholder words of the semantic text and the masking to
a span of the original message, and each span to the words it overlaps. A word is a parameter
value that masking replaced (one word, whatever its punctuation: an address, a path) or a run
of word characters outside those values. Pieces that overlap no word (punctuation) belong to
none. Every word is a slice of the original message, so it can never be a piece nor absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from colog.core.features.semantic import PAD_ID, SemanticTokenizer
from colog.core.parsing.masking import mask_with_origins

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int
    parameter: bool  # a value masking replaced (number, address, path, id)


@dataclass
class MessageWords:
    message: str
    masked: str
    words: list[Word]
    piece_ids: list[int]              # every piece of the masked message, not cut at max_tokens
    piece_words: list[tuple[int, ...]]  # per piece: the words it overlaps (none: punctuation)

    def pieces_of(self, word: int, max_tokens: int) -> list[int]:
        """Positions (< max_tokens) of the word's pieces in the model's token row."""
        return [p for p, owners in enumerate(self.piece_words[:max_tokens]) if word in owners]

    def units(self, max_tokens: int) -> list[int]:
        """Words the model sees at least one piece of: the words that can be attributed."""
        return [w for w in range(len(self.words)) if self.pieces_of(w, max_tokens)]

    def row_without(self, words: set[int], max_tokens: int) -> np.ndarray:
        """The model's token row of the message with these words deleted (later pieces move
        up, as they would had the words never been logged)."""
        kept = [piece for piece, owners in zip(self.piece_ids, self.piece_words)
                if not (set(owners) & words)][:max_tokens]
        row = np.full(max_tokens, PAD_ID, dtype=np.int64)
        row[:len(kept)] = kept
        return row

    def without(self, word: int) -> str:
        """The original message as if the word had not been logged (white space collapsed)."""
        w = self.words[word]
        return " ".join((self.message[:w.start] + " " + self.message[w.end:]).split())

    def word_weights(self, piece_weights: np.ndarray, max_tokens: int) -> np.ndarray:
        """Per-piece weights (attention) summed per word; a piece on several words splits."""
        out = np.zeros(len(self.words), dtype=np.float64)
        for position, owners in enumerate(self.piece_words[:max_tokens]):
            if owners and position < len(piece_weights):
                for word in owners:
                    out[word] += float(piece_weights[position]) / len(owners)
        return out


def split_words(message: str, parameters: list[tuple[int, int]]) -> list[Word]:
    """Parameter values, then the word-character runs outside them, in message order."""
    words = [Word(message[a:b], a, b, True) for a, b in parameters]
    taken = np.zeros(len(message) + 1, dtype=bool)
    for a, b in parameters:
        taken[a:b] = True
    for match in _WORD.finditer(message):
        start = None
        for i in range(match.start(), match.end() + 1):
            free = i < match.end() and not taken[i]
            if free and start is None:
                start = i
            elif not free and start is not None:
                words.append(Word(message[start:i], start, i, False))
                start = None
    return sorted(words, key=lambda w: w.start)


def message_words(message: str, tokenizer: SemanticTokenizer) -> MessageWords | None:
    """The message's words and pieces, aligned; None when the message is not text, has no
    word the model reads, or its pieces cannot be traced (the explanation is then absent)."""
    if not isinstance(message, str) or not message.strip():
        return None
    traced = mask_with_origins(message)
    pieces = tokenizer.pieces(traced.text)
    if pieces is None or not pieces[0]:
        return None
    ids, masked_spans = pieces
    words = split_words(message, traced.parameters)
    if not words:
        return None
    piece_words = []
    for a, b in masked_spans:
        covered = traced.origins[a:b]
        start, end = min(s for s, _ in covered), max(e for _, e in covered)
        piece_words.append(tuple(w for w, word in enumerate(words)
                                 if word.start < end and start < word.end))
    return MessageWords(message, traced.text, words, ids, piece_words)
