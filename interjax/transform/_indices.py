"""Attribution and interaction indices derived from the Möbius vector (docs/method.md §2).

With ``m = and_interactions(v)`` (Harsanyi dividends), every index below is a weighted sum of
``m`` over the coalitions that contain a player or a pair, computed in O(n·2^n) (pairs: O(n²·2^n))
from reshapes of the ``(..., 2**n)`` array, never from a dense matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from interjax._core import mobius
from interjax.masks import coalition_sizes
from interjax.transform._mobius import (
    _all_finite,
    _as_values,
    _checked_call,
    _rowwise,
)

__all__ = ["banzhaf_values", "pairwise_shapley_interactions", "shapley_values"]


def _member_sums(w: jax.Array, n: int) -> jax.Array:
    """``out[..., i] = Σ_{S∋i} w(S)`` for ``w`` of shape ``(..., 2**n)``; returns ``(..., n)``."""
    lead = w.shape[:-1]
    if n == 0:  # no players
        return jnp.zeros((*lead, 0), w.dtype)
    sums = [
        w.reshape(*lead, 2 ** (n - 1 - i), 2, 2**i)[..., 1, :].sum(axis=(-2, -1)) for i in range(n)
    ]
    return jnp.stack(sums, axis=-1)


def _weighted_dividends(v, weight_of_size):
    v, n = _as_values(v)
    m = _rowwise(lambda r: mobius(r, n), v, n)
    w = weight_of_size(coalition_sizes(n, m.dtype))
    return m * w.reshape((1,) * (m.ndim - 1) + w.shape), n, _all_finite(v)


def shapley_values(v) -> jax.Array:
    """Shapley values ``φ_i = Σ_{S∋i} I_and(S)/|S|`` (Harsanyi 1963; Shapley 1953).

    Args:
      v: ``(..., 2**n)`` values in bitmask order.

    Returns:
      ``(..., n)``; efficiency: ``Σ_i φ_i = v(N) - v(∅)``.

    Example:
      >>> shapley_values(jnp.array([0.0, 1.0, 2.0, 5.0])).tolist()
      [2.0, 3.0]
    """
    return _checked_call(_shapley_core, [v], ["v"])


@jax.jit
def _shapley_core(v):
    w, n, finite = _weighted_dividends(v, lambda s: jnp.where(s > 0, 1.0 / jnp.maximum(s, 1), 0.0))
    return _member_sums(w, n), finite


def banzhaf_values(v) -> jax.Array:
    """Banzhaf values ``β_i = Σ_{S∋i} I_and(S)/2^{|S|-1}
    = 2^{-(n-1)} Σ_{T⊆N∖i} [v(T∪i) - v(T)]`` (Banzhaf 1965). Shape ``(..., n)``.

    Example:
      >>> banzhaf_values(jnp.array([0.0, 1.0, 2.0, 5.0])).tolist()
      [2.0, 3.0]
    """
    return _checked_call(_banzhaf_core, [v], ["v"])


@jax.jit
def _banzhaf_core(v):
    w, n, finite = _weighted_dividends(v, lambda s: jnp.where(s > 0, 2.0 ** (1.0 - s), 0.0))
    return _member_sums(w, n), finite


def pairwise_shapley_interactions(v) -> jax.Array:
    """Pairwise Shapley interaction index (Grabisch & Roubens 1999):
    ``I_ij = Σ_{S⊇{i,j}} I_and(S)/(|S|-1)``, shape ``(..., n, n)``, symmetric, zero diagonal.

    Example:
      >>> pairwise_shapley_interactions(jnp.array([0.0, 1.0, 2.0, 5.0]))[0, 1].item()
      2.0
    """
    return _checked_call(_pairwise_core, [v], ["v"])


@jax.jit
def _pairwise_core(v):
    w, n, finite = _weighted_dividends(
        v, lambda s: jnp.where(s > 1, 1.0 / jnp.maximum(s - 1, 1), 0.0)
    )
    lead = w.shape[:-1]
    rows = []
    for i in range(n):
        wi = w.reshape(*lead, 2 ** (n - 1 - i), 2, 2**i)[..., 1, :].reshape(*lead, 2 ** (n - 1))
        others = _member_sums(wi, n - 1) if n > 1 else jnp.zeros((*lead, 0), w.dtype)
        rows.append(
            jnp.concatenate(
                [others[..., :i], jnp.zeros((*lead, 1), w.dtype), others[..., i:]], axis=-1
            )
        )
    if not rows:  # n = 0: no pairs
        return jnp.zeros((*lead, 0, 0), w.dtype), finite
    return jnp.stack(rows, axis=-2), finite
