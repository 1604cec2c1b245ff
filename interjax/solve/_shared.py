"""Shared AND-OR extraction across several models on one input (Chen et al. 2024,
arXiv:2401.16318; docs/method.md §3, last item).

K models ``v_k`` are split with ``γ_k = γ̄ + γ̂_k`` (a shared part and a bounded model-specific
part, ``|γ̂_k(T)| ≤ b``) and errors ``|q_k| ≤ τ_k``; the loss rewards interactions that all models
share:

    min  Σ_{S, kind} max_k |I_{k,kind}(S)|  +  α Σ_k Σ_{S, kind} |I_{k,kind}(S)|.

It is again a linear program, solved by the same preconditioned Halpern PDHG engine as the
single-model fit (:mod:`interjax.solve._pdhg`) with ``z = (p_k, r_k)_k`` (``p_k = v_and,k``,
``r_k = v_or,k``) and three dual blocks:

* ``(M p_k, O r_k)`` under ``g(u) = max_k |u_k| + α Σ_k |u_k|`` per (S, kind), whose conjugate is
  the indicator of ``C = {y : Σ_k (|y_k| - α)₊ ≤ 1}``;
* ``p_k + r_k ∈ [v_k - τ_k, v_k + τ_k]``;
* ``γ_k = (p_k - r_k)/2`` with ``max_k γ_k(T) - min_k γ_k(T) ≤ 2b`` (the same as
  ``γ_k = γ̄ + γ̂_k``, ``|γ̂_k| ≤ b``), whose support function is ``b Σ_k |λ_k|`` on
  ``Σ_k λ_k = 0``.

The certificate is built like the single-model one: the primal iterate is projected onto the
constraints exactly, and dual candidates satisfying ``Kᵀλ = 0`` are scaled into ``C``. The joint
problem runs on the same driver as the single fits (:func:`~interjax.solve._pdhg.pdhg_solve_pool`,
one lane), so it stops, and reports its status, the same way.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from interjax._core import check_real, num_players_of
from interjax.solve._fit import (
    as_values,
    check_fit_settings,
    check_nonempty,
    make_result,
    solver_of,
)
from interjax.solve._operators import operators
from interjax.solve._pdhg import Problem, operator_step, pdhg_solve_pool, relative_gap
from interjax.solve._result import FitStatus
from interjax.solve._solvers import DEFAULT_SOLVER, PDHG
from interjax.transform import work_dtype

__all__ = [
    "fit_shared_and_or",
    "project_range",
    "project_shared_ball",
    "shared_problem",
    "solve_shared",
]


def project_shared_ball(y, alpha, axis=0, iters: int = 60):
    """Euclidean projection of ``y`` onto ``{y : Σ_k (|y_k| - α)₊ ≤ 1}`` along ``axis``.

    The excess ``(|y_k| - α)₊`` is soft-thresholded by the ``θ ≥ 0`` that makes it sum to 1
    (found by bisection), coordinates below ``α`` stay.
    """
    a = jnp.abs(y)
    excess = jnp.maximum(a - alpha, 0.0)
    total = excess.sum(axis=axis, keepdims=True)
    lo = jnp.zeros_like(total)
    hi = jnp.max(excess, axis=axis, keepdims=True)

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        over = jnp.maximum(excess - mid, 0.0).sum(axis=axis, keepdims=True) > 1.0
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
    theta = jnp.where(total > 1.0, hi, 0.0)
    shrunk = jnp.where(a > alpha, alpha + jnp.maximum(excess - theta, 0.0), a)
    return jnp.sign(y) * shrunk


def project_range(u, half_width, axis=0, iters: int = 60):
    """Euclidean projection of ``u`` onto ``{u : max_k u_k - min_k u_k ≤ 2·half_width}``:
    ``clip(u, c - w, c + w)`` with the centre ``c`` where the clipped mass balances (bisection)."""
    lo = jnp.min(u, axis=axis, keepdims=True)
    hi = jnp.max(u, axis=axis, keepdims=True)

    def body(_, bounds):
        a, b = bounds
        c = 0.5 * (a + b)
        # derivative of Σ (clip(u, c-w, c+w) - u)² in c: positive → move the centre down
        grad = jnp.minimum(u - (c - half_width), 0.0) + jnp.maximum(u - (c + half_width), 0.0)
        up = grad.sum(axis=axis, keepdims=True) > 0.0
        return jnp.where(up, c, a), jnp.where(up, b, c)

    a, b = jax.lax.fori_loop(0, iters, body, (lo, hi))
    c = 0.5 * (a + b)
    return jnp.clip(u, c - half_width, c + half_width)


def _largest_scale(y, alpha, axis=0, iters: int = 60):
    """Largest ``s ∈ [0, 1]`` with ``s·y ∈ C`` for every slice (bisection on the min)."""

    def inside(s):
        return jnp.all(jnp.maximum(s * jnp.abs(y) - alpha, 0.0).sum(axis=axis) <= 1.0)

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        ok = inside(mid)
        return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

    full = inside(jnp.asarray(1.0, y.dtype))
    lo, _ = jax.lax.fori_loop(0, iters, body, (jnp.zeros((), y.dtype), jnp.ones((), y.dtype)))
    return jnp.where(full, 1.0, lo)


def shared_problem(vs, taus, alpha, bound):
    """The shared problem for ``vs`` of shape ``(K, N)``; returns ``(problem, z0, λ0)``.

    ``z = (p, r)`` of shape ``(2, K, N)``; ``λ = (λ_A (2, K, N), λ_B (K, N), λ_C (K, N))``.
    """
    op = operators(num_players_of(vs.shape[-1]))
    M, O = jax.vmap(op.M), jax.vmap(op.O)
    MT, OT = jax.vmap(op.MT), jax.vmap(op.OT)
    ZT, BT = jax.vmap(op.ZT), jax.vmap(op.BT)
    lo, hi = vs - taus[:, None], vs + taus[:, None]

    def K(z):
        p, r = z
        return jnp.stack([M(p), O(r)]), p + r, 0.5 * (p - r)

    def KT(lam):
        a, b, c = lam
        return jnp.stack([MT(a[0]) + b + 0.5 * c, OT(a[1]) + b - 0.5 * c])

    def T(g):
        return jnp.stack([op.gram_inverse(g[0]), op.gram_inverse_reversed(g[1])])

    def prox_dual(mu, sigma):
        a, b, c = mu
        b = b - sigma * jnp.clip(b / sigma, lo, hi)
        c = c - sigma * project_range(c / sigma, bound, axis=0)
        return project_shared_ball(a, alpha, axis=1), b, c

    def objective_of(p, r):
        ints = jnp.abs(jnp.stack([M(p), O(r)]))  # (2, K, N)
        return ints.max(axis=1).sum() + alpha * ints.sum()

    def dual_value(b, c):
        c = c - c.mean(axis=0, keepdims=True)  # the range constraint's dual needs Σ_k λ_C = 0
        y = jnp.stack([-ZT(b + 0.5 * c), -BT(b - 0.5 * c)])  # λ_A with Kᵀλ = 0
        s = _largest_scale(y, alpha, axis=1)
        return -s * (jnp.sum(jnp.maximum(b * hi, b * lo)) + bound * jnp.abs(c).sum())

    def certify(z, lam):
        p, r = z
        h = 0.5 * (p + r)
        h = 0.5 * (vs + jnp.clip(2.0 * h - vs, -taus[:, None], taus[:, None]))
        gamma = project_range(0.5 * (p - r), bound, axis=0)
        p, r = h + gamma, h - gamma
        a, b, c = lam
        # candidates for (λ_B, λ_C): the iterate's own, and the ones implied by λ_A
        ma, oa = MT(a[0]), OT(a[1])
        lower = jnp.maximum(dual_value(b, c), dual_value(-0.5 * (ma + oa), -(ma - oa)))
        return jnp.stack([p, r]), objective_of(p, r), lower

    problem = Problem(K, KT, T, prox_dual, certify)
    lam0 = (jnp.zeros((2, *vs.shape), vs.dtype), jnp.zeros_like(vs), jnp.zeros_like(vs))
    return problem, jnp.stack([vs / 2, vs / 2]), lam0


@functools.partial(jax.jit, static_argnames=("alpha", "eta", "tol", "max_iters", "check_every"))
def _solve(vs, taus, bound, *, alpha, eta, tol, max_iters, check_every):
    def build(data):
        vs, taus, bound = data
        return shared_problem(vs, taus, alpha, bound)

    best_z, objective, lower, iterations = pdhg_solve_pool(
        build,
        (vs[None], taus[None], jnp.asarray(bound, vs.dtype)[None]),
        eta=eta,
        tol=tol,
        max_iters=max_iters,
        check_every=check_every,
        lanes=1,
    )
    return best_z[0], objective[0], lower[0], iterations[0]


def solve_shared(
    vs, taus, *, alpha: float, bound, tol: float, max_iters: int, check_every: int = 64
):
    """Run the shared problem; returns ``(p, r, objective, lower, iterations, relative_gap)``."""
    num_models, size = vs.shape
    with jax.ensure_compile_time_eval(), jax.enable_x64(True):
        problem, _, lam = shared_problem(
            jnp.zeros((num_models, size)), jnp.zeros(num_models), float(alpha), 0.0
        )
    eta = operator_step(("shared", num_models, size), problem, lam)
    (p, r), objective, lower, iterations = _solve(
        vs,
        taus,
        bound,
        alpha=float(alpha),
        eta=eta,
        tol=float(tol),
        max_iters=max_iters,
        check_every=check_every,
    )
    return p, r, objective, lower, iterations, relative_gap(objective, lower)


def fit_shared_and_or(
    vs,
    q_ratio: float = 0.02,
    *,
    alpha: float = 0.1,
    gamma_ratio: float = 0.02,
    solver: PDHG = DEFAULT_SOLVER,
    fold: str = "singletons",
    eps: float | None = None,
    **deprecated,
):
    """AND-OR interactions shared by several models explained on the same input.

    Args:
      vs: ``(K, 2**n)`` values of K models (same players, baseline and value function).
      q_ratio: error allowance per model, ``τ_k = q_ratio·|v_k(N) - v_k(∅)|``.
      alpha: weight of the per-model L1 term that keeps unshared interactions sparse too.
        Our default (0.1); Chen et al. (2024) leave it a hyper-parameter.
      gamma_ratio: bound ``b`` of the model-specific splits, ``b = gamma_ratio · mean_k
        |v_k(N) - v_k(∅)|`` (our default; with 0 every model uses one split γ̄).
      solver: a :class:`PDHG` (its ``tol``, ``max_iters``, ``check_every``; the joint problem
        iterates in the values' dtype on one lane and has no order weights, so
        ``iterate_dtype`` and ``order_weight`` must be ``None``; ``lanes`` has no effect).
        The flat ``tol=``, ``max_iters=``, ``check_every=`` of earlier releases still work
        for one release, with a :class:`DeprecationWarning`.
      fold, eps: as in :func:`interjax.fit_and_or`.

    Returns:
      :class:`AndOr` whose interaction arrays have the model axis first, ``(K, 2**n)``, and
      whose ``objective``, ``lower_bound``, ``gap``, ``relative_gap``, ``iterations`` and
      ``status`` describe the joint problem (scalars).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp
      >>> a, o = jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0)
      >>> vs = jnp.stack([ij.and_inverse(a), ij.reconstruct(a, o)])  # model 2 adds an OR term
      >>> fit = ij.fit_shared_and_or(vs, q_ratio=0.0, gamma_ratio=1.0, solver=ij.PDHG(tol=1e-3))
      >>> bool(fit.converged), [round(float(x), 2) for x in fit.and_[:, 3]]
      (True, [2.0, 2.0])
      >>> [round(float(x), 2) for x in fit.or_[:, 6]]
      [0.0, 1.0]
    """
    solver = solver_of(
        solver, deprecated, "fit_shared_and_or", allowed=("tol", "max_iters", "check_every")
    )
    if not isinstance(solver, PDHG):
        raise TypeError(
            "fit_shared_and_or runs the PDHG solver only: pass solver=ij.PDHG(...), got "
            f"{type(solver).__name__}"
        )
    if solver.iterate_dtype is not None:
        raise ValueError(
            "fit_shared_and_or iterates in the values' dtype: pass solver=ij.PDHG(...) with "
            f"iterate_dtype=None, got iterate_dtype={solver.iterate_dtype!r}"
        )
    if solver.order_weight is not None:
        raise ValueError(
            "fit_shared_and_or weighs every order alike (its joint problem has no order "
            "weights): pass solver=ij.PDHG(...) with order_weight=None, got "
            f"order_weight={solver.order_weight!r}"
        )
    vs = as_values(vs, "vs")
    if vs.ndim != 2:
        raise ValueError(
            f"vs must be (K models, 2**n): one value vector per model, got shape {vs.shape}"
        )
    q_ratio, solver, fold, eps = check_fit_settings(q_ratio, solver=solver, fold=fold, eps=eps)
    vs = check_nonempty(vs, "vs")
    alpha = check_real("alpha", alpha, low=0.0, what="the weight of the per-model L1 term")
    gamma_ratio = check_real(
        "gamma_ratio", gamma_ratio, low=0.0, what="the model-specific split's bound, e.g. 0.02"
    )
    vs = jnp.asarray(vs)
    vs = vs.astype(work_dtype(vs.dtype))
    spans = jnp.abs(vs[:, -1] - vs[:, 0])
    taus = q_ratio * spans
    bound = gamma_ratio * spans.mean()
    p, r, objective, lower, iterations, _ = solve_shared(
        vs,
        taus,
        alpha=alpha,
        bound=bound,
        tol=solver.tol,
        max_iters=solver.max_iters,
        check_every=solver.check_every,
    )
    return make_result(
        vs,
        vs.shape[:-1],
        p,
        r,
        objective,
        lower,
        iterations,
        jnp.asarray(int(FitStatus.ITERATION_CAP), jnp.int32),
        taus,
        q_ratio=q_ratio,
        solver=solver,
        fold=fold,
        eps=eps,
    )
