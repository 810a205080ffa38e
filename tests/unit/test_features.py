import numpy as np

from colog.core.features.embedding import EMBEDDING_DIM, MemoryCache, SentenceEmbedder
from colog.core.features.semantic import SemanticTokenizer, semantic_text


def test_semantic_text_turns_placeholders_into_words():
    assert semantic_text("Connect to <IP> failed after <NUM> tries <*>") == \
        "connect to ip failed after num tries var"


def test_tokenizer_pads_truncates_and_round_trips_tokens():
    tok = SemanticTokenizer(max_tokens=8)
    ids = tok.encode(["Connection refused", "", "a b c d e f g h i j k l"])
    assert ids.shape == (3, 8) and ids.dtype == np.int64
    assert tok.tokens_of(ids[0]) == ["connection", "refused"]
    assert (ids[1] == 0).all()
    assert (ids[2] != 0).all()  # truncated to exactly L real tokens
    assert tok.vocab_size > 30000


class CountingEncoder:
    def __init__(self):
        self.calls = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return np.stack([np.full(EMBEDDING_DIM, len(t), np.float32) for t in texts])


def test_identical_messages_are_embedded_once_and_cached_across_calls():
    encoder = CountingEncoder()
    embedder = SentenceEmbedder(encode=encoder, cache=MemoryCache())
    out = embedder.embed(["a", "bb", "a", "a"])
    assert out.shape == (4, EMBEDDING_DIM)
    assert encoder.calls == [["a", "bb"]]
    np.testing.assert_array_equal(out[0], out[2])
    embedder.embed(["bb", "ccc"])
    assert encoder.calls[-1] == ["ccc"]
    assert embedder.hits == 1 and embedder.misses == 3


def test_real_minilm_embeddings_are_384_d_and_deterministic():
    embedder = SentenceEmbedder()
    out = embedder.embed(["disk failure on node <NUM>", "user logged in"])
    assert out.shape == (2, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    again = SentenceEmbedder().embed(["user logged in"])
    np.testing.assert_allclose(again[0], out[1], atol=1e-5)


def test_modalities_of_windows_embed_each_distinct_message_once_and_match_the_record_builder():
    """The enricher's rows (windows of masked messages) and the trainer's records (one list
    with stream windows) give the same sequence modality through the same gather."""
    from colog.core.features.modalities import gather_sequence, modalities_of_windows
    from colog.core.features.windows import window_indices

    calls = []

    def embed(messages):
        calls.append(list(messages))
        return np.stack([np.full(EMBEDDING_DIM, len(m), np.float32) for m in messages])

    messages = ["a", "bb", "a", "ccc"]
    index = window_indices(["s"] * 4, 1, "context")
    windows = [tuple(messages[j] if j >= 0 else None for j in row) for row in index]
    tokens = np.arange(8, dtype=np.int64).reshape(4, 2)
    built = modalities_of_windows(tokens, windows, embed)
    assert calls == [["a", "bb", "ccc"]]  # distinct, in first-seen order, one call
    expected, mask = gather_sequence(embed(messages), index)
    np.testing.assert_array_equal(built.sequence, expected)
    np.testing.assert_array_equal(built.sequence_mask, mask)
    assert built.tokens is tokens and built.sequence_mask[0, 0] == 0.0
    empty = modalities_of_windows(tokens[:0], [], embed)
    assert empty.sequence.shape == (0, 0, EMBEDDING_DIM) and len(calls) == 2
