"""The result of an AND-OR extraction: a frozen pytree that carries its own certificate and the
reason each fit stopped."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import jax

from interjax._core import num_players_of

__all__ = ["AndOr", "FitStatus"]


class FitStatus(enum.IntEnum):
    """Why a fit stopped: the codes of :attr:`AndOr.status` (an int array, one code per fit).

    * ``CONVERGED`` (0): the certified relative gap reached the solver's ``tol``.
    * ``ITERATION_CAP`` (1): the solver's budget ran out first (PDHG's ``max_iters``, SGD's
      ``num_steps``, HiGHS's ``time_limit``); the result is valid, its gap says how far it is.
      PDHG's default already probes the order weight per fit (docs/method.md §3); with a
      float ``order_weight`` set, try the default before a larger ``max_iters``.
    * ``NON_FINITE`` (2): a NaN or infinity appeared in the iterates or the certificate; do not
      trust the numbers (try ``iterate_dtype=None`` or rescale the values).
    * ``SOLVER_FAILED`` (3): HiGHS stopped for another reason (e.g. numerical trouble).

    Example:
      >>> import interjax as ij
      >>> int(ij.FitStatus.CONVERGED), ij.FitStatus(1).name
      (0, 'ITERATION_CAP')
    """

    CONVERGED = 0
    ITERATION_CAP = 1
    NON_FINITE = 2
    SOLVER_FAILED = 3


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AndOr:
    """Sparse AND-OR interactions of one value vector (or a batch), docs/method.md §3.

    Arrays carry the leading batch axes of ``v``; coalitions are in bitmask order.

    Attributes:
      and_: ``(..., 2**n)`` AND interactions after the fold of ∅ (and singleton) OR terms.
      or_: ``(..., 2**n)`` OR interactions after the fold (zero where folded).
      gamma: ``(..., 2**n)`` split of the values: ``v_and = ½(v+q) + γ``, ``v_or = ½(v+q) - γ``.
      q: ``(..., 2**n)`` error term, ``|q| ≤ tau``.
      objective: ``(...)`` L1 norm of all AND and OR interactions before the fold (the LP's
        objective, which the fold can only lower).
      lower_bound: ``(...)`` objective of a dual feasible point: no split can do better.
      gap: ``(...)`` ``objective - lower_bound ≥ objective - optimum``: a certified bound on the
        distance to the optimum.
      relative_gap: ``(...)`` ``gap / max(|objective|, tiny)``.
      iterations: ``(...)`` iterations run (SGD: its steps; HiGHS: 0).
      status: ``(...)`` int32 :class:`FitStatus` code: why each fit stopped (``CONVERGED``,
        ``ITERATION_CAP``, ``NON_FINITE``, ``SOLVER_FAILED``). ``converged`` is
        ``status == CONVERGED``: ``relative_gap ≤ tol`` with finite numbers (true for HiGHS's
        optimum, false for the SGD reference unless its objective met the bound).
      tau: ``(...)`` the error bound ``q_ratio · |v(N) - v(∅)|``.
      noise_floor_and, noise_floor_or: ``(..., 2**n)`` rounding bounds of the transforms on v
        (:func:`interjax.noise_floor`); nothing below them is counted salient.
      q_ratio, solver, fold, tol: the settings used (static). ``solver`` is the solver object
        itself (:class:`PDHG`, :class:`SGD` or :class:`HiGHS`, frozen and hashable), so a fit
        says exactly how it was computed; ``tol`` is ``solver.tol``.

    Returned by :func:`interjax.fit_and_or`; ``n`` is the number of players.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp, numpy as np
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)  # AND {0, 1} = 2, OR {1, 2} = 1
      >>> type(fit).__name__, fit.n, fit.and_.shape, fit.objective.shape
      ('AndOr', 3, (8,), ())
      >>> bool(fit.converged), round(float(fit.objective), 2), bool(fit.gap >= 0)
      (True, 3.0, True)
      >>> ij.FitStatus(int(fit.status)).name, fit.solver == ij.PDHG()
      ('CONVERGED', True)
      >>> float(ij.matching_error(v, fit.and_, fit.or_, fit.q)) < 1e-9
      True
    """

    and_: jax.Array
    or_: jax.Array
    gamma: jax.Array
    q: jax.Array
    objective: jax.Array
    lower_bound: jax.Array
    gap: jax.Array
    relative_gap: jax.Array
    iterations: jax.Array
    status: jax.Array
    tau: jax.Array
    noise_floor_and: jax.Array
    noise_floor_or: jax.Array
    q_ratio: float = dataclasses.field(metadata={"static": True}, default=0.02)
    solver: Any = dataclasses.field(metadata={"static": True}, default=None)
    fold: str = dataclasses.field(metadata={"static": True}, default="singletons")
    tol: float = dataclasses.field(metadata={"static": True}, default=1e-3)

    @property
    def n(self) -> int:
        """The number of players (``and_`` has ``2**n`` entries)."""
        return num_players_of(self.and_.shape[-1])

    @property
    def converged(self) -> jax.Array:
        """``(...)`` bool: ``status == FitStatus.CONVERGED`` (``relative_gap ≤ tol``, finite)."""
        return self.status == FitStatus.CONVERGED
