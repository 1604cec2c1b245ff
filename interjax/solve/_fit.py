"""``fit_and_or``: the sparse AND-OR interactions of value vectors (METHOD.md §3)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from interjax._core import (
    check_int,
    check_real,
    check_same_coalitions,
    check_values,
    refuse_nonfinite_values,
)
from interjax.masks import coalition_sizes, num_players_of
from interjax.solve._operators import operators
from interjax.solve._pdhg import (
    and_or_problem,
    dual_bound,
    pdhg_solve_pool,
    relative_gap,
    step_size,
)
from interjax.solve._result import AndOr
from interjax.solve._sgd import default_sgd, sgd_solve
from interjax.transform import noise_floor, work_dtype

__all__ = ["fit_and_or", "fold_or_into_and"]

SOLVERS = ("optimal", "sgd", "highs")
FOLDS = ("singletons", "empty")


def fold_or_into_and(and_, or_, fold: str = "singletons"):
    """Move OR terms of ∅ (and of single players) into AND: ``I_and(S) += I_or(S)``,
    ``I_or(S) = 0`` for ``|S| ≤ 1`` (one player's AND and OR are the same pattern).

    Universal matching is unchanged by the fold (METHOD.md §3). :func:`fit_and_or` applies it.

    Args:
      and_, or_: ``(..., 2**n)`` AND and OR interactions in bitmask order.
      fold: ``"singletons"`` (default, ``|S| ≤ 1``) or ``"empty"`` (only ``S = ∅``).

    Returns:
      ``(and_, or_)``, both ``(..., 2**n)``.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> and_, or_ = jnp.array([0.0, 1.0, 0.0, 2.0]), jnp.array([0.5, 0.0, 3.0, 4.0])
      >>> [x.tolist() for x in ij.fold_or_into_and(and_, or_)]
      [[0.5, 1.0, 3.0, 2.0], [0.0, 0.0, 0.0, 4.0]]
      >>> [x.tolist() for x in ij.fold_or_into_and(and_, or_, fold="empty")]
      [[0.5, 1.0, 0.0, 2.0], [0.0, 0.0, 3.0, 4.0]]
    """
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS}, got {fold!r}")
    and_, or_ = check_values(and_, "and_"), check_values(or_, "or_")
    check_same_coalitions([and_, or_], ["and_", "or_"])
    and_, or_ = jnp.asarray(and_), jnp.asarray(or_)
    n = num_players_of(and_.shape[-1])
    limit = 1 if fold == "singletons" else 0
    sel = (coalition_sizes(n) <= limit).reshape((1,) * (and_.ndim - 1) + (2**n,))
    return and_ + jnp.where(sel, or_, 0.0), jnp.where(sel, 0.0, or_)


def as_values(v, name: str = "v") -> jax.Array:
    """``v`` as one array; a list of value vectors of different lengths is refused clearly."""
    if isinstance(v, list | tuple):
        lengths = sorted({int(np.shape(x)[-1]) if np.ndim(x) else 0 for x in v})
        if len(lengths) > 1:
            raise ValueError(
                f"the value vectors have different lengths {lengths} (different n); a batch must "
                "share one n: fit each n separately."
            )
    return v if isinstance(v, jax.Array) else check_values(v, name)


def check_options(q_ratio, tol, solver, fold, max_iters, check_every=64):
    """The settings of a fit, checked before any work: ``(q_ratio, tol, max_iters,
    check_every)`` as Python numbers (hashable static arguments)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS}, got {fold!r}")
    q_ratio = check_real(
        "q_ratio", q_ratio, low=0.0, what="the error allowance relative to |v(N) - v(∅)|, e.g. 0.02"
    )
    tol = check_real("tol", tol, low=0.0, low_open=True, what="a relative duality gap, e.g. 1e-3")
    max_iters = check_int("max_iters", max_iters, what="an iteration cap, e.g. 50_000")
    check_every = check_int(
        "check_every", check_every, what="iterations between certificates, e.g. 64"
    )
    return q_ratio, tol, max_iters, check_every


def _validate(v, q_ratio, tol, solver, fold, max_iters, check_every=64, name="v"):
    """Options and values of a fit, before any work; returns the options as Python numbers."""
    options = check_options(q_ratio, tol, solver, fold, max_iters, check_every)
    v = check_values(v, name)
    if v.size == 0:
        raise ValueError(
            f"{name} of shape {tuple(v.shape)} holds no value vector; pass at least one (..., 2**n)"
        )
    if isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer):
        refuse_nonfinite_values(v, name)  # host copy: the fit reads v back anyway
    return options


