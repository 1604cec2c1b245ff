"""Float32 and float64 transforms against an exact integer reference, and the noise floor
(README "Numerics"; the measured table comes from ``benchmarks/bench_numerics.py``, whose exact
reference is tested here)."""

import itertools
import math
import sys
from fractions import Fraction
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from tests import oracles

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_numerics import (
    exact_and,
    exact_error,
    exact_or,
    exact_shapley,
    scaled_ints,
)

# jitted as one program: eager, its many small ops compile one by one (seconds per shape)
noise_floor = jax.jit(ij.noise_floor, static_argnames=("kind", "eps"))


def float32_values(n, kind, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=2**n)
    if kind == "offset":  # log-odds-like: a common offset, so the alternating sums cancel
        x = x + 5.0
    elif kind == "wide":  # 40 binades: float64 partial sums need more than 53 bits
        x = x * 2.0 ** rng.integers(-20, 21, size=2**n)
    return x.astype(np.float32)


def in_precision(precision, fn):
    if precision == "float32":
        with jax.enable_x64(False):
            return fn()
    return fn()


def transform_and_floor(v32, kind):
    v = jnp.asarray(v32)
    fn = ij.and_interactions if kind == "and" else ij.or_interactions
    return np.asarray(fn(v)), np.asarray(noise_floor(v, kind=kind, eps=0.0))


def test_exact_reference_matches_brute_force_definitions():
    n = 4
    v32 = float32_values(n, "wide", seed=1)
    a, k = scaled_ints(v32)
    assert all(type(x) is int for x in a)
    assert [Fraction(int(x), 2**k) for x in a] == [Fraction(float(x)) for x in v32]
    # written-out definitions (tests/oracles.py) on the Python ints: exact as well
    i_and, i_or = exact_and(a), exact_or(a)
    assert i_and.tolist() == oracles.mobius(a).tolist()
    assert i_or.tolist() == oracles.or_interactions(a).tolist()
    # Shapley by permutations, in Fractions
    vf = [Fraction(int(x), 2**k) for x in a]
    phi = [Fraction(0)] * n
    for order in itertools.permutations(range(n)):
        t = 0
        for i in order:
            phi[i] += vf[t | 1 << i] - vf[t]
            t |= 1 << i
    assert exact_shapley(i_and, k) == [p / math.factorial(n) for p in phi]
    # the errors of interjax's float64 results, entry by entry, are the exact rational errors
    for got, ref in ((ij.and_interactions(v32), i_and), (ij.or_interactions(v32), i_or)):
        got = np.asarray(got)
        want = [
            float(abs(Fraction(float(g)) - Fraction(int(r), 2**k)))
            for g, r in zip(got, ref, strict=True)
        ]
        assert exact_error(got, ref, k).tolist() == want
        np.testing.assert_allclose(got, [float(Fraction(int(r), 2**k)) for r in ref], atol=1e-12)
    off = np.float64(np.asarray(ij.and_interactions(v32))[3]) + 2.0**-60  # off the 2**-k grid
    assert exact_error(np.array([off]), i_and[3:4], k)[0] == float(
        abs(Fraction(float(off)) - Fraction(int(i_and[3]), 2**k))
    )


@pytest.mark.parametrize("kind", ["normal", "offset", "wide"])
def test_transform_errors_stay_under_the_noise_floor(kind, n=14):
    """Exact float32 inputs: the error of every AND and OR interaction, in float64 and in
    float32, is at most ``noise_floor(v, eps=0)`` computed in the same precision (the floor's
    transform term); float64 is at least 1e6 times more accurate than float32."""
    v32 = float32_values(n, kind, seed=n)
    a, k = scaled_ints(v32)
    exact = {"and": exact_and(a), "or": exact_or(a)}
    worst = {}
    for precision, kind_ in itertools.product(("float64", "float32"), ("and", "or")):
        got, floor = in_precision(precision, lambda kind_=kind_: transform_and_floor(v32, kind_))
        assert got.dtype == floor.dtype == np.dtype(precision)
        err = exact_error(got, exact[kind_], k)
        assert np.all(err <= floor), (precision, kind_, np.flatnonzero(err > floor)[:5])
        worst[precision, kind_] = err.max()
    for kind_ in ("and", "or"):
        assert worst["float32", kind_] > 0  # float32 really rounds on these inputs
        assert worst["float64", kind_] <= 1e-6 * worst["float32", kind_]
    if kind == "wide":
        assert worst["float64", "and"] > 0  # and here float64 does too: the floor is not idle


def test_planted_low_order_model_in_float32_has_no_high_order_interaction():
    """A model whose exact interactions have order <= 2, evaluated in float32 (values rounded
    to float32) and transformed in float32 at n = 12: everything of order >= 3 is rounding noise
    under the noise floor (default eps: the model's float32 rounding, and float32's transform
    term), and every planted term stands above it. Extends test_fit.py's
    test_noise_floor_respected (n = 6, float64) to float32 values and transforms."""
    n = 12
    rng = np.random.default_rng(0)
    planted = np.zeros(2**n)
    planted[0] = 6.0  # log-odds-like offset
    singles = [1 << i for i in range(n)]
    pairs = [1 << i | 1 << j for i, j in itertools.combinations(range(n), 2)]
    chosen = singles + [pairs[p] for p in rng.choice(len(pairs), 15, replace=False)]
    planted[chosen] = rng.choice([-1, 1], len(chosen)) * rng.uniform(0.05, 1.0, len(chosen))
    v32 = np.asarray(ij.and_inverse(planted)).astype(np.float32)  # the model's rounding
    order = np.asarray(ij.orders(n))
    is_planted = planted != 0
    is_planted[0] = False

    a, k = scaled_ints(v32)
    exact = exact_and(a)
    exact_f = np.array([float(Fraction(int(x), 2**k)) for x in exact])
    assert np.abs(exact_f[order >= 3]).max() > 0  # float32 rounding of v reaches high orders
    # x64 on: eps_v = float32's (the model's rounding), eps_t = float64's
    floor64 = np.asarray(noise_floor(jnp.asarray(v32)))
    assert np.all(exact_error(planted, exact, k) <= floor64)
    assert np.array_equal(np.abs(exact_f) > floor64, planted != 0)

    with jax.enable_x64(False):
        i32 = np.asarray(ij.and_interactions(v32))
        floor32 = np.asarray(noise_floor(jnp.asarray(v32)))
    assert i32.dtype == floor32.dtype == np.float32
    assert np.abs(i32[order >= 3]).max() > 0  # the float32 transform leaves noise there too
    above = np.abs(i32) > floor32
    assert not above[order >= 3].any()
    assert np.array_equal(above[1:], is_planted[1:])
    err = np.abs(i32.astype(np.float64) - planted)
    assert np.all(err <= floor32)
