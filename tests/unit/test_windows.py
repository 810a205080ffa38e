import numpy as np
import pytest

from colog.core.features.modalities import gather_sequence
from colog.core.features.windows import centre_column, window_indices, window_length


def test_context_window_stays_inside_each_stream_with_interleaving():
    streams = ["a", "b", "a", "b", "a", "c"]
    idx = window_indices(streams, window=1, mode="context")
    assert idx.shape == (6, 3)
    # a's events are rows 0, 2, 4: neighbours only among themselves, padded at the edges.
    assert idx[0].tolist() == [-1, 0, 2]
    assert idx[2].tolist() == [0, 2, 4]
    assert idx[4].tolist() == [2, 4, -1]
    assert idx[1].tolist() == [-1, 1, 3]
    assert idx[3].tolist() == [1, 3, -1]
    # A stream of one event has no neighbours at all.
    assert idx[5].tolist() == [-1, 5, -1]
    for row, key in zip(idx, streams):
        assert all(streams[j] == key for j in row if j >= 0)


def test_background_window_looks_only_backwards():
    idx = window_indices(["s"] * 4, window=2, mode="background")
    assert idx.tolist() == [[-1, -1, 0], [-1, 0, 1], [0, 1, 2], [1, 2, 3]]
    assert centre_column(2, "background") == 2


def test_wider_context_window_and_centre():
    idx = window_indices(["s"] * 5, window=2, mode="context")
    assert idx[2].tolist() == [0, 1, 2, 3, 4]
    assert idx[0].tolist() == [-1, -1, 0, 1, 2]
    assert idx[4].tolist() == [2, 3, 4, -1, -1]
    assert all(idx[i, centre_column(2, "context")] == i for i in range(5))


def test_window_length_rejects_bad_values():
    assert window_length(3, "context") == 7
    assert window_length(3, "background") == 4
    with pytest.raises(ValueError, match="sequence mode"):
        window_length(1, "sideways")
    with pytest.raises(ValueError, match="window"):
        window_length(-1, "context")


def test_gather_sequence_zero_rows_for_missing_events():
    embeddings = np.arange(3 * 384, dtype=np.float32).reshape(3, 384)
    idx = np.array([[-1, 0, 1], [0, 1, 2], [1, 2, -1]])
    seq, mask = gather_sequence(embeddings, idx)
    assert seq.shape == (3, 3, 384)
    assert not seq[0, 0].any() and not seq[2, 2].any()
    np.testing.assert_array_equal(seq[1, 2], embeddings[2])
    assert mask.tolist() == [[0, 1, 1], [1, 1, 1], [1, 1, 0]]