def fit_and_or(
    v,
    q_ratio: float = 0.02,
    *,
    solver: str = "optimal",
    tol: float = 1e-3,
    max_iters: int = 50_000,
    check_every: int = 64,
    fold: str = "singletons",
    num_steps: int = 10_000,
    learning_rate: float = 1e-4,
    optimizer: optax.GradientTransformation | None = None,
    eps: float | None = None,
    iterate_dtype=None,
    lanes: int | None = None,
) -> AndOr:
    """Sparse AND-OR interactions of ``v``: split ``v`` into an AND part and an OR part (with a
    small error ``q``) that minimize the L1 norm of all interactions (METHOD.md §3; Li & Zhang
    2023, arXiv:2304.13312; Chen et al. 2024, arXiv:2401.16318; He et al. 2025,
    arXiv:2505.06993):

        v_and = ½(v+q) + γ,  v_or = ½(v+q) - γ,  |q| ≤ τ = q_ratio·|v(N) - v(∅)|,
        min_{γ,q}  Σ_S |I_and(S)| + Σ_S |I_or(S)|.

    Args:
      v: ``(2**n,)`` or ``(..., 2**n)`` values in bitmask order (from :func:`interjax.evaluate`).
      q_ratio: error allowance relative to ``|v(N) - v(∅)|`` (0.02 as in the lab's code; 0.04
        was also used there). ``0`` asks for an exact split.
      solver: ``"optimal"`` (default): restarted preconditioned PDHG that stops at a certified
        relative gap ``tol`` (see :mod:`interjax.solve._pdhg`), jitted and vmapped over the batch.
        ``"sgd"``: the lab's SGD schedule (momentum 0.9, learning rate decaying log-linearly to a
        tenth over ``num_steps``, or any ``optimizer``), to reproduce published numbers.
        ``"highs"``: the explicit LP solved by HiGHS (needs SciPy; small n, reference only).
      tol: relative duality gap at which ``"optimal"`` stops.
      max_iters: iteration cap of ``"optimal"``; hitting it gives ``converged=False`` and the gap
        reached, not an error.
      check_every: iterations between restart checks and certificates.
      fold: ``"singletons"`` (default) folds OR terms of ∅ and single players into AND;
        ``"empty"`` folds only ∅.
      num_steps, learning_rate, optimizer: the ``"sgd"`` schedule. The default learning rate
        1e-4 is ours (the published code's is not stated in METHOD.md); the objective's gradient
        does not scale with v, so pass a learning rate suited to the size of your values.
      eps: relative precision of the values for the noise floor (default float32's).
      iterate_dtype: dtype of the ``"optimal"`` solver's iterations (default: that of ``v``,
        float64 with x64 on). ``jnp.float32`` halves the memory traffic; the certificate is
        still computed in ``v``'s dtype, so ``gap`` stays a valid bound, but the reachable gap
        is limited by float32 rounding (about 1e-5 relative).

      lanes: how many fits ``"optimal"`` runs side by side (vmapped); a lane takes the next
        fit of the batch as soon as its own has converged, so a batch costs about the sum of its
        fits' iterations divided by ``lanes``, not ``B`` times the slowest fit. Default
        :func:`default_lanes` (128 at n = 10 on CPU). Each fit takes the same iterations
        whatever the width (results agree to rounding).

    Returns:
      :class:`AndOr` with interactions, ``γ``, ``q``, objective, certified ``gap``, ``converged``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)
      >>> bool(fit.converged), round(float(fit.and_[3]), 3), round(float(fit.or_[6]), 3)
      (True, 2.0, 1.0)
    """
    v = as_values(v)
    q_ratio, tol, max_iters, check_every = _validate(
        v, q_ratio, tol, solver, fold, max_iters, check_every
    )
    if lanes is not None:
        lanes = check_int("lanes", lanes, what="fits run side by side, or None for the default")
    if iterate_dtype is not None:
        iterate_dtype = _float_dtype(iterate_dtype)
    if eps is not None:
        eps = check_real("eps", eps, low=0.0, what="the relative error of the values, e.g. 1.2e-7")
    if solver == "sgd":
        num_steps = check_int("num_steps", num_steps, what="SGD steps, e.g. 10_000")
        if optimizer is None:
            learning_rate = check_real(
                "learning_rate", learning_rate, low=0.0, low_open=True, what="e.g. 1e-4"
            )
    v = jnp.asarray(v)
    v = v.astype(work_dtype(v.dtype))
    n = num_players_of(v.shape[-1])
    lead = v.shape[:-1]
    flat = v.reshape(-1, 2**n)
    tau = q_ratio * jnp.abs(flat[:, -1] - flat[:, 0])
    if solver == "optimal":
        p, r, objective, lower, iterations = _solve_optimal(
            flat,
            tau,
            eta=step_size(n),
            tol=float(tol),
            max_iters=max_iters,
            check_every=check_every,
            iterate_dtype=None if iterate_dtype is None else jnp.dtype(iterate_dtype).name,
            lanes=default_lanes(n) if lanes is None else int(lanes),
        )
    elif solver == "sgd":
        opt = optimizer or default_sgd(learning_rate, num_steps)
        p, r, objective, lower, iterations = _solve_sgd(flat, tau, opt, num_steps)
    else:
        p, r, objective, lower, iterations = _solve_highs(flat, tau)
    return make_result(
        flat,
        tuple(lead),
        p,
        r,
        objective,
        lower,
        iterations,
        tau,
        q_ratio=q_ratio,
        solver=solver,
        fold=fold,
        tol=tol,
        eps=eps,
    )


