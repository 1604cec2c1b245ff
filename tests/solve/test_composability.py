"""The default fit composes with JAX's transformations (issue 13, item 3): ``jax.jit`` and
``jax.vmap`` of :func:`interjax.fit_and_or` give the eager numbers, and a jitted fit traces once
per shape."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij

jax.config.update("jax_enable_x64", True)

TOL = 1e-3  # the default PDHG's certified relative gap


@pytest.fixture(scope="module")
def values():
    return jnp.asarray(np.random.default_rng(0).normal(size=(3, 16)) * 2)


@pytest.fixture(scope="module")
def eager(values):
    return ij.fit_and_or(values, q_ratio=0.02)


def _same_fit(got_and, got_objective, want):
    """Equal to the eager fit: both certified within TOL of the optimum, and the same split."""
    obj = np.asarray(got_objective)
    np.testing.assert_allclose(obj, want.objective, rtol=TOL)
    assert np.all(obj >= np.asarray(want.lower_bound) * (1 - 1e-12))
    np.testing.assert_allclose(got_and, want.and_, rtol=1e-9, atol=1e-9)


def test_jit_matches_eager(values, eager):
    and_ = jax.jit(lambda v: ij.fit_and_or(v, q_ratio=0.02).and_)(values)
    fit = jax.jit(lambda v: ij.fit_and_or(v, q_ratio=0.02))(values)  # the whole AndOr pytree
    _same_fit(and_, fit.objective, eager)
    assert fit.solver == ij.PDHG() and fit.converged.all()
    np.testing.assert_array_equal(fit.iterations, eager.iterations)


def test_vmap_matches_eager(values, eager):
    fit = jax.vmap(lambda v: ij.fit_and_or(v, q_ratio=0.02))(values)
    assert fit.and_.shape == eager.and_.shape and fit.objective.shape == (3,)
    _same_fit(fit.and_, fit.objective, eager)
    np.testing.assert_array_equal(fit.status, eager.status)


def test_jit_traces_once_per_shape(values):
    traces = 0

    @jax.jit
    def objective(v):
        nonlocal traces
        traces += 1
        return ij.fit_and_or(v, q_ratio=0.02).objective

    first = objective(values)
    second = objective(values * 2.0)  # new data, same shape: no new trace
    assert traces == 1
    np.testing.assert_allclose(second, 2.0 * first, rtol=2 * TOL)  # the LP scales with v


def test_highs_refuses_tracing_clearly(values):
    with pytest.raises(TypeError, match=r"cannot be traced by jax\.jit"):
        jax.jit(lambda v: ij.fit_and_or(v, solver=ij.HiGHS()).and_)(values[0])
