"""``fit_and_or``: the sparse AND-OR interactions of value vectors (docs/method.md §3)."""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import (
    check_real,
    check_same_coalitions,
    check_values,
    num_players_of,
    refuse_nonfinite_values,
)
from interjax.masks import coalition_sizes
from interjax.solve._operators import operators
from interjax.solve._pdhg import non_finite, relative_gap
from interjax.solve._result import AndOr, FitStatus
from interjax.solve._solvers import DEFAULT_SOLVER, PDHG, SGD, SOLVERS, HiGHS
from interjax.transform import noise_floor, work_dtype

__all__ = ["check_fit_settings", "fit_and_or", "fold_or_into_and"]

SOLVER_NAMES = ("optimal", "sgd", "highs")  # the deprecated keyword form
FOLDS = ("singletons", "empty")


def fold_or_into_and(and_, or_, fold: str = "singletons"):
    """Move OR terms of ∅ (and of single players) into AND: ``I_and(S) += I_or(S)``,
    ``I_or(S) = 0`` for ``|S| ≤ 1`` (one player's AND and OR are the same pattern).

    Universal matching is unchanged by the fold (docs/method.md §3). :func:`fit_and_or` applies it.

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


# the flat options of the keyword form (deprecated), by the solver object that now takes them
_PDHG_OPTIONS = ("tol", "max_iters", "check_every", "iterate_dtype", "lanes")
_SGD_OPTIONS = ("num_steps", "learning_rate", "optimizer")


def check_fit_settings(
    q_ratio: float = 0.02, *, solver=DEFAULT_SOLVER, fold: str = "singletons", eps=None
):
    """The settings of a fit, checked before any work (the solver object checked its own when it
    was made): returns ``(q_ratio, solver, fold, eps)`` as hashable Python values.

    Example:
      >>> import interjax as ij
      >>> q_ratio, solver, fold, eps = ij.solve.check_fit_settings(0.02, solver=ij.PDHG(tol=1e-2))
      >>> q_ratio, solver.tol, fold, eps
      (0.02, 0.01, 'singletons', None)
      >>> ij.solve.check_fit_settings(-1.0)
      Traceback (most recent call last):
      ...
      ValueError: q_ratio must be a finite number >= 0 (the error allowance relative to |v(N) - v(∅)|, e.g. 0.02), got -1.0
    """  # noqa: E501
    if not isinstance(solver, SOLVERS):
        raise TypeError(
            "solver must be a solver object, ij.PDHG(...) (default), ij.SGD(...) or "
            f"ij.HiGHS(...), got {type(solver).__name__} {solver!r}"
        )
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS}, got {fold!r}")
    q_ratio = check_real(
        "q_ratio", q_ratio, low=0.0, what="the error allowance relative to |v(N) - v(∅)|, e.g. 0.02"
    )
    if eps is not None:
        eps = check_real("eps", eps, low=0.0, what="the relative error of the values, e.g. 1.2e-7")
    return q_ratio, solver, fold, eps


def solver_of(solver, options: dict, where: str, allowed=_PDHG_OPTIONS + _SGD_OPTIONS):
    """The solver object of a call, mapping the deprecated keyword form onto the objects.

    ``solver="optimal"|"sgd"|"highs"`` and the flat options (``tol=``, ``max_iters=``...) warn
    with a :class:`DeprecationWarning` and build :class:`PDHG`, :class:`SGD` or :class:`HiGHS`;
    as before, ``tol``, ``max_iters``, ``check_every``, ``iterate_dtype`` and ``lanes`` are
    checked whatever the solver, the SGD options only for ``"sgd"``.
    """
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
    if isinstance(solver, str):
        if solver not in SOLVER_NAMES:
            raise ValueError(
                f"solver must be a solver object (ij.PDHG(), ij.SGD(), ij.HiGHS()); the "
                f"deprecated names are {SOLVER_NAMES}, got {solver!r}"
            )
        name = solver
    elif not options:
        return solver
    elif solver is not DEFAULT_SOLVER:
        raise TypeError(
            f"{where}() got a solver object and the flat options {sorted(options)}: put them in "
            f"the object, e.g. solver=ij.PDHG(tol=1e-2, max_iters=20_000)"
        )
    else:
        name = "optimal"
    if name == "sgd":
        new = "solver=ij.SGD(num_steps=..., learning_rate=..., optimizer=...)"
    else:
        new = {"optimal": "solver=ij.PDHG(tol=..., max_iters=...)", "highs": "solver=ij.HiGHS()"}
        new = new[name]
    old = [f"solver={solver!r}"] * isinstance(solver, str) + [f"{k}=..." for k in options]
    warnings.warn(
        f"{where}({', '.join(old)}) is deprecated and will be removed in the next release: pass "
        f"{new}",
        DeprecationWarning,
        stacklevel=3,
    )
    pdhg = PDHG(**{k: options[k] for k in _PDHG_OPTIONS if k in options})
    if name == "optimal":
        return pdhg
    if name == "sgd":
        return SGD(tol=pdhg.tol, **{k: options[k] for k in _SGD_OPTIONS if k in options})
    return HiGHS(tol=pdhg.tol)


def check_nonempty(v, name: str = "v"):
    """Values of a fit, before any work: real, ``(..., 2**n)``, at least one, finite."""
    v = check_values(v, name)
    if v.size == 0:
        raise ValueError(
            f"{name} of shape {tuple(v.shape)} holds no value vector; pass at least one (..., 2**n)"
        )
    if isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer):
        refuse_nonfinite_values(v, name)  # host copy: the fit reads v back anyway
    return v


def fit_and_or(
    v,
    q_ratio: float = 0.02,
    *,
    solver: PDHG | SGD | HiGHS = DEFAULT_SOLVER,
    fold: str = "singletons",
    eps: float | None = None,
    **deprecated,
) -> AndOr:
    """Sparse AND-OR interactions of ``v``: split ``v`` into an AND part and an OR part (with a
    small error ``q``) that minimize the L1 norm of all interactions (docs/method.md §3; Li & Zhang
    2023, arXiv:2304.13312; Chen et al. 2024, arXiv:2401.16318; He et al. 2025,
    arXiv:2505.06993):

        v_and = ½(v+q) + γ,  v_or = ½(v+q) - γ,  |q| ≤ τ = q_ratio·|v(N) - v(∅)|,
        min_{γ,q}  Σ_S |I_and(S)| + Σ_S |I_or(S)|.

    Args:
      v: ``(2**n,)`` or ``(..., 2**n)`` values in bitmask order (from :func:`interjax.evaluate`).
      q_ratio: error allowance relative to ``|v(N) - v(∅)|`` (0.02 as in the lab's code; 0.04
        was also used there). ``0`` asks for an exact split.
      solver: a frozen solver object holding its own settings. :class:`PDHG` (default):
        restarted preconditioned PDHG that stops at a certified relative gap ``tol``, jitted and
        run over the batch on a pool of vmapped lanes (composes with ``jax.jit``/``jax.vmap``).
        :class:`SGD`: the lab's schedule, to reproduce published numbers. :class:`HiGHS`: the
        explicit LP solved by SciPy's HiGHS (small n, reference only, eager only).
      fold: ``"singletons"`` (default) folds OR terms of ∅ and single players into AND;
        ``"empty"`` folds only ∅.
      eps: relative precision of the values for the noise floor (default float32's).
      **deprecated: the keyword form of earlier releases, ``solver="optimal"|"sgd"|"highs"``
        with ``tol``, ``max_iters``, ``check_every``, ``iterate_dtype``, ``lanes``,
        ``num_steps``, ``learning_rate``, ``optimizer``: still mapped onto the objects for one
        release, with a :class:`DeprecationWarning` (every caller in interjax uses the objects);
        mixing a solver object with them is a :class:`TypeError`.

    Returns:
      :class:`AndOr` with interactions, ``γ``, ``q``, objective, certified ``gap``, ``status``
      (a :class:`FitStatus` per fit; ``converged`` is ``status == CONVERGED``) and the solver.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)
      >>> bool(fit.converged), round(float(fit.and_[3]), 3), round(float(fit.or_[6]), 3)
      (True, 2.0, 1.0)
      >>> capped = ij.fit_and_or(v, solver=ij.PDHG(tol=1e-9, max_iters=64))
      >>> ij.FitStatus(int(capped.status)).name, int(capped.iterations)
      ('ITERATION_CAP', 64)
    """
    solver = solver_of(solver, deprecated, "fit_and_or")
    q_ratio, solver, fold, eps = check_fit_settings(q_ratio, solver=solver, fold=fold, eps=eps)
    v = check_nonempty(as_values(v))
    flat, tau = _flat_and_tau(v, q_ratio)
    p, r, objective, lower, iterations, reason = solver.solve(flat, tau)
    return make_result(
        flat,
        tuple(jnp.shape(v)[:-1]),
        p,
        r,
        objective,
        lower,
        iterations,
        reason,
        tau,
        q_ratio=q_ratio,
        solver=solver,
        fold=fold,
        eps=eps,
    )


@jax.jit
def _flat_and_tau(v, q_ratio):
    """The fits ``(B, 2**n)`` in the working dtype and their allowances
    ``τ = q_ratio · |v(N) - v(∅)|``, as one program (eagerly, five small ones on a first call)."""
    flat = v.astype(work_dtype(v.dtype)).reshape(-1, v.shape[-1])
    return flat, q_ratio * jnp.abs(flat[:, -1] - flat[:, 0])


@functools.partial(jax.jit, static_argnames=("lead", "q_ratio", "solver", "fold", "eps"))
def make_result(
    flat, lead, p, r, objective, lower, iterations, reason, tau, *, q_ratio, solver, fold, eps
) -> AndOr:
    """Interactions, fold, certificate, status and noise floors of a solved split ``(p, r)``.

    ``status``: ``NON_FINITE`` where the certificate is not finite, else ``CONVERGED`` where
    ``relative_gap ≤ solver.tol``, else the solver's ``reason`` (e.g. ``ITERATION_CAP``).

    One compiled program: run eagerly, its n-stage transforms would compile each small
    operation separately on a first call (about a hundred compilations, seconds on a CPU).
    """
    n = num_players_of(flat.shape[-1])
    op = operators(n)
    and_, or_ = fold_or_into_and(op.M(p), op.O(r), fold)
    rel = relative_gap(objective, lower)
    status = jnp.where(
        non_finite(objective, lower),
        int(FitStatus.NON_FINITE),
        jnp.where(rel <= solver.tol, int(FitStatus.CONVERGED), reason),
    ).astype(jnp.int32)

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
        status=shape(status),
        tau=shape(tau),
        noise_floor_and=shape(noise_floor(flat, kind="and", eps=eps)),
        noise_floor_or=shape(noise_floor(flat, kind="or", eps=eps)),
        q_ratio=float(q_ratio),
        solver=solver,
        fold=fold,
        tol=float(solver.tol),
    )
