"""Fast transforms against their brute-force definitions (docs/method.md §2)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import interjax as ij
from tests import oracles

NS = [1, 2, 3, 5, 8]


def random_v(n, seed=0, lead=()):
    return np.random.default_rng(seed).normal(size=(*lead, 2**n))


@pytest.mark.parametrize("n", NS)
def test_and_matches_mobius_definition(n):
    v = random_v(n)
    np.testing.assert_allclose(ij.and_interactions(v), oracles.mobius(v), atol=1e-10)


@pytest.mark.parametrize("n", NS)
def test_or_matches_definition(n):
    v = random_v(n, 1)
    np.testing.assert_allclose(ij.or_interactions(v), oracles.or_interactions(v), atol=1e-10)


@pytest.mark.parametrize("n", NS)
def test_inverses(n):
    v = random_v(n, 2, lead=(3,))
    np.testing.assert_allclose(ij.and_inverse(ij.and_interactions(v)), v, atol=1e-10)
    np.testing.assert_allclose(ij.or_inverse(ij.or_interactions(v)), v, atol=1e-10)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_shapley_banzhaf_pairs_against_definitions(n):
    v = random_v(n, 3)
    np.testing.assert_allclose(
        ij.shapley_values(v), oracles.shapley_by_permutations(v, n), atol=1e-10
    )
    np.testing.assert_allclose(ij.banzhaf_values(v), oracles.banzhaf_by_marginals(v, n), atol=1e-10)
    np.testing.assert_allclose(
        ij.pairwise_shapley_interactions(v), oracles.pairwise_sii(v, n), atol=1e-10
    )


def test_shapley_efficiency_and_batching():
    v = random_v(7, 4, lead=(2, 3))
    phi = ij.shapley_values(v)
    assert phi.shape == (2, 3, 7)
    np.testing.assert_allclose(phi.sum(-1), v[..., -1] - v[..., 0], atol=1e-10)
    one = np.stack([ij.shapley_values(v[1, 2])])
    np.testing.assert_allclose(phi[1, 2], one[0], atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 6),
    data=st.data(),
)
def test_universal_matching_property(n, data):
    """Any split v_and + v_or = v + q gives interactions that reproduce v + q on every mask."""
    floats = st.floats(-100, 100, allow_nan=False, width=64)
    v = data.draw(arrays(np.float64, 2**n, elements=floats))
    v_and = data.draw(arrays(np.float64, 2**n, elements=floats))
    q = data.draw(arrays(np.float64, 2**n, elements=st.floats(-1, 1, width=64)))
    v_or = v + q - v_and
    i_and, i_or = ij.and_interactions(v_and), ij.or_interactions(v_or)
    rhs = oracles.matching_rhs(np.asarray(i_and), np.asarray(i_or))
    scale = 1 + np.abs(v).max() + np.abs(v_and).max()
    np.testing.assert_allclose(rhs, v + q, atol=1e-9 * scale * 2**n)
    assert float(ij.matching_error(v, i_and, i_or, q)) <= 1e-9 * scale * 2**n


def test_float64_agrees_with_numpy_reference_to_1e10():
    n = 12
    v = random_v(n, 5) * 3
    ref = v.copy()
    for i in range(n):  # numpy float64 butterfly written independently of interjax
        w = ref.reshape(-1, 2, 2**i)
        w[:, 1, :] -= w[:, 0, :]
    out = ij.and_interactions(jnp.asarray(v))
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out), ref, rtol=0, atol=1e-10)


def test_float32_input_is_computed_in_float64():
    v32 = jnp.asarray(random_v(10, 6), jnp.float32)
    assert ij.and_interactions(v32).dtype == jnp.float64
    assert ij.shapley_values(v32).dtype == jnp.float64


def test_noise_floor_bounds_float32_error():
    """Transform in float32 vs float64: the error of every term stays under the floor."""
    n = 14
    v = random_v(n, 7) + 5
    exact = np.asarray(ij.and_interactions(v))
    with jax.enable_x64(False):
        approx = np.asarray(ij.and_interactions(np.asarray(v, np.float32)))
    floor = np.asarray(ij.noise_floor(v, eps=float(np.finfo(np.float32).eps)))
    err = np.abs(approx - exact)
    assert err.max() > 0  # float32 really loses something here
    assert np.all(err <= floor)


def test_msb_order_roundtrip_and_meaning():
    n = 3
    v = np.arange(8.0)
    msb = np.asarray(ij.to_msb_order(v))
    # in MSB order, index 0b100 = player 0 alone, which is bitmask index 1
    assert msb[4] == v[1] and msb[1] == v[4]
    np.testing.assert_array_equal(ij.from_msb_order(msb), v)
    assert ij.graded_order(n).tolist() == [0, 1, 2, 4, 3, 5, 6, 7]
    assert ij.orders(n).tolist() == [0, 1, 1, 2, 1, 2, 2, 3]
    assert ij.coalition_index({0, 2}) == 5 and ij.coalition_players(5) == (0, 2)


@pytest.mark.parametrize("length", [0, 3, 6, 100])
def test_length_not_power_of_two_is_refused(length):
    with pytest.raises(ValueError, match="2\\*\\*n"):
        ij.and_interactions(np.zeros(length))