def _float_dtype(dtype):
    """``iterate_dtype`` as a float dtype, or a clear error."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"iterate_dtype must be a float dtype (jnp.float32 or jnp.float64) or None, got "
            f"{dtype!r}"
        )
    return dt


@functools.partial(jax.jit, static_argnames=("lead", "q_ratio", "solver", "fold", "tol", "eps"))
def make_result(
    flat, lead, p, r, objective, lower, iterations, tau, *, q_ratio, solver, fold, tol, eps
) -> AndOr:
    """Interactions, fold, certificate and noise floors of a solved split ``(p, r)``.

    One compiled program: run eagerly, its n-stage transforms would compile each small
    operation separately on a first call (about a hundred compilations, seconds on a CPU).
    """
    n = num_players_of(flat.shape[-1])
    op = operators(n)
    and_, or_ = fold_or_into_and(op.M(p), op.O(r), fold)
    rel = relative_gap(objective, lower)

    def shape(x):
        return x.reshape(*lead, *x.shape[1:]) if x.ndim and x.shape[0] == flat.shape[0] else x

    return AndOr(
        and_=shape(and_),
        or_=shape(or_),
        gamma=shape((p - r) / 2),
        q=shape(jnp.clip(p + r - flat, -tau[:, None], tau[:, None])),
        objective=shape(objective),
        lower_bound=shape(lower),
        gap=shape(jnp.maximum(objective - lower, 0.0)),
        relative_gap=shape(rel),
        iterations=shape(iterations),
        converged=shape(rel <= tol),
        tau=shape(tau),
        noise_floor_and=shape(noise_floor(flat, kind="and", eps=eps)),
        noise_floor_or=shape(noise_floor(flat, kind="or", eps=eps)),
        q_ratio=float(q_ratio),
        solver=solver,
        fold=fold,
        tol=float(tol),
    )


def default_lanes(n: int) -> int:
    """Width of the solver pool: about 2^17 vector entries per pass on CPU (128 lanes at n = 10,
    the fastest per fit there), 2^22 on accelerators; at least 1."""
    per_pass = 2**17 if jax.default_backend() == "cpu" else 2**22
    return max(1, per_pass >> n)


@functools.partial(
    jax.jit, static_argnames=("eta", "tol", "max_iters", "check_every", "iterate_dtype", "lanes")
)
def _solve_optimal(flat, tau, *, eta, tol, max_iters, check_every, iterate_dtype=None, lanes):
    def build(data):
        return and_or_problem(*data, iterate_dtype)

    best_z, objective, lower, iterations = pdhg_solve_pool(
        build,
        (flat, tau),
        eta=eta,
        tol=tol,
        max_iters=max_iters,
        check_every=check_every,
        lanes=lanes,
    )
    return best_z[:, 0], best_z[:, 1], objective, lower, iterations


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps"))
def _solve_sgd(flat, tau, optimizer, num_steps):
    n = flat.shape[-1].bit_length() - 1
    op = operators(n)

    def one(v, t):
        p, r, _, _ = sgd_solve(v, t, optimizer=optimizer, num_steps=num_steps)
        objective = jnp.abs(op.M(p)).sum() + jnp.abs(op.O(r)).sum()
        # a dual point from the subgradient signs at the end: a valid lower bound, often loose
        cands = (-op.MT(jnp.sign(op.M(p))), -op.OT(jnp.sign(op.O(r))))
        lower = jnp.max(jnp.stack([dual_bound(op, c, v, t) for c in cands]))
        return p, r, objective, lower, jnp.asarray(num_steps, jnp.int32)

    return jax.vmap(one)(flat, tau)


def _solve_highs(flat, tau):
    from interjax.solve._highs import solve_lp_highs

    n = flat.shape[-1].bit_length() - 1
    op = operators(n)
    ps, rs, objs, lows = [], [], [], []
    for v, t in zip(np.asarray(flat), np.asarray(tau), strict=True):
        sol = solve_lp_highs(v, float(t))
        ps.append(np.asarray(op.Z(jnp.asarray(sol.and_))))
        rs.append(np.asarray(op.B(jnp.asarray(sol.or_))))
        lam = jnp.asarray(sol.duals)
        lows.append(
            max(
                float(dual_bound(op, lam, jnp.asarray(v), t)),
                float(dual_bound(op, -lam, jnp.asarray(v), t)),
            )
        )
        objs.append(sol.objective)
    p, r = jnp.asarray(np.stack(ps)), jnp.asarray(np.stack(rs))
    # HiGHS satisfies the box to its own tolerance: make (p, r) exactly feasible as PDHG does
    resid = p + r - flat
    p = p - (resid - jnp.clip(resid, -tau[:, None], tau[:, None]))
    objective = jnp.abs(op.M(p)).sum(-1) + jnp.abs(op.O(r)).sum(-1)
    lower = jnp.minimum(jnp.asarray(lows), objective)
    return p, r, objective, lower, jnp.zeros(len(ps), jnp.int32)
