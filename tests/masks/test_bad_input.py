"""Bad player layouts, coalition ids and baselines: a clear error at once (issue 7, item 1).

tests/masks/test_players.py covers the original cases (overlap, out of range, gaps, n > 30);
these are the ones that used to pass silently (float ids truncated) or fail with NumPy's own
words (unpacking, indexing, ufunc errors).
"""

import time
from contextlib import contextmanager

import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij

P = ij.Players


@contextmanager
def fast(limit: float = 5.0):
    """A coarse backstop against expensive work before the error (a compile takes seconds here),
    generous for a loaded runner; where the test can observe it, a fixture forbids the work."""
    t0 = time.perf_counter()
    yield
    assert time.perf_counter() - t0 < limit


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        # segments: ids and groups
        (lambda: P.segments(groups=[[0.5, 1]], shape=3), TypeError, "integer flat element"),
        (lambda: P.segments(groups=[["a"]], shape=3), TypeError, "integer flat element"),
        (lambda: P.segments(groups=[[[0, 1], [2]]], shape=3), TypeError, "flat list"),
        (lambda: P.segments(groups=[[0], [0, 2]], shape=3), ValueError, r"overlap.*\[0\]"),
        (lambda: P.segments(groups=[[0, 0]], shape=3), ValueError, "overlap"),
        (lambda: P.segments(groups=[[3]], shape=3), ValueError, r"out of range \[0, 3\)"),
        (lambda: P.segments(groups=[[-1]], shape=3), ValueError, "out of range"),
        (lambda: P.segments(groups=[], shape=3), ValueError, "groups is empty"),
        (lambda: P.segments(groups=[[0]], shape=0), ValueError, "shape must be >= 1"),
        (lambda: P.segments(groups=[[0]], shape=3.0), TypeError, "shape must be an int"),
        (lambda: P.segments(groups=[[0]]), ValueError, "needs the input shape"),
        (lambda: P.segments(np.array([0.0, 1.0])), TypeError, "integer player ids"),
        (lambda: P.segments(np.array(["a", "b"])), TypeError, "integer player ids"),
        (lambda: P.segments(np.array([-1, -1])), ValueError, "holds no player id >= 0"),
        (lambda: P.segments(np.array([], int)), ValueError, "holds no player id >= 0"),
        (lambda: P.segments(np.array([0, 2])), ValueError, r"players \[1\] own no input"),
        (lambda: P.segments(np.array([0, 1]), groups=[[0]]), ValueError, "exactly one"),
        # features
        (lambda: P.features(2, num_features=2.5), TypeError, "num_features must be an int"),
        (lambda: P.features(2, num_features=0), ValueError, "num_features must be >= 1"),
        (lambda: P.features(True), ValueError, "positive int or a non-empty list"),
        (lambda: P.features([1.0, 2.0]), ValueError, "positive int or a non-empty list"),
        (lambda: P.features(0), ValueError, "positive int or a non-empty list"),
        # patches
        (lambda: P.patches((4, 4), 1.5), TypeError, "patch_size must be an int"),
        (lambda: P.patches((4, 4), (2,)), ValueError, r"int or \(ph, pw\)"),
        (lambda: P.patches((4, 4, 3), 2), ValueError, r"image_shape must be \(H, W\)"),
        (lambda: P.patches((4, 4), 2, select=[0.5]), TypeError, "integer indices"),
        (lambda: P.patches((4, 4), 2, select=[[0, 1]]), ValueError, "flat list"),
        (lambda: P.patches((64, 64), 1), ValueError, r"n=4096 players.*fewer players"),
        # tokens
        (lambda: P.tokens(0), ValueError, "seq_len must be >= 1"),
        (lambda: P.tokens(2.5), TypeError, "seq_len must be an int"),
        (lambda: P.tokens(4, positions=[0.5]), TypeError, "integer indices"),
        # the raw constructor
        (lambda: P(np.array([0, 1]), 2.0, "features"), TypeError, "n .* must be an int"),
        (lambda: P(np.array([0, 1]), 2, "pixels"), ValueError, "kind must be one of"),
    ],
)
def test_bad_players(make, error, match):
    with fast(), pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ij.coalition_index([-1]), ValueError, "non-negative ints, got -1"),
        (lambda: ij.coalition_index([1.5]), TypeError, "non-negative ints, got float"),
        (lambda: ij.coalition_index([True]), TypeError, "bool"),
        (lambda: ij.coalition_index("01"), TypeError, "iterable of player ids"),
        (lambda: ij.coalition_index(3), TypeError, "iterable of player ids"),
        (lambda: ij.coalition_players(-1), ValueError, "non-negative ints, got -1"),
        (lambda: ij.coalition_players(2.5), TypeError, "got float"),
        (lambda: ij.coalition_players(3, n=-1), ValueError, r"in \[0, 30\]"),
        (lambda: ij.coalition_players(3, n=2.0), TypeError, "must be an int"),
        (lambda: ij.orders(-1), ValueError, r"in \[0, 30\]"),
        (lambda: ij.orders(40), ValueError, "beyond exact interactions"),
        (lambda: ij.graded_order(1.0), TypeError, "must be an int"),
        (lambda: ij.token_baseline(jnp.zeros((3, 2)), 1.0), TypeError, "token_id must be an int"),
        (lambda: ij.token_baseline(jnp.zeros((3, 2)), 3), ValueError, "out of range"),
        (lambda: ij.mean_baseline(jnp.zeros((3, 2)), axis=2), ValueError, "axis 2 is out of"),
        (lambda: ij.token_mask_value(jnp.zeros(3), 0), ValueError, "must be"),
        (lambda: ij.mean_mask_value(jnp.zeros((0, 2))), ValueError, "non-empty reference"),
    ],
)
def test_bad_coalitions_and_baselines(call, error, match):
    with fast(), pytest.raises(error, match=match):
        call()


def test_valid_edge_cases_still_work():
    assert ij.coalition_index([1, 1, np.int64(0)]) == 3  # a set: repeats are harmless
    assert ij.coalition_index([]) == 0
    assert ij.coalition_players(np.int64(5)) == (0, 2)
    assert ij.coalition_players(7, n=0) == ()
    assert ij.orders(0).tolist() == [0]
    assert P.segments(groups=[[0, 2], [1]], shape=(1, 3)).n == 2
    assert P.patches((4, 4), (np.int64(2), 2)).n == 4
