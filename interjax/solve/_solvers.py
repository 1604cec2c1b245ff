"""The solvers of the AND-OR split (docs/method.md §3): frozen, hashable configurations.

Each is a frozen dataclass, validated when it is made (so bad settings fail before any work) and
hashable (so it is a static argument of the compiled fit and a static field of the result). Each
has one method the fit calls,

    solver.solve(flat, tau) -> (p, r, objective, lower, iterations, reason)

for ``flat`` of shape ``(B, 2**n)`` and ``tau`` of shape ``(B,)``: the value-domain split
``p = v_and``, ``r = v_or`` (``(B, 2**n)``, ``|p + r - v| ≤ τ``), the objective and a certified
lower bound (``(B,)``), the iterations run and the :class:`~interjax.FitStatus` to report for a
fit that is finite but did not reach ``tol`` (``(B,)`` int32).

* :class:`PDHG` (default): restarted preconditioned PDHG with a duality-gap certificate
  (:mod:`interjax.solve._pdhg`), jitted, on a pool of vmapped lanes.
* :class:`SGD`: the lab's published schedule (:mod:`interjax.solve._sgd`), to reproduce numbers.
* :class:`HiGHS`: the explicit LP solved by SciPy's HiGHS (:mod:`interjax.solve._highs`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from interjax._core import check_int, check_real, num_players_of
from interjax.solve._operators import operators
from interjax.solve._pdhg import (
    BOX_WEIGHT,
    RESTART_NECESSARY,
    and_or_problem,
    dual_bound,
    order_weight_probe,
    pdhg_solve_pool,
    step_size,
)
from interjax.solve._result import FitStatus
from interjax.solve._sgd import default_sgd, sgd_solve

__all__ = ["PDHG", "SGD", "SOLVERS", "HiGHS", "default_lanes"]

_TOL_WHAT = "a relative duality gap, e.g. 1e-3"
HIGHS_METHODS = ("highs", "highs-ds", "highs-ipm")


def _check_tol(tol) -> float:
    return check_real("tol", tol, low=0.0, low_open=True, what=_TOL_WHAT)


def _set(obj, **values) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _reasons(num: int, code: FitStatus) -> jax.Array:
    return jnp.full((num,), int(code), jnp.int32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PDHG:
    """The default solver: restarted, preconditioned PDHG that stops at a certified relative
    duality gap ``tol`` (docs/method.md §3; Chambolle & Pock 2011, Lu & Yang 2024). The certificate
    gives ``lower ≤ optimum ≤ objective`` whatever the iterates did.

    Args:
      tol: relative gap ``(objective - lower) / |objective|`` at which a fit stops.
      max_iters: iteration cap; a fit that reaches it reports ``ITERATION_CAP`` and its gap.
      check_every: iterations between restart checks and certificates.
      iterate_dtype: dtype of the iterations (default: that of ``v``, float64 with x64 on).
        ``jnp.float32`` halves the memory traffic; the certificate is still computed in ``v``'s
        dtype, so the gap stays a valid bound, but the reachable gap is limited by float32
        rounding (about 1e-5 relative). Stored as its name (``"float32"``).
      lanes: fits run side by side (vmapped); a lane takes the next fit of the batch as soon as
        its own has converged, so a batch costs about ``Σ iterations / lanes``. Default
        :func:`default_lanes` (1 from n = 10 on CPU). Results do not depend on it.
      order_weight: the weight ``w`` of an interaction's order in the iterations (the
        interaction of ``S`` weighs ``w^|S|`` in the dual; docs/method.md §3). It never moves
        the optimum or the certificate, only the iterations. The weight of n (1.2 up to n = 10,
        1.25 beyond) takes 1.3-2.5x fewer iterations than 1.0 on values with few, low-order
        interactions (network values, planted models) and 2.4-4.3x more on unstructured ones
        (Gaussian or heavy-tailed noise, saturated logits; at n = 12 it left such fits at the
        iteration cap). The default (None) probes both on each fit: 256 iterations with the
        weight of n, 256 with 1.0, and the one with the clearly smaller gap goes on (the
        other's iterations count too: in the benchmarks 2-40% more than the better weight
        alone; a fit the probe misjudges can still reach ``max_iters``). A float runs that
        weight alone: the weight of n on values known to be network-like, 1.0 on noise.
      devices: how many of this process's devices a batch is dealt over, each running its own
        pool at the same time (fit ``i`` on device ``i mod D``); default all of them. On a CPU
        JAX has one device unless asked for more (``jax.config.update("jax_num_cpu_devices",
        k)`` before the first computation; the command line asks for one per core), and then
        each device's pool runs on its own core. Results do not depend on it.

    Example:
      >>> import interjax as ij
      >>> ij.PDHG(tol=1e-2, iterate_dtype="float32")  # doctest: +NORMALIZE_WHITESPACE
      PDHG(tol=0.01, max_iters=50000, check_every=64, iterate_dtype='float32', lanes=None,
           order_weight=None, devices=None)
      >>> ij.PDHG(tol=0.0)
      Traceback (most recent call last):
      ...
      ValueError: tol must be a finite number > 0 (a relative duality gap, e.g. 1e-3), got 0.0
    """

    tol: float = 1e-3
    max_iters: int = 50_000
    check_every: int = 64
    iterate_dtype: Any = None
    lanes: int | None = None
    order_weight: float | None = None
    devices: int | None = None

    def __post_init__(self):
        _set(
            self,
            tol=_check_tol(self.tol),
            max_iters=check_int("max_iters", self.max_iters, what="an iteration cap, e.g. 50_000"),
            check_every=check_int(
                "check_every", self.check_every, what="iterations between certificates, e.g. 64"
            ),
        )
        if self.iterate_dtype is not None:
            _set(self, iterate_dtype=_float_dtype(self.iterate_dtype).name)
        if self.lanes is not None:
            lanes = check_int("lanes", self.lanes, what="fits run side by side, or None")
            _set(self, lanes=lanes)
        if self.order_weight is not None:
            what = "the weight of an interaction's order in the iterations, e.g. 1.0, or None"
            weight = check_real(
                "order_weight", self.order_weight, low=0.0, low_open=True, what=what
            )
            _set(self, order_weight=weight)
        if self.devices is not None:
            what = "local devices to deal a batch over, or None for all of them"
            _set(self, devices=check_int("devices", self.devices, what=what))

    def solve(self, flat, tau):
        """``(p, r, objective, lower, iterations, reason)`` of the fits ``(B, 2**n)``."""
        n = num_players_of(flat.shape[-1])
        fixed = self.order_weight is not None
        p, r, objective, lower, iterations = solve_on_devices(
            flat,
            tau,
            jax.local_devices()[: self.devices],
            eta=step_size(n, weight=self.order_weight) if fixed else None,
            probe=None if fixed else order_weight_probe(n),
            tol=self.tol,
            max_iters=self.max_iters,
            check_every=self.check_every,
            iterate_dtype=self.iterate_dtype,
            lanes=default_lanes(n) if self.lanes is None else self.lanes,
            order_weight=self.order_weight,
        )
        return p, r, objective, lower, iterations, _reasons(flat.shape[0], FitStatus.ITERATION_CAP)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SGD:
    """The lab's reference optimization (Li & Zhang 2023, arXiv:2304.13312; Chen et al. 2024):
    gradient descent on ``(γ, q)`` for ``num_steps`` steps, ``q`` clipped to ``[-τ, τ]``, to
    reproduce published numbers. It stops at ``num_steps``, not at the optimum; the result still
    carries a (often loose) certified lower bound, and ``ITERATION_CAP`` unless the gap met
    ``tol``.

    Args:
      optimizer: any ``optax.GradientTransformation``; ``None`` (default) is
        :func:`~interjax.solve._sgd.default_sgd` ``(learning_rate, num_steps)``: SGD with
        momentum 0.9, the learning rate decaying log-linearly to a tenth over ``num_steps``.
        A static argument of the compiled solve: reuse one object, or each call compiles anew.
      num_steps: gradient steps.
      learning_rate: start of the default schedule (ignored with ``optimizer``). 1e-4 is ours
        (the published code's is not stated); the objective's gradient does not scale with v, so
        pick one suited to the size of your values.
      tol: relative gap counted as converged (SGD does not stop at it).

    Example:
      >>> import interjax as ij
      >>> ij.SGD(num_steps=2000, learning_rate=1e-3).num_steps
      2000
      >>> ij.SGD(learning_rate=-1.0)
      Traceback (most recent call last):
      ...
      ValueError: learning_rate must be a finite number > 0 (e.g. 1e-4), got -1.0
    """

    optimizer: optax.GradientTransformation | None = None
    num_steps: int = 10_000
    learning_rate: float = 1e-4
    tol: float = 1e-3

    def __post_init__(self):
        _set(self, num_steps=check_int("num_steps", self.num_steps, what="SGD steps, e.g. 10_000"))
        if self.optimizer is None:
            lr = check_real(
                "learning_rate", self.learning_rate, low=0.0, low_open=True, what="e.g. 1e-4"
            )
            _set(self, learning_rate=lr)
        elif not (hasattr(self.optimizer, "init") and hasattr(self.optimizer, "update")):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation (e.g. optax.sgd(1e-3)) or None "
                f"for the lab's schedule, got {type(self.optimizer).__name__}"
            )
        _set(self, tol=_check_tol(self.tol))

    def solve(self, flat, tau):
        """``(p, r, objective, lower, iterations, reason)`` of the fits ``(B, 2**n)``."""
        opt = self.optimizer or default_sgd(self.learning_rate, self.num_steps)
        p, r, objective, lower, iterations = _solve_sgd(flat, tau, opt, self.num_steps)
        return p, r, objective, lower, iterations, _reasons(flat.shape[0], FitStatus.ITERATION_CAP)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HiGHS:
    """The explicit LP solved by HiGHS through SciPy (an independent reference: small n, needs
    SciPy, runs on the host one fit at a time, so it cannot be traced by ``jit`` or ``vmap``).

    Args:
      method: SciPy's HiGHS choice: ``"highs"`` (HiGHS picks; default), ``"highs-ds"`` (dual
        simplex) or ``"highs-ipm"`` (interior point with crossover; quicker at n ≥ 10).
      time_limit: seconds per fit after which HiGHS stops (``ITERATION_CAP``), or ``None``.
      tol: relative gap of the certificate counted as converged.

    Example:
      >>> import interjax as ij
      >>> ij.HiGHS(method="highs-ipm", time_limit=60)
      HiGHS(method='highs-ipm', time_limit=60.0, tol=0.001)
    """

    method: str = "highs"
    time_limit: float | None = None
    tol: float = 1e-3

    def __post_init__(self):
        if self.method not in HIGHS_METHODS:
            raise ValueError(f"method must be one of {HIGHS_METHODS}, got {self.method!r}")
        if self.time_limit is not None:
            limit = check_real(
                "time_limit", self.time_limit, low=0.0, low_open=True, what="seconds, or None"
            )
            _set(self, time_limit=limit)
        _set(self, tol=_check_tol(self.tol))

    def solve(self, flat, tau):
        """``(p, r, objective, lower, iterations, reason)`` of the fits ``(B, 2**n)``."""
        if isinstance(flat, jax.core.Tracer) or isinstance(tau, jax.core.Tracer):
            raise TypeError(
                "solver=ij.HiGHS() runs on the host and cannot be traced by jax.jit or jax.vmap; "
                "call fit_and_or eagerly, or use solver=ij.PDHG() inside a transformation."
            )
        return _solve_highs(flat, tau, method=self.method, time_limit=self.time_limit)


SOLVERS = (PDHG, SGD, HiGHS)
DEFAULT_SOLVER = PDHG()  # the default of the fits: the flat options (deprecated) map onto it


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


def default_lanes(n: int) -> int:
    """Width of the solver pool: about 2^10 vector entries per pass on CPU (4 lanes at n = 8,
    one lane from n = 10: the fits one after another), 2^22 on accelerators; at least 1.

    On a 2-core CPU (n = 10, 64 noisy planted fits, 1024 iterations each, process CPU time,
    median of 5 alternating calls) a fit-iteration took 49.5 µs with 1 lane, 61.3 µs with 8 and
    91.7 µs with 64: the iterates of one lane stay in cache, and a narrow pool never computes
    finished lanes (a pool as wide as the batch runs them until all but an eighth are done).
    """
    per_pass = 2**10 if jax.default_backend() == "cpu" else 2**22
    return max(1, per_pass >> n)


@functools.partial(
    jax.jit,
    static_argnames=(
        "eta",
        "tol",
        "max_iters",
        "check_every",
        "iterate_dtype",
        "lanes",
        "box_weight",
        "restart_necessary",
        "mesh",
        "paired",
        "order_weight",
        "probe",
    ),
)
def _solve_optimal(
    flat,
    tau,
    *,
    eta,
    tol,
    max_iters,
    check_every,
    iterate_dtype=None,
    lanes,
    box_weight=BOX_WEIGHT,
    restart_necessary=RESTART_NECESSARY,
    mesh=None,
    paired=None,
    order_weight=None,
    probe=None,
):
    """The fits ``(B, 2**n)`` on one pool of ``lanes``, or with ``mesh`` (D local devices on its
    one axis, ``B`` a multiple of D) on one pool per device, each over its contiguous block of
    ``B / D`` fits. A fit's iterations do not depend on the pool it runs in. With ``probe``
    (:func:`~interjax.solve._pdhg.order_weight_probe`) each fit probes its two order weights."""

    def build(data, arm=None):
        weight = order_weight if probe is None else probe.weights
        return and_or_problem(*data, iterate_dtype, box_weight, paired, weight, arm)

    def solve(flat, tau):
        best_z, objective, lower, iterations = pdhg_solve_pool(
            build,
            (flat, tau),
            eta=eta,
            tol=tol,
            max_iters=max_iters,
            check_every=check_every,
            lanes=lanes,
            restart_necessary=restart_necessary,
            probe=probe,
        )
        return best_z[:, 0], best_z[:, 1], objective, lower, iterations

    if mesh is None:
        return solve(flat, tau)
    # check_vma off: the pool's loop starts from constants (the same on every device) and
    # carries per-device fits; no collective runs inside, each device's loop is its own
    return jax.shard_map(
        solve,
        mesh=mesh,
        in_specs=(P(_FITS_AXIS), P(_FITS_AXIS)),
        out_specs=P(_FITS_AXIS),
        check_vma=False,
    )(flat, tau)


_FITS_AXIS = "fits"


def solve_on_devices(flat, tau, devices, **settings):
    """:func:`_solve_optimal` with the fits dealt over ``devices``: fit ``i`` to device
    ``i mod D`` (fits of neighbouring samples or checkpoints take similar iterations, so each
    device gets a similar share), the batch padded with empty problems (``v = 0``, ``τ = 0``:
    certified at the first check), each device running its own pool at the same time.

    On a CPU the XLA devices are host partitions (``jax_num_cpu_devices``, which the command
    line sets to the number of cores): the solver's small vector operations run on one core per
    device, so D devices finish a batch up to D times sooner. The fits are those of one device.
    """
    num, size = flat.shape
    traced = isinstance(flat, jax.core.Tracer) or isinstance(tau, jax.core.Tracer)
    if devices is None or len(devices) < 2 or num < 2 or traced:
        return _solve_optimal(flat, tau, **settings)
    d = len(devices)
    per = -(-num // d)
    order = np.arange(per * d).reshape(per, d).T.reshape(-1)  # device k: fits k, k + d, ...
    flat = np.concatenate([np.asarray(flat), np.zeros((per * d - num, size), flat.dtype)])[order]
    tau = np.concatenate([np.asarray(tau), np.zeros((per * d - num,), tau.dtype)])[order]
    mesh = Mesh(np.array(devices), (_FITS_AXIS,))
    flat, tau = jax.device_put((flat, tau), NamedSharding(mesh, P(_FITS_AXIS)))
    out = _solve_optimal(flat, tau, mesh=mesh, **settings)
    return _take_rows(out, np.argsort(order)[:num])


@jax.jit
def _take_rows(arrays, rows):
    """``a[rows]`` for each array, as one program (eagerly, each output of the fits' shapes and
    shardings compiled its own gather: 11 programs, 0.5 s of a first call on the 2-core CPU)."""
    return tuple(a[rows] for a in arrays)


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps"))
def _solve_sgd(flat, tau, optimizer, num_steps):
    op = operators(num_players_of(flat.shape[-1]))

    def one(v, t):
        p, r, _, _ = sgd_solve(v, t, optimizer=optimizer, num_steps=num_steps)
        objective = jnp.abs(op.M(p)).sum() + jnp.abs(op.O(r)).sum()
        # a dual point from the subgradient signs at the end: a valid lower bound, often loose
        cands = (-op.MT(jnp.sign(op.M(p))), -op.OT(jnp.sign(op.O(r))))
        lower = jnp.max(jnp.stack([dual_bound(op, c, v, t) for c in cands]))
        return p, r, objective, lower, jnp.asarray(num_steps, jnp.int32)

    return jax.vmap(one)(flat, tau)


def _solve_highs(flat, tau, *, method="highs", time_limit=None):
    from interjax.solve._highs import solve_lp_highs

    op = operators(num_players_of(flat.shape[-1]))
    ps, rs, objs, lows, reasons = [], [], [], [], []
    for v, t in zip(np.asarray(flat), np.asarray(tau), strict=True):
        sol = solve_lp_highs(v, float(t), method=method, time_limit=time_limit)
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
        limit = sol.code == 1  # SciPy: iteration or time limit reached
        reasons.append(FitStatus.ITERATION_CAP if limit else FitStatus.SOLVER_FAILED)
    p, r = jnp.asarray(np.stack(ps)), jnp.asarray(np.stack(rs))
    # HiGHS satisfies the box to its own tolerance: make (p, r) exactly feasible as PDHG does
    resid = p + r - flat
    p = p - (resid - jnp.clip(resid, -tau[:, None], tau[:, None]))
    objective = jnp.abs(op.M(p)).sum(-1) + jnp.abs(op.O(r)).sum(-1)
    lower = jnp.minimum(jnp.asarray(lows), objective)
    iterations = jnp.zeros(len(ps), jnp.int32)
    return p, r, objective, lower, iterations, jnp.asarray(np.array(reasons, np.int32))
