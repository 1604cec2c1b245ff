"""Bad input to the fits and the salient rule: a clear error before any solve (issue 7, item 1).

tests/solve/test_fit.py::test_bad_input and tests/solve/test_shared.py::test_shared_bad_input
hold the original cases; these are the ones that used to run (``check_every=0`` looped for
ever, a negative SGD learning rate or ``eps`` gave garbage) or failed in JAX's own words.
"""

import dataclasses
import time
from contextlib import contextmanager

import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax.solve import _shared, _solvers
from tests.helpers import fit_of

V = np.asarray(ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0)))


@contextmanager
def fast(limit: float = 5.0):
    """A coarse backstop against expensive work before the error (a compile takes seconds here),
    generous for a loaded runner; where the test can observe it, a fixture forbids the work."""
    t0 = time.perf_counter()
    yield
    assert time.perf_counter() - t0 < limit, "the error came after expensive work"


@pytest.fixture
def no_solve(monkeypatch):
    """Fail the test if a solver is reached: errors must come before any work."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a solver ran before the input was validated")

    for name in ("_solve_optimal", "_solve_sgd", "_solve_highs"):
        monkeypatch.setattr(_solvers, name, forbidden)
    monkeypatch.setattr(_shared, "solve_shared", forbidden)


@pytest.mark.usefixtures("no_solve")
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tol": -1.0}, ValueError, r"tol must be a finite number > 0 \(a relative duality gap"),
        ({"tol": float("nan")}, ValueError, "tol must be a finite number > 0"),
        ({"tol": float("inf")}, ValueError, "tol must be a finite number > 0"),
        ({"tol": "1e-3"}, TypeError, "tol must be a real number"),
        ({"q_ratio": float("nan")}, ValueError, "q_ratio must be a finite number >= 0"),
        ({"q_ratio": float("inf")}, ValueError, "q_ratio must be a finite number >= 0"),
        ({"q_ratio": -0.02}, ValueError, r"q_ratio .*e\.g\. 0\.02\), got -0\.02"),
        ({"q_ratio": None}, TypeError, "q_ratio must be a real number"),
        ({"max_iters": -5}, ValueError, "max_iters must be an int >= 1"),
        ({"max_iters": 10.0}, TypeError, "max_iters must be an int >= 1"),
        ({"max_iters": True}, TypeError, "max_iters must be an int"),
        ({"check_every": 0}, ValueError, "check_every must be an int >= 1"),
        ({"check_every": -64}, ValueError, "check_every must be an int >= 1"),
        ({"lanes": 2.0}, TypeError, "lanes must be an int >= 1"),
        ({"eps": -1e-7}, ValueError, "eps must be a finite number >= 0"),
        ({"eps": float("nan")}, ValueError, "eps must be a finite number >= 0"),
        ({"iterate_dtype": jnp.int32}, TypeError, "iterate_dtype must be a float dtype"),
        ({"iterate_dtype": "complex64"}, TypeError, "iterate_dtype must be a float dtype"),
        ({"iterate_dtype": "nonsense"}, TypeError, "iterate_dtype must be a float dtype"),
        ({"solver": "sgd", "num_steps": 0}, ValueError, "num_steps must be an int >= 1"),
        ({"solver": "sgd", "learning_rate": -1e-4}, ValueError, "learning_rate must be a finite"),
        ({"solver": "sgd", "learning_rate": float("nan")}, ValueError, "learning_rate must be"),
    ],
)
def test_bad_options(kwargs, error, match):
    """Fit options go to the fit, the solver's to its object (which checks them when made)."""
    kwargs = dict(kwargs)
    make = {"pdhg": ij.PDHG, "sgd": ij.SGD}[kwargs.pop("solver", "pdhg")]
    fit_options = {k: kwargs.pop(k) for k in ("q_ratio", "eps") if k in kwargs}
    with fast(), pytest.raises(error, match=match):
        ij.fit_and_or(V, solver=make(**kwargs), **fit_options)


@pytest.mark.usefixtures("no_solve")
@pytest.mark.parametrize(
    ("v", "error", "match"),
    [
        (V + 1j, TypeError, r"v is complex.*\.real"),
        (np.array(["a"] * 8), TypeError, "v must hold real numbers"),
        (np.zeros((0, 8)), ValueError, r"holds no value vector"),
        (np.r_[V[:-1], np.inf], ValueError, r"v has 1 NaN or infinite entries of 8 \(first at T=7"),
        (jnp.asarray(np.r_[np.nan, V[1:]]), ValueError, r"first at T=0\)"),
        (np.zeros((2, 6)), ValueError, r"length 2\*\*n"),
        (5.0, ValueError, "got a scalar"),
    ],
)
def test_bad_values(v, error, match):
    with fast(), pytest.raises(error, match=match):
        ij.fit_and_or(v)


