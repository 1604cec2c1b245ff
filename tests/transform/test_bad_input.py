"""Bad input to the transforms: a clear error before any work (issue 7, item 1).

Static checks (type, dtype, shape) and the value check of host arrays come before anything is
compiled, so they are timed (< 5 s, a backstop generous for a loaded runner). A device array's
NaN is caught by a flag computed in the transform's own program (one sync, as ij.evaluate
does), so that check is not timed.
"""

import time
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij

PER_VECTOR = [
    ij.and_interactions,
    ij.or_interactions,
    ij.and_inverse,
    ij.or_inverse,
    ij.shapley_values,
    ij.banzhaf_values,
    ij.pairwise_shapley_interactions,
    ij.noise_floor,
]
IDS = [f.__name__ for f in PER_VECTOR]


@contextmanager
def fast(limit: float = 5.0):
    """A coarse backstop against expensive work before the error (a compile takes seconds here),
    generous for a loaded runner; where the test can observe it, a fixture forbids the work."""
    t0 = time.perf_counter()
    yield
    assert time.perf_counter() - t0 < limit, "the error came after expensive work"


@pytest.mark.parametrize("fn", PER_VECTOR, ids=IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_host_values_name_the_coalitions(fn, bad):
    v = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, bad, 3.0]])
    with fast(), pytest.raises(ValueError, match=r"1 NaN or infinite entries of 8 \(first at T=2"):
        fn(v)


@pytest.mark.parametrize("fn", PER_VECTOR, ids=IDS)
def test_nonfinite_device_values_are_refused(fn):
    v = jnp.array([0.0, jnp.nan, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"first at T=1\).*ij\.evaluate raises on them"):
        fn(v)


def test_nonfinite_values_inside_jit_pass_unchecked():
    """Under jit there is no concrete value to check (and no sync is added)."""
    out = jax.jit(ij.and_interactions)(jnp.array([0.0, jnp.nan, 2.0, 3.0]))
    assert np.isnan(np.asarray(out)).any()
    # the static checks still run while tracing
    with pytest.raises(TypeError, match="complex"):
        jax.jit(ij.shapley_values)(jnp.ones(4, jnp.complex64))


@pytest.mark.parametrize("fn", PER_VECTOR, ids=IDS)
@pytest.mark.parametrize(
    ("v", "error", "match"),
    [
        (np.array([1.0, 2.0, 3.0, 4.0]) + 1j, TypeError, r"complex \(complex128\).*\.real"),
        (np.array(["a", "b", "c", "d"]), TypeError, "must hold real numbers"),
        (None, TypeError, "must hold real numbers"),
        (np.zeros(6), ValueError, r"length 2\*\*n.*got length 6"),
        (np.zeros((2, 0)), ValueError, "got length 0"),
        (3.0, ValueError, "got a scalar"),
    ],
    ids=["complex", "strings", "none", "length6", "empty", "scalar"],
)
def test_bad_types_and_shapes(fn, v, error, match):
    with fast(), pytest.raises(error, match=match):
        fn(v)


@pytest.mark.parametrize("fn", PER_VECTOR, ids=IDS)
def test_integer_and_bool_values_are_exact(fn):
    """Integers and booleans are real values: computed in the float work dtype, not refused."""
    ints = np.array([0, 1, 2, 5, 1, 0, 3, 7])
    np.testing.assert_allclose(fn(ints), fn(ints.astype(np.float64)))
    bools = ints > 1
    np.testing.assert_allclose(fn(bools), fn(bools.astype(np.float64)))


def test_ragged_lists_are_refused():
    with fast(), pytest.raises(TypeError, match="must be an array of real numbers"):
        ij.and_interactions([[0.0, 1.0], [0.0, 1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros(4), np.zeros(8)), r"share one length 2\*\*n.*and_ \(4,\), or_ \(8,\)"),
        ((np.zeros((3, 4)), np.zeros((2, 4))), "do not broadcast together"),
        ((np.zeros(4), np.array([0.0, np.nan, 0.0, 0.0])), "or_ has 1 NaN"),
        ((np.zeros(4), np.ones(4) * 1j), "or_ is complex"),
    ],
)
def test_reconstruct_pairs(args, match):
    with fast(), pytest.raises((ValueError, TypeError), match=match):
        ij.reconstruct(*args)


def test_matching_error_shapes_and_q():
    v = np.zeros(8)
    with fast(), pytest.raises(ValueError, match=r"v \(8,\), and_ \(4,\), or_ \(4,\)"):
        ij.matching_error(v, np.zeros(4), np.zeros(4))
    with fast(), pytest.raises(ValueError, match=r"q \(4,\)"):
        ij.matching_error(v, v, v, q=np.zeros(4))
    with fast(), pytest.raises(ValueError, match="q has 1 NaN"):
        ij.matching_error(v, v, v, q=np.r_[np.nan, np.zeros(7)])
    # broadcasting one interaction vector over a batch of values stays allowed
    assert ij.matching_error(np.zeros((3, 8)), v, v).shape == (3,)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": -1e-7}, ValueError, r"eps must be a finite number >= 0.*got -1e-07"),
        ({"eps": float("nan")}, ValueError, "eps must be a finite number"),
        ({"eps": float("inf")}, ValueError, "eps must be a finite number"),
        ({"eps": "1e-7"}, TypeError, "eps must be a real number"),
        ({"kind": "xor"}, ValueError, "kind must be 'and' or 'or'"),
    ],
)
def test_noise_floor_options(kwargs, error, match):
    with fast(), pytest.raises(error, match=match):
        ij.noise_floor(np.ones(4), **kwargs)


@pytest.mark.parametrize("fn", [ij.to_msb_order, ij.from_msb_order])
def test_msb_order_bad_shapes(fn):
    with fast(), pytest.raises(ValueError, match="got a scalar"):
        fn(1.0)
    with fast(), pytest.raises(ValueError, match="got length 3"):
        fn(np.zeros(3))


def test_zero_players_is_a_valid_game():
    """n = 0 (one coalition, the empty one) is not bad input: every index has n = 0 entries."""
    v = np.array([2.5])
    assert ij.and_interactions(v).tolist() == [2.5]
    assert ij.or_interactions(v).tolist() == [2.5]
    assert ij.shapley_values(v).shape == (0,)
    assert ij.banzhaf_values(v).shape == (0,)
    assert ij.pairwise_shapley_interactions(v).shape == (0, 0)
