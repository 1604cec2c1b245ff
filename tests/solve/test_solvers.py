"""Solver objects (issue 13, item 3): frozen, hashable, checked when made; the deprecated keyword
form maps onto them with a DeprecationWarning; every fit carries the reason it stopped."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import interjax as ij
from interjax.solve._fit import solver_of
from interjax.solve._solvers import DEFAULT_SOLVER

jax.config.update("jax_enable_x64", True)

V = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
VS = jnp.stack([V, V])


def test_objects_are_frozen_hashable_and_normalized():
    a, b = ij.PDHG(tol=1e-2, iterate_dtype=jnp.float32), ij.PDHG(tol=0.01, iterate_dtype="float32")
    assert a == b and hash(a) == hash(b) and a.iterate_dtype == "float32"
    assert ij.PDHG() == DEFAULT_SOLVER and ij.PDHG(max_iters=np.int64(5)).max_iters == 5
    opt = optax.sgd(1e-3)
    assert hash(ij.SGD(optimizer=opt)) == hash(ij.SGD(optimizer=opt))
    assert len({ij.PDHG(), ij.SGD(), ij.HiGHS(), ij.PDHG()}) == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tol = 1.0
    with pytest.raises(TypeError):
        ij.PDHG(1e-3)  # keyword-only


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ij.PDHG(check_every=0), ValueError, "check_every must be an int >= 1"),
        (lambda: ij.SGD(optimizer="adam"), TypeError, "optax.GradientTransformation"),
        (lambda: ij.SGD(tol=float("nan")), ValueError, "tol must be a finite number > 0"),
        (lambda: ij.HiGHS(method="simplex"), ValueError, "method must be one of"),
        (lambda: ij.HiGHS(time_limit=0), ValueError, "time_limit must be a finite number > 0"),
        (lambda: ij.fit_and_or(V, solver=object()), TypeError, "solver must be a solver object"),
        (lambda: ij.fit_and_or(V, solver=ij.PDHG(), tol=1e-2), TypeError, "put them in"),
        (lambda: ij.fit_and_or(V, max_iter=5), TypeError, "unexpected keyword.*'max_iter'"),
        (lambda: ij.fit_shared_and_or(VS, solver=ij.SGD()), TypeError, "PDHG"),
        (
            lambda: ij.fit_shared_and_or(VS, solver=ij.PDHG(iterate_dtype="float32")),
            ValueError,
            "iterate_dtype=None",
        ),
        (lambda: ij.fit_shared_and_or(VS, lanes=2), TypeError, "'lanes'"),
        (lambda: ij.PDHG(order_weight=0.0), ValueError, "order_weight must be a finite number > 0"),
        (
            lambda: ij.fit_shared_and_or(VS, solver=ij.PDHG(order_weight=1.0)),
            ValueError,
            "order_weight=None",
        ),
    ],
)
def test_bad_solvers(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("solver", "options", "want"),
    [
        ("optimal", {}, ij.PDHG()),
        (DEFAULT_SOLVER, {"tol": 1e-2, "lanes": 4}, ij.PDHG(tol=1e-2, lanes=4)),
        ("optimal", {"iterate_dtype": jnp.float32}, ij.PDHG(iterate_dtype="float32")),
        ("sgd", {"num_steps": 50, "learning_rate": 1e-3}, ij.SGD(num_steps=50, learning_rate=1e-3)),
        ("sgd", {"tol": 1e-2, "max_iters": 7}, ij.SGD(tol=1e-2)),  # max_iters: checked, unused
        ("highs", {"tol": 1e-6}, ij.HiGHS(tol=1e-6)),
    ],
)
def test_deprecated_keyword_form_maps_onto_the_objects(solver, options, want):
    with pytest.warns(DeprecationWarning, match="deprecated.*solver=ij\\."):
        assert solver_of(solver, options, "fit_and_or") == want


def test_deprecated_keyword_form_still_fits():
    with pytest.warns(DeprecationWarning, match="fit_and_or"):
        old = ij.fit_and_or(V, q_ratio=0.0, tol=1e-6)
    new = ij.fit_and_or(V, q_ratio=0.0, solver=ij.PDHG(tol=1e-6))
    assert old.solver == new.solver == ij.PDHG(tol=1e-6) and old.tol == 1e-6
    np.testing.assert_array_equal(old.and_, new.and_)
    with pytest.warns(DeprecationWarning, match="fit_shared_and_or"):
        shared = ij.fit_shared_and_or(VS, max_iters=64)
    assert shared.solver == ij.PDHG(max_iters=64) and int(shared.iterations) <= 64


def test_order_weight_reaches_the_solver_and_keeps_the_optimum():
    """``ij.PDHG(order_weight=w)`` runs the engine with the order weight ``w`` (the same
    iterations as the engine called directly with it) and certifies the same optimum as the
    default weight, on unstructured values (Gaussian noise, n = 6), where the two paths differ."""
    from interjax.solve._pdhg import and_or_problem, pdhg_solve, step_size

    n = 6
    v = jnp.asarray(np.random.default_rng(3).normal(size=(3, 2**n)))
    tau = 0.02 * jnp.abs(v[:, -1] - v[:, 0])
    default = ij.fit_and_or(v, solver=ij.PDHG(tol=1e-4))
    flat = ij.fit_and_or(v, solver=ij.PDHG(tol=1e-4, order_weight=1.0))
    assert flat.solver.order_weight == 1.0 and bool(flat.converged.all())

    def engine(v, t):
        problem, z, lam = and_or_problem(v, t, weight=1.0)
        eta = step_size(n, weight=1.0)
        return pdhg_solve(problem, z, lam, eta=eta, tol=1e-4, max_iters=50_000).iteration

    direct = jax.jit(jax.vmap(engine))(v, tau)
    np.testing.assert_array_equal(flat.iterations, direct)
    assert (flat.iterations != default.iterations).any()
    # both certified to 1e-4: the objectives agree to within the two gaps
    np.testing.assert_allclose(flat.objective, default.objective, rtol=2e-4)
    assert (flat.lower_bound <= default.objective).all() and (
        default.lower_bound <= flat.objective
    ).all()


def test_status_of_each_solver():
    pdhg = ij.fit_and_or(jnp.stack([V, 2 * V]), q_ratio=0.0)
    assert pdhg.status.dtype == jnp.int32 and pdhg.status.shape == (2,)
    assert (pdhg.status == ij.FitStatus.CONVERGED).all() and pdhg.converged.all()
    sgd = ij.fit_and_or(V, solver=ij.SGD(num_steps=5, learning_rate=1e-3))
    assert int(sgd.status) == ij.FitStatus.ITERATION_CAP and not bool(sgd.converged)
    assert sgd.solver == ij.SGD(num_steps=5, learning_rate=1e-3)
    highs = ij.fit_and_or(V, solver=ij.HiGHS())
    assert int(highs.status) == ij.FitStatus.CONVERGED and highs.solver == ij.HiGHS()


def test_non_finite_iterates_are_reported_and_stop_early():
    """float32 iterates overflow on values at float32's limit: the fit stops at the first
    certificate that sees it and says so, instead of running to max_iters. (Values of 1e37
    converge: the primal weight starts at 4 / std(v), so the iterates scale with v.)"""
    v = jnp.asarray(np.random.default_rng(0).normal(size=(2, 8)) * 1e38)
    fit = ij.fit_and_or(v, solver=ij.PDHG(iterate_dtype=jnp.float32, max_iters=2000))
    np.testing.assert_array_equal(fit.status, int(ij.FitStatus.NON_FINITE))
    assert not fit.converged.any() and (fit.iterations < 2000).all()
