"""Shared extraction across models against an independent LP (HiGHS) and its projections."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linprog

import interjax as ij
from interjax.solve._shared import project_range, project_shared_ball


def shared_lp(vs, taus, alpha, bound):
    """The shared problem written out densely for HiGHS: x = [γ̄, γ̂_k, q_k, t, u]."""
    k, size = vs.shape
    M = np.asarray(ij.and_interactions(np.eye(size))).T  # I_and = M v_and
    O = np.asarray(ij.or_interactions(np.eye(size))).T
    nx = size + 2 * k * size
    rows, rhs = [], []
    nt, nu = 2 * size, 2 * k * size  # t per (kind, S); u per (k, kind, S)
    total = nx + nt + nu
    for m in range(k):
        for kind, T in ((0, M), (1, O)):
            sign = 1.0 if kind == 0 else -1.0
            a = np.zeros((size, total))  # I = c + a x
            a[:, :size] = sign * T
            a[:, size + m * size : size + (m + 1) * size] = sign * T
            q0 = size + k * size + m * size
            a[:, q0 : q0 + size] = 0.5 * T
            c = 0.5 * T @ vs[m]
            for s_ in (1.0, -1.0):  # ±I ≤ t and ±I ≤ u
                for col0 in (nx + kind * size, nx + nt + (m * 2 + kind) * size):
                    row = s_ * a
                    row[np.arange(size), col0 + np.arange(size)] -= 1.0
                    rows.append(row)
                    rhs.append(-s_ * c)
    cost = np.concatenate([np.zeros(nx), np.ones(nt), alpha * np.ones(nu)])
    bounds = (
        [(None, None)] * size
        + [(-bound, bound)] * (k * size)
        + [(-t, t) for t in taus for _ in range(size)]
        + [(0, None)] * (nt + nu)
    )
    res = linprog(
        cost, A_ub=np.concatenate(rows), b_ub=np.concatenate(rhs), bounds=bounds, method="highs"
    )
    assert res.status == 0, res.message
    return res.fun


@pytest.mark.parametrize(("alpha", "gamma_ratio", "q_ratio"), [(0.1, 0.02, 0.02), (0.5, 0.0, 0.0)])
def test_shared_reaches_lp_optimum(alpha, gamma_ratio, q_ratio):
    rng = np.random.default_rng(0)
    base = rng.normal(size=16) * 2
    vs = np.stack([base + 0.3 * rng.normal(size=16) for _ in range(3)])
    fit = ij.fit_shared_and_or(jnp.asarray(vs), q_ratio, alpha=alpha, gamma_ratio=gamma_ratio)
    spans = np.abs(vs[:, -1] - vs[:, 0])
    optimum = shared_lp(vs, q_ratio * spans, alpha, gamma_ratio * spans.mean())
    assert bool(fit.converged)
    assert optimum * (1 - 1e-9) <= float(fit.objective) <= optimum * 1.01
    assert float(fit.lower_bound) <= optimum * (1 + 1e-9)
    # each model's split reproduces its values within its own error box
    assert np.asarray(ij.matching_error(vs, fit.and_, fit.or_, fit.q)).max() < 1e-10
    assert np.all(np.abs(np.asarray(fit.q)) <= q_ratio * spans[:, None] + 1e-12)
    gamma = np.asarray(fit.gamma)
    assert np.all(gamma.max(0) - gamma.min(0) <= 2 * gamma_ratio * spans.mean() + 1e-9)


def obtuse(y, p, feasible_points):
    """Projection test: ⟨y - P(y), w - P(y)⟩ ≤ 0 for every feasible w."""
    return all(float(np.sum((y - p) * (w - p))) <= 1e-9 for w in feasible_points)


def test_projections_are_euclidean():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.normal(size=5) * 2
        p = np.asarray(project_shared_ball(jnp.asarray(y), 0.3))
        assert np.maximum(np.abs(p) - 0.3, 0).sum() <= 1 + 1e-9
        ws = [w / max(1.0, np.maximum(np.abs(w) - 0.3, 0).sum()) for w in rng.normal(size=(50, 5))]
        ws = [np.sign(w) * np.minimum(np.abs(w), 0.3 + np.maximum(np.abs(w) - 0.3, 0)) for w in ws]
        assert obtuse(y, p, [w for w in ws if np.maximum(np.abs(w) - 0.3, 0).sum() <= 1])
        u = rng.normal(size=5) * 3
        r = np.asarray(project_range(jnp.asarray(u), 0.5))
        assert r.max() - r.min() <= 1.0 + 1e-9
        cs = rng.normal(size=(50, 1))
        assert obtuse(u, r, list(cs + rng.uniform(-0.5, 0.5, size=(50, 5))))


def test_shared_bad_input():
    with pytest.raises(ValueError, match="K models"):
        ij.fit_shared_and_or(np.zeros(8))
    with pytest.raises(ValueError, match="alpha"):
        ij.fit_shared_and_or(np.zeros((2, 8)), alpha=-1.0)