@pytest.mark.usefixtures("no_solve")
@pytest.mark.parametrize(
    ("vs", "kwargs", "error", "match"),
    [
        (np.zeros((0, 8)), {}, ValueError, "vs of shape .* holds no value vector"),
        (np.stack([V, V])[None], {}, ValueError, r"vs must be \(K models, 2\*\*n\)"),
        (np.stack([V, V + 1j]), {}, TypeError, "vs is complex"),
        (np.stack([V, np.r_[V[:-1], np.nan]]), {}, ValueError, r"vs has 1 NaN.*item \(1,\)"),
        (np.stack([V, V]), {"gamma_ratio": float("inf")}, ValueError, "gamma_ratio must be"),
        (np.stack([V, V]), {"alpha": float("nan")}, ValueError, "alpha must be a finite"),
        (np.stack([V, V]), {"check_every": 0}, ValueError, "check_every must be"),
        (np.stack([V, V]), {"tol": 0.0}, ValueError, "tol must be"),
    ],
)
def test_shared_bad_input(vs, kwargs, error, match):
    kwargs = dict(kwargs)
    solver = {k: kwargs.pop(k) for k in ("check_every", "tol") if k in kwargs}
    with fast(), pytest.raises(error, match=match):
        ij.fit_shared_and_or(vs, solver=ij.PDHG(**solver), **kwargs)


@pytest.fixture(scope="module")
def fit():
    """The exact fit of V (AND {0, 1} = 2, OR {1, 2} = 1), built without a solve."""
    zero = jnp.zeros(8)
    return fit_of(
        zero.at[3].set(2.0),
        zero.at[6].set(1.0),
        ij.noise_floor(V),
        ij.noise_floor(V, kind="or"),
        objective=3.0,
    )


@pytest.mark.parametrize("fn", [ij.salient, ij.salient_mask])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ratio": -0.1}, ValueError, r"ratio must be a finite number in \[0, 1\]"),
        ({"ratio": float("nan")}, ValueError, "ratio must be a finite number"),
        ({"ratio": 1.5}, ValueError, "ratio must be a finite number"),
        ({"ratio": "0.1"}, TypeError, "ratio must be a real number"),
        ({"top_k": 0}, ValueError, "top_k must be an int >= 1"),
        ({"top_k": 2.0}, TypeError, "top_k must be an int"),
        ({"top_k": True}, TypeError, "top_k must be an int"),
        ({"share": 0.0}, ValueError, r"share must be a finite number in \(0, 1\]"),
        ({"share": float("nan")}, ValueError, "share must be"),
        ({"ratio": 0.1, "top_k": 2}, ValueError, "at most one of ratio, top_k, share"),
    ],
)
def test_bad_salient_rule(fit, fn, kwargs, error, match):
    with fast(), pytest.raises(error, match=match):
        fn(fit, **kwargs)


@pytest.mark.parametrize("fn", [ij.salient, ij.salient_mask, ij.strength_by_order])
def test_salient_needs_a_fit(fn):
    with fast(), pytest.raises(TypeError, match=r"fit must be an ij\.AndOr.*ij\.fit_and_or\(v\)"):
        fn(V)


def test_salient_refuses_nonfinite_interactions(fit):
    broken = dataclasses.replace(fit, and_=fit.and_.at[3].set(jnp.nan))
    with pytest.raises(ValueError, match=r"NaN or infinite interactions.*\[\[0, 3\]\]"):
        ij.salient(broken)


def test_strength_by_order_mask_shape(fit):
    with fast(), pytest.raises(ValueError, match=r"mask of shape \(2, 4\) does not fit"):
        ij.strength_by_order(fit, np.ones((2, 4), bool))


def test_numpy_integers_are_counts(fit):
    assert len(ij.salient(fit, top_k=np.int64(1))) == 1


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.zeros(4), np.zeros(8)), ValueError, r"and_ \(4,\), or_ \(8,\)"),
        (([0.0] * 4, [0.0, 0.0, np.nan, 0.0]), ValueError, "or_ has 1 NaN"),
        ((np.zeros(6), np.zeros(6)), ValueError, r"length 2\*\*n"),
    ],
)
def test_fold_bad_input(args, error, match):
    with fast(), pytest.raises(error, match=match):
        ij.fold_or_into_and(*args)
    assert ij.fold_or_into_and([0.0, 1.0, 2.0, 3.0], np.zeros(4))[0].shape == (4,)  # lists OK
