"""The default ``solver=ij.PDHG()``: restarted, preconditioned PDHG with a duality-gap certificate.

Problem (docs/method.md §3), in the value domain ``p = v_and``, ``r = v_or``:

    min_{p, r}  ‖M p‖₁ + ‖O r‖₁    s.t.   v - τ ≤ p + r ≤ v + τ,

with ``M`` the Möbius (AND) and ``O`` the OR transform. It is a linear program. We write it as
``min_z Σ_k g_k(K_k z)`` with ``K z = (M p, O r, p + r)``, ``g₁ = g₂ = ‖·‖₁`` and ``g₃`` the box
indicator, and run the primal-dual hybrid gradient method (Chambolle & Pock 2011) on it:

    z⁺ = z - (η/ω) T Kᵀ λ,        λ⁺ = prox_{ηω g*}(λ + ηω K(2z⁺ - z)).

Choices, made by measurement against HiGHS at n = 8 and 10 (planted models plus noise):

* all of the objective lives on the dual side, so the primal step needs no prox and can use a
  non-diagonal preconditioner: ``T = diag((MᵀM + I)^{-1}, (RMᵀMR + I)^{-1})``, applied exactly
  in O(n·2^n) because ``MᵀM`` is a Kronecker product. ``M`` has condition number ≈ 2.6^n; with
  ``T`` the preconditioned operator has ``‖K T^{½}‖² ≈ 2.1`` for every n. This cut the
  iterations to a 1e-3 gap by 2-3x against Pock-Chambolle diagonal scaling of the
  interaction-space LP;
* reflected Halpern iterations ``w⁺ = (k+1)/(k+2)·(2𝒯(w) - w) + 1/(k+2)·w₀`` with adaptive
  restarts on the fixed-point residual ``‖w - 𝒯(w)‖`` (Lu & Yang 2024, cuPDLP+) and the primal
  weight ``ω`` rebalanced at each restart (as in PDLP, Applegate et al. 2021). Against restarts
  to the running average this cut the iterations by a third (n = 10: mean 10.1k vs 15.8k, max
  16.1k vs 34.4k over 16 planted samples). cuPDLP+'s artificial restart (after 36% of all
  iterations) and step ``0.95/‖K T^{½}‖`` became 20% and ``0.99/‖K T^{½}‖``: 7-24% fewer
  iterations at n = 8-14, none fewer on network values at n = 12 to 1e-2 (the numbers are
  at the constants below);
* order weights: the interaction of ``S`` weighs ``w^|S|`` in ``K`` (``w = 1.2`` up to n = 10,
  1.25 beyond), so the dual boxes shrink with the order and the preconditioner becomes
  ``(MᵀW²M + c²I)^{-1}``, still a Kronecker product; the primal weight starts at ``4/std(v)``
  (the iterations then do not depend on the scale of ``v``) and stays within 10x of it. To a
  1e-3 gap this took 3-49% fewer iterations at n = 8-10 and 48-59% fewer at n = 12 (the numbers
  are at ``ORDER_WEIGHT``) on values with few, low-order interactions, and 2.4-4.3x more on
  unstructured ones (noise, saturated logits; at n = 12 some never converged), so each fit
  probes the order weight and weight 1 for 256 iterations each and goes on with the one whose
  gap is clearly smaller (:class:`Probe`, ``PROBE_CHECKS``);
* the box block weighted by ``c = 0.5`` (``K₃z = c(p + r)``, the preconditioner then
  ``(MᵀM + c²I)^{-1}``): a diagonal rescaling of one dual block, so the optimum does not move;
  against ``c = 1`` the iterations to a 1e-3 gap fell by 5% (n = 8), 13% (n = 10: mean 9.2k →
  8.0k, max 13.9k → 11.3k, 16 planted samples with 1% noise) and 13% (n = 12: mean 21.7k →
  18.8k, 4 samples); ``c = 2`` and ``4`` doubled and sextupled them at n = 8;
* a certificate every ``check_every`` iterations: the primal iterate is made exactly feasible
  (``q`` clipped into its box, the excess moved into ``p``, or for coalitions of order < n/2 into
  ``r``, where it spreads over 2^{|T|} instead of 2^{n-|T|} interactions; the cheaper of the two
  kept: n = 10, to a 1e-2 gap, 16-18% fewer iterations on noisy planted and MLP values, 3-9%
  to 1e-3, where the dual bound is what lags) and its objective ``P`` computed; several
  dual candidates (``λ₃``, ``-Mᵀλ₁``, ``-Oᵀλ₂`` and means) are scaled to dual feasibility
  (``‖Zᵀλ‖∞ ≤ 1``, ``‖Bᵀλ‖∞ ≤ 1``) and the best value ``D = -Σ max(λ(v+τ), λ(v-τ))`` kept. Weak
  duality gives ``D ≤ optimum ≤ P``: the reported gap ``P - D`` is a bound on the distance to the
  optimum, whatever the iterates did.

The engine below is generic: a :class:`Problem` supplies ``K``, ``Kᵀ``, ``T``, the dual prox and
the certificate, so the shared extraction across models (:mod:`interjax.solve._shared`) runs the
same loop. The loop is an ``(init, update)`` pair over a NamedTuple state under
``lax.while_loop``; iterates may be any pytree; batches ride ``vmap`` (a converged sample stops
changing while the others go on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from interjax._caches import cache_dict
from interjax._core import num_players_of
from interjax.masks import orders
from interjax.solve._operators import Operators, operators

__all__ = [
    "PDHGState",
    "Probe",
    "Problem",
    "and_or_problem",
    "dual_bound",
    "non_finite",
    "operator_step",
    "order_weight",
    "order_weight_probe",
    "pdhg_init",
    "pdhg_solve",
    "pdhg_solve_pool",
    "pdhg_update",
    "power_step_size",
    "relative_gap",
    "step_size",
]

# η = safety / ‖K T^{½}‖ and a restart once the iterations since the last restart reach
# _RESTART_ARTIFICIAL of all iterations. cuPDLP+'s 0.36 (with 0.95) left the residual criteria
# almost idle here: the artificial one set a restart every ~1.56x iterations, and 0.2 (every
# ~1.25x) with 0.99 took fewer iterations on the 2-core CPU (scratch runs, mean iterations):
# n = 8 to 1e-3, 32 planted 2238 → 1840, 32 MLP 1136 → 966; n = 10 to 1e-3, 16 planted 7576 →
# 6480, 32 MLP 3708 → 3164; to 1e-2, 32 MLP 1540 → 1424; n = 12 to 1e-3, 8 planted 17144 →
# 15848, to 1e-2, 8 network values 4296 → 4296; n = 14, 2 planted 44160 → 33408
_STEP_SAFETY = 0.99
_RESTART_SUFFICIENT = 0.2
_RESTART_ARTIFICIAL = 0.2
# PDLP's necessary restart: n = 10, 16 planted fits with 1% noise, c = 0.5: mean 7972 → 7820
# iterations, max 11264 → 10496
RESTART_NECESSARY = 0.8
# weight c of the box block K₃z = c(p + r): 0.5 took 5-19% fewer iterations than 1 to a 1e-3 gap
# (n = 8, 10, 12; planted models plus noise), 2 and 4 took 2x and 6x more
BOX_WEIGHT = 0.5
# order weights w (n ≤ 10, n ≥ 11): the interaction of S weighs w^|S| in K (the dual boxes of blocks
# 1 and 2 become |λ| ≤ w^-|S|, the preconditioner (MᵀW²M + c²I)^{-1}), and the primal weight starts
# at 4/std(v) and stays within 10x of it. Mean iterations to 1e-3 on the 2-core CPU, against w = 1
# with a weight from 1 and unbounded (scratch runs): n = 8, 32 planted 1840 → 1458, 32 MLP 966 →
# 938; n = 10, 32 planted 6188 → 3142, 32 MLP 3164 → 2734, to 1e-2 1424 → 1122; n = 12, 8 planted
# 15848 → 8272, 8 CNN 10080 → 4104; n = 14, 2 planted 33408 → 23680; held out (seed 1, not used to
# choose): n = 10, 32 MLP 3030 → 1816, 32 planted 6472 → 3186; n = 12, 8 CNN 8528 → 3896, 8 planted
# 15840 → 7480. Larger w took fewer iterations on planted values and more on network values (n = 10,
# w = 1.25: 3160 and 3076); w = 1.35 left some fits 3-4x slower at n = 12 and 14. Without the range
# a weight w > 1 let some fits' ω run away (n = 10, w = 1.25, one MLP fit 4480 → 35200 iterations, ω
# at 4·10⁵), and a range around a fixed start of 1 made the iterations depend on the scale of v (MLP
# values x 0.01: 28686 iterations). The weights rank the dual blocks, not the objective: the optimum
# does not move
ORDER_WEIGHT = (1.2, 1.25)
# the probe between the order weight and 1 (order_weight_probe): the order weight runs 4 checks
# (256 iterations), then weight 1 as many from its own start, and weight 1 goes on if its gap is
# below 1/1.25 of the order weight's. The order weight took 1.3-2.5x fewer iterations than 1 on
# values with few, low-order interactions (network values, planted models) and 2.4-4.3x more on
# unstructured ones (Gaussian or heavy-tailed noise, saturated logits), where at n = 12 it
# reached a 40k cap (every Gaussian-noise fit, 3 of 8 saturated-logit fits) that weight 1 met
# in 8-29k; the gaps at equal counts tell them apart. Chosen on the gap histories of both arms
# (2-core CPU, scratch runs, 1e-3 and 1e-2, n = 10: 32 planted, 32 MLP, 12 each Gaussian,
# Student-t and saturated; n = 12: 8 of each but Student-t): the mean iterations stayed within
# 1.26x of the better weight for every kind (1.25x on planted values at n = 10 and 1e-2, 1.23x at
# n = 12 and 1e-3), where the order weight alone took up to 3.4x (Gaussian noise, n = 10) or
# capped, and weight 1 alone 2.4x (network values, n = 12). 2 or 3 checks, ratios 1, 1.5, 2 and
# comparing at every check instead of the last did no better (up to 1.30x)
PROBE_CHECKS = 4
PROBE_RATIO = 1.25
_OMEGA_SCALE = 4.0
_OMEGA_RANGE = 10.0
# up to this n the PDHG step applies M and O (and their transposes and Gram inverses) as one
# stacked butterfly each, the same arithmetic (XLA may fuse it differently: fits agree to
# ~1e-12). benchmarks/bench_solver_paired.py, 2-core CPU (3a1004e): XLA compiled the solve in
# 3.0 s instead of 3.8 s at n = 10 (3.5 s instead of 4.3 s at n = 12) and an iteration took 20%
# less at n = 10 and 12% less at n = 12; at n = 14 it took the same wall time for 49% more CPU
# time (XLA ran the stacked passes on both cores, which a second device would want), so from
# n = 13 on the step applies them one by one. The certificate always stacks its candidates
PAIRED_MAX_N = 12


class Problem(NamedTuple):
    """``min_z Σ_j g_j(K_j z)`` for the engine: all functions act on pytrees of arrays.

    ``T`` is the (SPD) primal preconditioner; ``prox_dual(μ, σ) = prox_{σ g*}(μ)``;
    ``certify(z, λ) -> (z_feasible, objective, lower_bound)`` with ``lower ≤ optimum ≤ objective``.
    ``primal_weight`` is where the primal weight ω starts (a scalar, may be traced) and
    ``primal_weight_range`` the factor within which its rebalancing keeps it (default: none).
    """

    K: Callable[[Any], Any]
    KT: Callable[[Any], Any]
    T: Callable[[Any], Any]
    prox_dual: Callable[[Any, Any], Any]
    certify: Callable[[Any, Any], tuple[Any, jax.Array, jax.Array]]
    primal_weight: Any = 1.0  # ω at the start
    primal_weight_range: float = float("inf")  # ω stays within this factor of its start


class PDHGState(NamedTuple):
    z: Any  # primal iterate
    lam: Any  # dual iterate
    z_anchor: Any  # Halpern anchor: the iterate at the last restart
    lam_anchor: Any
    count: jax.Array  # iterations since the last restart
    omega: jax.Array  # primal weight
    restart_residual: jax.Array  # fixed-point residual at the last restart
    last_residual: jax.Array  # fixed-point residual at the last check
    iteration: jax.Array
    best_z: Any  # best feasible primal so far
    best_objective: jax.Array
    best_lower: jax.Array
    omega_start: jax.Array  # ω at the start: its rebalancing stays within a range around it


def _tmap(f, *trees):
    return jax.tree.map(f, *trees)


def _sq(tree) -> jax.Array:
    return sum(jnp.sum(x**2) for x in jax.tree.leaves(tree))


def operator_step(key, problem: Problem, lam_example) -> float:
    """``η = 0.99 / ‖K T^{½}‖`` by power iteration on ``K T Kᵀ`` (cached on ``key``: the
    operators depend on the shapes only, never on the data)."""
    if key not in _STEP_SIZES:
        _STEP_SIZES[key] = _power_step(problem, lam_example)
    return _STEP_SIZES[key]


_STEP_SIZES = cache_dict("solve.step_size")


def _power_step(problem: Problem, lam_example) -> float:
    with jax.ensure_compile_time_eval(), jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x = _tmap(lambda a: jnp.asarray(rng.normal(size=a.shape)), lam_example)
        kk = jax.jit(lambda y: problem.K(problem.T(problem.KT(y))))
        for _ in range(60):
            x = kk(x)
            nrm = jnp.sqrt(_sq(x))
            x = _tmap(lambda a, nrm=nrm: a / nrm, x)
        norm2 = float(jnp.sqrt(_sq(kk(x))))
    return float(_STEP_SAFETY / np.sqrt(norm2 * 1.02))


def pdhg_init(problem: Problem, z, lam) -> PDHGState:
    z_feasible, objective, _ = problem.certify(z, lam)
    dtype = objective.dtype
    omega = jnp.asarray(problem.primal_weight, dtype)
    return PDHGState(
        z,
        lam,
        z,
        lam,
        jnp.zeros((), jnp.int32),
        omega,
        jnp.full((), jnp.inf, dtype),
        jnp.full((), jnp.inf, dtype),
        jnp.zeros((), jnp.int32),
        z_feasible,
        objective,
        jnp.full((), -jnp.inf, dtype),
        omega,
    )


def pdhg_update(
    problem: Problem,
    state: PDHGState,
    eta: float,
    check_every: int = 64,
    restart_necessary: float = RESTART_NECESSARY,
) -> PDHGState:
    """``check_every`` reflected Halpern PDHG iterations with step ``eta``, then the restart
    logic and the certificate.

    Restart (to the PDHG image of the current iterate) when the fixed-point residual fell to
    ``0.2×`` its value at the last restart, or to ``restart_necessary×`` it and rose since the
    last check (no more progress; PDLP's necessary criterion, 0 turns it off), or after 20% of
    all iterations so far."""
    omega = state.omega
    dt = jax.tree.leaves(state.z)[0].dtype  # iterates may be float32 while scalars are not

    def step(z, lam):
        tp, sd = (eta / omega).astype(dt), (eta * omega).astype(dt)
        g = problem.T(problem.KT(lam))
        z_new = _tmap(lambda a, b: a - tp * b, z, g)
        kz = problem.K(_tmap(lambda a, b: 2.0 * a - b, z_new, z))
        lam_new = problem.prox_dual(_tmap(lambda a, b: a + sd * b, lam, kz), sd)
        return z_new, lam_new

    def halpern(x, tx, anchor, c):
        return _tmap(lambda a, t, w: c * (2.0 * t - a) + (1.0 - c) * w, x, tx, anchor)

    def body(_, carry):
        z, lam, k = carry
        tz, tl = step(z, lam)
        c = ((k + 1.0) / (k + 2.0)).astype(dt)
        return (halpern(z, tz, state.z_anchor, c), halpern(lam, tl, state.lam_anchor, c), k + 1.0)

    z, lam, _ = jax.lax.fori_loop(
        0, check_every, body, (state.z, state.lam, state.count.astype(omega.dtype))
    )
    count = state.count + check_every
    iteration = state.iteration + check_every
    tz, tl = step(z, lam)  # the PDHG image of the Halpern iterate is the solution estimate
    residual = jnp.sqrt(
        omega * _sq(_tmap(jnp.subtract, tz, z)) + _sq(_tmap(jnp.subtract, tl, lam)) / omega
    )
    restart = (
        (residual <= _RESTART_SUFFICIENT * state.restart_residual)
        | (
            (residual <= restart_necessary * state.restart_residual)
            & (residual > state.last_residual)
        )
        | (count >= _RESTART_ARTIFICIAL * iteration)
    )
    # primal weight: balance the distances moved since the last restart (PDLP)
    dz = jnp.sqrt(_sq(_tmap(jnp.subtract, tz, state.z_anchor)))
    dl = jnp.sqrt(_sq(_tmap(jnp.subtract, tl, state.lam_anchor)))
    moved = (dz > 1e-12) & (dl > 1e-12)
    ratio = jnp.where(moved, dl, 1.0) / jnp.where(moved, dz, 1.0)
    omega_new = jnp.where(moved, jnp.sqrt(ratio * omega), omega)
    if problem.primal_weight_range != float("inf"):  # static: no clip where there is no range
        bound = problem.primal_weight_range
        omega_new = jnp.clip(omega_new, state.omega_start / bound, state.omega_start * bound)

    def pick(a, b):
        return _tmap(lambda x, y: jnp.where(restart, x, y), a, b)

    moved_on = state._replace(
        z=pick(tz, z),
        lam=pick(tl, lam),
        z_anchor=pick(tz, state.z_anchor),
        lam_anchor=pick(tl, state.lam_anchor),
        count=jnp.where(restart, 0, count),
        omega=jnp.where(restart, omega_new, omega),
        restart_residual=jnp.where(restart, residual, state.restart_residual),
        last_residual=residual,
        iteration=iteration,
    )
    return _with_best(moved_on, *problem.certify(tz, tl))


def non_finite(objective, lower) -> jax.Array:
    """Whether a certificate broke down: a NaN or infinite objective, or a NaN or +inf lower
    bound (the running best keeps a NaN once one appears: min and max propagate it)."""
    return ~jnp.isfinite(objective) | jnp.isnan(lower) | (lower == jnp.inf)


def relative_gap(objective, lower):
    scale = jnp.maximum(jnp.abs(objective), jnp.finfo(objective.dtype).tiny)
    return jnp.where(objective <= lower, 0.0, (objective - lower) / scale)


def pdhg_solve(
    problem: Problem, z, lam, *, eta: float, tol: float, max_iters: int, check_every: int = 64
) -> PDHGState:
    """Iterate until ``relative_gap ≤ tol``, ``max_iters`` or a non-finite certificate
    (vmappable)."""

    def cond(state):
        gap = relative_gap(state.best_objective, state.best_lower)
        broken = non_finite(state.best_objective, state.best_lower)
        return (gap > tol) & (state.iteration < max_iters) & ~broken

    return jax.lax.while_loop(
        cond, lambda s: pdhg_update(problem, s, eta, check_every), pdhg_init(problem, z, lam)
    )


class Probe(NamedTuple):
    """The probe of :func:`pdhg_solve_pool` between two variants of each problem (``arm`` 0
    and 1): arm 0 runs ``checks`` checks, then arm 1 as many from its own start; arm 1 goes
    on if its gap is below ``1 / ratio`` of arm 0's at the same count, else arm 0 resumes
    where it stopped. ``eta`` holds each arm's step and ``weights`` what tells the arms apart
    (for :func:`and_or_problem`, their order weights). The arms must share their start (the
    same ``z₀``, ``λ₀``, primal weight and certificate there, as the order weights do): arm 1
    starts from arm 0's initial state."""

    checks: int
    ratio: float
    eta: tuple[float, float]
    weights: tuple[float, float]


class _ProbeLane(NamedTuple):
    """A pool lane with a probe: the running arm's state and the other arm's, kept to resume."""

    state: PDHGState  # the running arm
    saved: PDHGState  # the start until the probe, then arm 0's state while arm 1 is probed
    arm: jax.Array  # int32: the running arm
    phase: jax.Array  # int32: 0 arm 0's first checks, 1 arm 1's probe, 2 decided
    saved_gap: jax.Array  # arm 0's gap when the probe started
    spent: jax.Array  # iterations of the arm that was dropped


def _with_best(state: PDHGState, z_feasible, objective, lower) -> PDHGState:
    """``state`` with the better of its certificate and ``(z_feasible, objective, lower)``: the
    lower feasible objective and its point, the higher lower bound (a NaN in either stays)."""
    better = objective < state.best_objective
    return state._replace(
        best_z=_tmap(lambda a, b: jnp.where(better, a, b), z_feasible, state.best_z),
        best_objective=jnp.minimum(objective, state.best_objective),
        best_lower=jnp.maximum(state.best_lower, lower),
    )


def _merge_best(state: PDHGState, other: PDHGState) -> PDHGState:
    """``state`` with the better of both certificates: every arm certifies the same problem."""
    return _with_best(state, other.best_z, other.best_objective, other.best_lower)


def pdhg_solve_pool(
    build: Callable[..., tuple[Problem, Any, Any]],
    data: Any,
    *,
    eta: float | None = None,
    tol: float,
    max_iters: int,
    lanes: int,
    check_every: int = 64,
    tail_lanes: int | None = None,
    restart_necessary: float = RESTART_NECESSARY,
    probe: Probe | None = None,
) -> tuple[Any, jax.Array, jax.Array, jax.Array]:
    """Solve ``P`` independent problems on a pool of ``lanes`` vmapped solver lanes.

    A plain ``vmap`` of :func:`pdhg_solve` computes every sample until the slowest one has
    converged (a batch of fits costs ``B · max_i iterations_i``). Here each lane takes the next
    problem from the queue as soon as its own has converged (or reached ``max_iters``, or its
    certificate turned NaN or infinite: :func:`non_finite`), so the
    cost is about ``Σ_i iterations_i / lanes`` plus the tail of the last problems. Once the
    queue is empty and at most ``tail_lanes`` (default ``lanes // 8``) problems are still
    running, they move to a narrower pool, so a few slow fits at the end do not keep all lanes
    busy. A lane's iterates never see another lane's: each problem takes the iterations it would
    take alone.

    With a :class:`Probe`, ``build(data_i, arm)`` gives two variants of each problem (``arm``
    0 or 1, traced) and each lane probes them (see :class:`Probe`); the best certificate of
    both arms is kept, ``max_iters`` caps the iterations of both together, and the iterations
    returned count both.

    Args:
      build: ``data_i -> (problem, z0, λ0)`` for one problem (traced under vmap).
      data: pytree whose leaves have a leading axis ``P`` (e.g. ``(v, τ)``).
      eta: the step; without a probe only (the probe holds each arm's).
      lanes: pool width (clipped to ``P``).

    Returns:
      ``(best_z, best_objective, best_lower, iterations)``, each with leading axis ``P``.
    """
    if (eta is None) == (probe is None):
        raise TypeError(
            "pdhg_solve_pool: give the step eta, or a probe (which holds each arm's step), not "
            f"both or neither; got eta={eta!r}, probe={probe!r}"
        )
    num = jax.tree.leaves(data)[0].shape[0]
    lanes = max(1, min(lanes, num))
    tail = lanes // 8 if tail_lanes is None else min(tail_lanes, lanes)

    def row(i):
        return _tmap(lambda a: a[i], data)

    if probe is None:

        def init_lane(i):
            problem, z, lam = build(row(i))
            return pdhg_init(problem, z, lam)

        def update_lane(i, state):
            problem, _, _ = build(row(i))
            return pdhg_update(problem, state, eta, check_every, restart_necessary)

        def fit_of(state):
            return state, state.iteration

        def decide(states, stop):
            return states

    else:
        probe_iters = probe.checks * check_every
        etas = jnp.asarray(probe.eta)

        def init_lane(i):
            problem, z, lam = build(row(i), 0)
            state = pdhg_init(problem, z, lam)
            zero = jnp.zeros((), jnp.int32)
            return _ProbeLane(state, state, zero, zero, state.best_objective, zero)

        def update_lane(i, lane):
            problem, _, _ = build(row(i), lane.arm)
            state = pdhg_update(problem, lane.state, etas[lane.arm], check_every, restart_necessary)
            return lane._replace(state=state)

        def fit_of(lane):
            # during the probe the certificate is the better of both arms'
            probing = lane.phase == 1
            merged = _pick(probing, jax.vmap(_merge_best)(lane.state, lane.saved), lane.state)
            return merged, lane.state.iteration + lane.spent + jnp.where(
                probing, lane.saved.iteration, 0
            )

        def decide(lanes_, stop):
            # a lane whose arm has run its probe checks: start arm 1 (phase 0), or keep the
            # arm that is ahead at equal count (phase 1)
            state, phase = lanes_.state, lanes_.phase
            gap = relative_gap(state.best_objective, state.best_lower)
            due = ~stop & (state.iteration >= probe_iters)
            start = due & (phase == 0)
            end = due & (phase == 1)

            def start_probe(lanes_):
                # arm 1 starts where arm 0 started: ``saved`` holds that start until now
                return lanes_._replace(
                    state=_pick(start, lanes_.saved, lanes_.state),
                    saved=_pick(start, lanes_.state, lanes_.saved),
                    arm=jnp.where(start, 1, lanes_.arm),
                    phase=jnp.where(start, 1, lanes_.phase),
                    saved_gap=jnp.where(start, gap, lanes_.saved_gap),
                )

            def end_probe(lanes_):
                keep = gap * probe.ratio < lanes_.saved_gap  # arm 1 is ahead at equal count
                back = end & ~keep
                chosen = _pick(back, lanes_.saved, lanes_.state)
                other = _pick(back, lanes_.state, lanes_.saved)
                dropped = jnp.where(back, lanes_.state.iteration, lanes_.saved.iteration)
                return lanes_._replace(
                    state=_pick(end, jax.vmap(_merge_best)(chosen, other), lanes_.state),
                    arm=jnp.where(back, 0, lanes_.arm),
                    phase=jnp.where(end, 2, lanes_.phase),
                    spent=jnp.where(end, lanes_.spent + dropped, lanes_.spent),
                )

            lanes_ = jax.lax.cond(start.any(), start_probe, lambda x: x, lanes_)
            return jax.lax.cond(end.any(), end_probe, lambda x: x, lanes_)

    def body(carry):
        states, lane_index, next_problem, results, finished_count = carry
        states = jax.vmap(update_lane)(jnp.minimum(lane_index, num - 1), states)
        state, iterations = fit_of(states)
        gap = relative_gap(state.best_objective, state.best_lower)
        broken = non_finite(state.best_objective, state.best_lower)
        stop = (gap <= tol) | (iterations >= max_iters) | broken
        finished = stop & (lane_index < num)
        out = jnp.where(finished, lane_index, num)  # index num: dropped
        got = (state.best_z, state.best_objective, state.best_lower, iterations)
        results = _tmap(lambda r, g: r.at[out].set(g, mode="drop"), results, got)
        states = decide(states, stop)
        fresh_index = jnp.where(
            finished, jnp.minimum(next_problem + jnp.cumsum(finished) - 1, num), lane_index
        )

        def refill(states):
            fresh = jax.vmap(init_lane)(jnp.minimum(fresh_index, num - 1))
            return _pick(finished, fresh, states)

        states = jax.lax.cond(finished.any(), refill, lambda s: s, states)
        count = finished.sum()
        return states, fresh_index, next_problem + count, results, finished_count + count

    def running(carry, width):
        _, lane_index, next_problem, _, finished_count = carry
        busy = (lane_index < num).sum()
        return (finished_count < num) & ((next_problem < num) | (busy > width))

    states = jax.vmap(init_lane)(jnp.arange(lanes))
    first, _ = fit_of(states)
    results = (
        _tmap(lambda a: jnp.zeros((num, *a.shape[1:]), a.dtype), first.best_z),
        jnp.zeros((num,), first.best_objective.dtype),
        jnp.zeros((num,), first.best_lower.dtype),
        jnp.zeros((num,), first.iteration.dtype),
    )
    carry = (states, jnp.arange(lanes), jnp.asarray(lanes), results, jnp.asarray(0))
    if 0 < tail < lanes:
        carry = jax.lax.while_loop(lambda c: running(c, tail), body, carry)
        states, lane_index, next_problem, results, finished_count = carry
        keep = jnp.argsort(lane_index >= num, stable=True)[:tail]  # running lanes first
        carry = (
            _tmap(lambda a: a[keep], states),
            lane_index[keep],
            next_problem,
            results,
            finished_count,
        )
    return jax.lax.while_loop(lambda c: c[-1] < num, body, carry)[3]


def _pick(mask, a, b):
    """``a`` where ``mask`` (one entry per lane, the leading axis), else ``b``, leaf by leaf."""
    return _tmap(lambda x, y: jnp.where(mask.reshape(-1, *([1] * (x.ndim - 1))), x, y), a, b)


# -- the single-model AND-OR problem ---------------------------------------------------------
def dual_bound(op: Operators, lam3, v, tau):
    """Objective of ``λ`` scaled into the dual feasible set ``‖Zᵀλ‖∞ ≤ 1, ‖Bᵀλ‖∞ ≤ 1``; for
    ``λ`` of shape ``(..., 2**n)`` one bound per row."""
    scale = jnp.maximum(
        1.0,
        jnp.maximum(jnp.abs(op.ZT(lam3)).max(axis=-1), jnp.abs(op.BT(lam3)).max(axis=-1)),
    )
    lam3 = lam3 / scale[..., None]
    return -jnp.sum(jnp.maximum(lam3 * (v + tau), lam3 * (v - tau)), axis=-1)


def order_weight(n: int) -> float:
    """The default order weight ``w`` of :func:`and_or_problem` at ``n`` players: the
    interaction of ``S`` weighs ``w^|S|`` in the iterations, never in the objective (see
    ``ORDER_WEIGHT``)."""
    return ORDER_WEIGHT[0] if n <= 10 else ORDER_WEIGHT[1]


def and_or_problem(
    v,
    tau,
    iterate_dtype=None,
    box_weight: float = BOX_WEIGHT,
    paired: bool | None = None,
    weight: float | tuple[float, float] | None = None,
    arm: Any = None,
) -> tuple[Problem, jax.Array, jax.Array]:
    """The problem of one value vector, with its start ``p = r = v/2`` (γ = q = 0), λ = 0.

    ``z = (p, r)`` of shape ``(2, N)``; ``λ = (λ₁, λ₂, λ₃)`` of shape ``(3, N)`` for
    ``K z = (M p, O r, c·(p + r))`` with ``c = box_weight`` (the box ``c(v ± τ)``; the
    preconditioner is then ``(MᵀM + c²I)^{-1}``, still exact). ``c`` only weighs the blocks of
    the dual: the problem and its optimum do not depend on it. Nor do the order weights
    ``W = diag(w^|S|)`` (``weight``, default :func:`order_weight`): ``K z = (W M p, W O r,
    c(p + r))`` with ``g₁ = g₂ = ‖W⁻¹·‖₁``, so the dual boxes are ``|λ₁|, |λ₂| ≤ w^-|S|`` and
    the preconditioner ``(MᵀW²M + c²I)^{-1}``, still a Kronecker product. The primal weight
    starts at ``4 / std(v)``, where the iterations do not depend on the scale of ``v``, and
    stays within a factor 10 of it. With ``iterate_dtype=float32`` the
    iterations run in float32
    (twice the memory bandwidth) while the certificate is still computed in ``v``'s dtype from
    the iterates, so the gap it reports stays a valid bound. ``paired`` (default: ``n ≤
    PAIRED_MAX_N``) applies ``M`` and ``O`` as one stacked butterfly: the same arithmetic, so
    only rounding (from XLA's fusion) can differ. With ``weight`` a pair ``(w₀, w₁)``, ``arm``
    (0 or 1, may be traced: a lane of :func:`pdhg_solve_pool`'s probe) picks the one the
    iterations use; the constants of both are in the program and selected, not recomputed.
    """
    n = num_players_of(v.shape[-1])
    op = operators(n)
    low_order = orders(n) < n / 2  # rows whose excess spreads less in r than in p
    c, csq = float(box_weight), float(box_weight) ** 2
    v_full, tau_full = v, tau
    dt = v.dtype if iterate_dtype is None else jnp.dtype(iterate_dtype)
    v, tau = v.astype(dt), jnp.asarray(tau).astype(dt)
    weights = tuple(weight) if isinstance(weight, tuple) else (weight,)
    weights = tuple(order_weight(n) if w is None else float(w) for w in weights)
    if (arm is None) != (len(weights) == 1):
        raise ValueError("and_or_problem: pass arm with a pair of weights, and only then")
    # W: w^|S| at each coalition S, and the Gram factors of (MᵀW²M + c²I)^{-1}, per weight
    ows = [w ** orders(n).astype(np.float64) for w in weights]
    grams = [op.gram_factors(w, csq) for w in weights]
    if arm is None:
        ow, inv_ow, gram = jnp.asarray(ows[0], dt), jnp.asarray(1.0 / ows[0], dt), grams[0]
    else:
        ow = jnp.asarray(np.stack(ows), dt)[arm]
        inv_ow = jnp.asarray(1.0 / np.stack(ows), dt)[arm]
        gram = tuple(jnp.asarray(np.stack(f), dt)[arm] for f in zip(*grams, strict=True))
    omega0 = _OMEGA_SCALE / jnp.std(v_full)  # ω where the iterations do not depend on v's scale
    omega0 = jnp.where(jnp.isfinite(omega0), omega0, 1.0)  # constant or non-finite v

    stacked = n <= PAIRED_MAX_N if paired is None else bool(paired)  # M and O as one butterfly

    def K(z):
        return jnp.concatenate([ow * op.and_or(z, stacked), c * (z[0] + z[1])[None]])

    def KT(lam):
        return op.and_or_T(ow * lam[:2], stacked) + c * lam[2]

    def T(g):
        return op.gram_inverse_pair(g, stacked=stacked, factors=gram)

    def prox_dual(mu, sigma):
        l3 = mu[2] - sigma * jnp.clip(mu[2] / sigma, c * (v - tau), c * (v + tau))
        # |λ| ≤ w^-|S| written with where: the same numbers as clip, whose array bounds XLA's
        # CPU backend ran slower (n = 12, 2-core CPU: 140-149 µs an iteration instead of 122-124)
        lam12 = mu[:2]
        lam12 = jnp.where(jnp.abs(lam12) > inv_ow, jnp.sign(lam12) * inv_ow, lam12)
        return jnp.concatenate([lam12, l3[None]])

    def certify(z, lam):
        v, tau = v_full, tau_full  # the certificate in full precision
        z, lam = z.astype(v.dtype), lam.astype(v.dtype)
        # primal: clip q into its box and move the excess into p or r: exactly feasible. An
        # excess δ at coalition T costs up to 2^{n-|T|}|δ| in p (Möbius: every superset) and
        # about 2^{|T|}|δ| in r (OR: every set meeting T), so two candidates: all into p, and
        # each row into its cheaper side; the better one is kept
        resid = z[0] + z[1] - v
        excess = resid - jnp.clip(resid, -tau, tau)
        into_r = jnp.where(low_order, excess, 0.0)
        repairs = jnp.stack(
            [
                jnp.stack([z[0] - excess, z[1]]),
                jnp.stack([z[0] - (excess - into_r), z[1] - into_r]),
            ]
        )
        objs = jnp.abs(op.and_or(repairs)).sum(axis=(-2, -1))
        best = jnp.argmin(objs)
        z_feasible, objective = repairs[best], objs[best]
        # dual: candidates from each block (the box's multiplier is c·λ₃ = -MᵀWλ₁ = -OᵀWλ₂
        # at the optimum), each scaled to feasibility; keep the best
        mo = -op.and_or_T(ow.astype(v.dtype) * lam[:2])
        c1, c2, c3 = c * lam[2], mo[0], mo[1]
        cands = jnp.stack([c1, c2, c3, (c1 + c2 + c3) / 3.0, (c2 + c3) / 2.0])
        lower = jnp.max(dual_bound(op, cands, v, tau))
        return z_feasible, objective, lower

    problem = Problem(K, KT, T, prox_dual, certify, omega0, _OMEGA_RANGE)
    return problem, jnp.stack([v / 2, v / 2]), jnp.zeros((3, v.shape[-1]), dt)


# ``power_step_size(n)`` at the default box and order weights, n = 1-22, as computed on the
# 2-core CPU (float64, 60 power iterations from seed 0). The operators depend on n only, so the
# step is a constant of n; the power iteration took 1.4 s at n = 10 and 2.3 s at n = 16 of a
# first call (mostly its compile), where a whole first fit at n = 10 took 6.2 s.
# tests/solve/test_fit.py::test_step_table_is_the_power_iteration recomputes entries
_AND_OR_STEPS = {
    1: 0.7007562181918672,
    2: 0.6325355644331921,
    3: 0.6045559450085404,
    4: 0.5906384614269603,
    5: 0.5798683906440392,
    6: 0.5715140991784708,
    7: 0.5644539898312547,
    8: 0.5584537125542413,
    9: 0.553041669590589,
    10: 0.5481258159947998,
    11: 0.5661914862696067,
    12: 0.5628696026709942,
    13: 0.5597570229308729,
    14: 0.5568005875619303,
    15: 0.5538164811450345,
    16: 0.5511331641627456,
    17: 0.5484120267703678,
    18: 0.5458629995961367,
    19: 0.5434913443039208,
    20: 0.5410892628646211,
    21: 0.5389628074564876,
    22: 0.5368271098683065,
}
# the same at order weight 1, the probe's other arm (order_weight_probe), computed the same way
_AND_OR_STEPS_UNWEIGHTED = {
    1: 0.6693040586123686,
    2: 0.5925890087630442,
    3: 0.5576123816018029,
    4: 0.5352496746331135,
    5: 0.5184110288662717,
    6: 0.5054490407038906,
    7: 0.4950960211740414,
    8: 0.4866669159608986,
    9: 0.47970265961598363,
    10: 0.47386944795812724,
    11: 0.46896211046972175,
    12: 0.4647904852010473,
    13: 0.4612471619741677,
    14: 0.45821283452817557,
    15: 0.4556203935969893,
    16: 0.4533908172898461,
    17: 0.45147720875621977,
    18: 0.4498244740513848,
    19: 0.44839895646900246,
    20: 0.4471614535275237,
    21: 0.446087955700102,
    22: 0.4451510599183422,
}


def step_size(n: int, box_weight: float = BOX_WEIGHT, weight: float | None = None) -> float:
    """The PDHG step ``η = 0.99 / ‖K T^{½}‖`` of the single-model problem at ``n`` players: from
    the tables above at the default box weight and the default order weight or 1, else
    :func:`power_step_size` (cached)."""
    weight = order_weight(n) if weight is None else float(weight)
    if float(box_weight) == BOX_WEIGHT:
        table = _AND_OR_STEPS if weight == order_weight(n) else {}
        table = _AND_OR_STEPS_UNWEIGHTED if weight == 1.0 else table
        if n in table:
            return table[n]
    return power_step_size(n, box_weight, weight)


def order_weight_probe(n: int) -> Probe:
    """The default solver's probe at ``n`` players (``PROBE_CHECKS``, ``PROBE_RATIO``): arm 0
    the order weight :func:`order_weight`, arm 1 the weight 1."""
    weights = (order_weight(n), 1.0)
    eta = (step_size(n, weight=weights[0]), step_size(n, weight=weights[1]))
    return Probe(PROBE_CHECKS, PROBE_RATIO, eta, weights)


def power_step_size(n: int, box_weight: float = BOX_WEIGHT, weight: float | None = None) -> float:
    """:func:`step_size` by power iteration on ``K T Kᵀ`` (cached per ``n`` and weights)."""
    weight = order_weight(n) if weight is None else float(weight)
    with jax.ensure_compile_time_eval(), jax.enable_x64(True):
        problem, _, lam = and_or_problem(
            jnp.zeros(2**n), jnp.zeros(()), box_weight=box_weight, weight=weight
        )
    return operator_step(("and_or", n, float(box_weight), weight), problem, lam)
