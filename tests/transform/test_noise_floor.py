"""The noise floor against its formula, in exact arithmetic (issue 17, item 1).

docs/method.md §3 "Numerics" and the docstring of ``ij.noise_floor`` define, for every coalition
S of n players,

    floor_and(S) = (ε_v + |S|·ε_t) · Σ_{T⊆S} |v(T)|
    floor_or(S)  = (ε_v + |S|·ε_t) · Σ_{T⊆S} |v(N∖T)|   (S ≠ ∅),   floor_or(∅) = ε_v·|v(∅)|

with ε_v = ``eps`` (default float32's machine epsilon) and ε_t the machine epsilon of the
transform's dtype. The expected floors are computed here with ``fractions.Fraction`` by brute
force over the subsets of S, so the only rounding left is that of the library's float result.
A floor ten times too large or too small, a wrong |S| weight, a missing absolute value or the
complement taken on the wrong side all fail these tests.
"""

from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import interjax as ij
from tests.oracles import popcount, subsets

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def exact_floor(v, kind: str, eps: float, eps_t: float) -> list[Fraction]:
    """The floor of every coalition of one value vector, in exact rational arithmetic."""
    full = len(v) - 1
    vals = [abs(Fraction(float(x))) for x in v]
    out = []
    for s in range(len(v)):
        if kind == "and":
            mass = sum(vals[t] for t in subsets(s))
        elif s == 0:
            mass = vals[0]  # OR at ∅: ε_v·|v(∅)|, not |v(N)|
        else:
            mass = sum(vals[full ^ t] for t in subsets(s))
        out.append((Fraction(eps) + popcount(s) * Fraction(eps_t)) * mass)
    return out


def assert_floor_is(v: np.ndarray, kind: str, eps: float | None, rtol: float) -> None:
    got = np.asarray(
        ij.noise_floor(v, kind=kind) if eps is None else ij.noise_floor(v, kind=kind, eps=eps)
    )
    eps_v = EPS32 if eps is None else eps
    eps_t = float(np.finfo(got.dtype).eps)  # the precision the transform ran in
    assert got.shape == v.shape
    for idx in np.ndindex(v.shape[:-1]):
        want = np.array([float(x) for x in exact_floor(v[idx], kind, eps_v, eps_t)])
        np.testing.assert_allclose(got[idx], want, rtol=rtol, atol=0, err_msg=f"{kind} at {idx}")


@pytest.mark.parametrize("kind", ["and", "or"])
@pytest.mark.parametrize("eps", [None, 0.0, 1e-3, 2.5e-9])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_floor_equals_its_formula_in_exact_arithmetic(kind, eps, n):
    """Batched float64 values (3 × 2 vectors) with mixed signs and magnitudes."""
    rng = np.random.default_rng(100 * n + (0 if kind == "and" else 1))
    v = rng.normal(size=(3, 2, 2**n)) * 10.0 ** rng.integers(-3, 4, size=(3, 2, 2**n))
    assert_floor_is(v, kind, eps, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    v=st.integers(2, 5).flatmap(
        lambda n: hnp.arrays(
            np.float64,
            (2, 2**n),
            # no magnitude below 1e-200: ε·|v| would underflow to subnormals, losing digits
            elements=st.floats(-1e6, 1e6, allow_nan=False).filter(
                lambda x: x == 0 or abs(x) > 1e-200
            ),
        )
    ),
    kind=st.sampled_from(["and", "or"]),
    eps=st.sampled_from([None, 0.0, 1e-7, 0.5]),
)
def test_floor_equals_its_formula_on_random_values(v, kind, eps):
    assert_floor_is(v, kind, eps, rtol=1e-12)


@pytest.mark.parametrize("kind", ["and", "or"])
def test_float32_values_are_transformed_in_float64_under_x64(kind):
    """ε_t is the epsilon of the precision the transform ran in: with x64 on (as in every test),
    float32 values are transformed in float64, so ε_t is float64's; ε_v stays float32's."""
    rng = np.random.default_rng(7)
    v = rng.normal(size=(2, 16)).astype(np.float32)
    assert ij.noise_floor(v, kind=kind).dtype == np.float64
    assert_floor_is(v, kind, None, rtol=1e-12)
    assert_floor_is(v, kind, 1e-4, rtol=1e-12)


def test_hand_computed_floors_at_n_2():
    """v = (1, -2, 4, -8) in bitmask order, eps = 0.25: every entry worked out by hand.

    AND masses Σ_{T⊆S}|v(T)|: ∅ 1, {0} 1+2, {1} 1+4, {0,1} 15. OR masses Σ_{T⊆S}|v(N∖T)|:
    ∅ |v(∅)| = 1, {0} |v(N)|+|v({1})| = 12, {1} 8+2 = 10, {0,1} 15.
    """
    v = np.array([1.0, -2.0, 4.0, -8.0])
    eps, e = 0.25, EPS64
    w = [eps, eps + e, eps + e, eps + 2 * e]
    np.testing.assert_allclose(
        ij.noise_floor(v, kind="and", eps=eps),
        [w[0] * 1, w[1] * 3, w[2] * 5, w[3] * 15],
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        ij.noise_floor(v, kind="or", eps=eps),
        [w[0] * 1, w[1] * 12, w[2] * 10, w[3] * 15],
        rtol=1e-15,
    )
    # eps = 0 leaves the transform's own rounding only: 0 at ∅, |S|·ε_t·mass elsewhere
    np.testing.assert_array_equal(ij.noise_floor(v, kind="and", eps=0.0)[0], 0.0)
    np.testing.assert_allclose(ij.noise_floor(v, kind="and", eps=0.0)[3], 2 * e * 15, rtol=1e-15)


def test_the_fit_stores_the_floors_of_its_values():
    """``fit_and_or`` keeps ``noise_floor(v)`` of both kinds (the default eps), as documented."""
    v = jnp.asarray(np.random.default_rng(3).normal(size=16))
    fit = ij.fit_and_or(v, q_ratio=0.0, solver=ij.HiGHS())
    np.testing.assert_allclose(
        fit.noise_floor_and, [float(x) for x in exact_floor(v, "and", EPS32, EPS64)], rtol=1e-12
    )
    np.testing.assert_allclose(
        fit.noise_floor_or, [float(x) for x in exact_floor(v, "or", EPS32, EPS64)], rtol=1e-12
    )
