"""Salient AND-OR interactions (docs/method.md §3, last items; He et al. 2025, arXiv:2505.06993).

``Ω = {(S, kind) : S ≠ ∅, |I_kind(S)| ≥ α · max_{kind, S≠∅} |I|}`` with ``α = 0.05`` by default;
alternatively the ``top_k`` strongest, or the smallest set holding a ``share`` of the total
strength. In every rule an interaction at or below its numerical noise floor is never salient.
:func:`salient_mask` is jittable and batched; :func:`salient` lists the sets on the host.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import check_int, check_real
from interjax.masks import coalition_players, coalition_sizes, num_players_of, orders
from interjax.solve._result import AndOr

__all__ = [
    "KINDS",
    "Salient",
    "check_salient_rule",
    "salient",
    "salient_mask",
    "strength_by_order",
]

KINDS = ("and", "or")


def _check_fit(fit) -> None:
    if not isinstance(fit, AndOr):
        raise TypeError(
            f"fit must be an ij.AndOr from ij.fit_and_or, got {type(fit).__name__}; fit the "
            "values first, e.g. ij.salient(ij.fit_and_or(v))."
        )


def check_salient_rule(*, ratio=None, top_k=None, share=None):
    """The salient rule's option, checked before any work (as :func:`salient` checks it):
    returns ``(ratio, top_k, share)`` as Python numbers, at most one of them not ``None``.

    Example:
      >>> import interjax as ij
      >>> ij.solve.check_salient_rule(ratio=0.05)
      (0.05, None, None)
      >>> ij.solve.check_salient_rule(top_k=0)
      Traceback (most recent call last):
      ...
      ValueError: top_k must be an int >= 1 (how many of the strongest interactions to keep), got 0
    """
    if sum(x is not None for x in (ratio, top_k, share)) > 1:
        raise ValueError("give at most one of ratio, top_k, share")
    if top_k is not None:
        top_k = check_int("top_k", top_k, what="how many of the strongest interactions to keep")
    if share is not None:
        share = check_real(
            "share", share, low=0.0, high=1.0, low_open=True, what="a share of total strength"
        )
    if ratio is not None:
        ratio = check_real(
            "ratio", ratio, low=0.0, high=1.0, what="a share of the largest |I|, e.g. 0.05"
        )
    return ratio, top_k, share


def _stacked(fit: AndOr):
    vals = jnp.stack([fit.and_, fit.or_], axis=-2)  # (..., 2, N)
    floor = jnp.stack([fit.noise_floor_and, fit.noise_floor_or], axis=-2)
    mag = jnp.abs(vals).at[..., 0].set(0.0)  # ∅ is never salient
    return vals, mag, mag > floor


def salient_mask(
    fit: AndOr, *, ratio: float | None = None, top_k: int | None = None, share: float | None = None
) -> jax.Array:
    """Boolean ``(..., 2, 2**n)`` mask of salient interactions: ``[..., 0, S]`` for AND,
    ``[..., 1, S]`` for OR. Give at most one of ``ratio`` (default 0.05), ``top_k``, ``share``.

    ``Ω = {(S, kind) : S ≠ ∅, |I_kind(S)| ≥ ratio · max_{kind, S≠∅} |I|}`` (docs/method.md §3; He et
    al. 2025, arXiv:2505.06993); ``top_k`` keeps the k strongest, ``share`` the fewest holding
    that share of the total strength. Terms at or below the noise floor are never salient.
    Jittable; ``fit`` is an :class:`AndOr` with leading axes ``(...)``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp, numpy as np
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)  # AND {0, 1} = 2, OR {1, 2} = 1
      >>> mask = ij.salient_mask(fit)
      >>> mask.shape, np.flatnonzero(mask[0]).tolist(), np.flatnonzero(mask[1]).tolist()
      ((2, 8), [3], [6])
      >>> ij.salient_mask(fit, top_k=1)[1].any().item()  # the strongest one is AND {0, 1}
      False
    """
    _check_fit(fit)
    ratio, top_k, share = check_salient_rule(ratio=ratio, top_k=top_k, share=share)
    return _salient_mask(fit, ratio=ratio, top_k=top_k, share=share)


# one compiled program: run eagerly, its dozen small operations compiled one by one on a first
# call (0.4 s of the analysis benchmark's first call on the 2-core CPU)
@functools.partial(jax.jit, static_argnames=("ratio", "top_k", "share"))
def _salient_mask(fit: AndOr, *, ratio, top_k, share) -> jax.Array:
    _, mag, valid = _stacked(fit)
    flat = jnp.where(valid, mag, 0.0).reshape(*mag.shape[:-2], -1)
    if top_k is not None:
        k = min(top_k, flat.shape[-1])
        thr = jax.lax.top_k(flat, k)[0][..., -1]
    elif share is not None:
        desc = -jnp.sort(-flat, axis=-1)
        cum = jnp.cumsum(desc, axis=-1)
        total = cum[..., -1:]
        idx = jnp.argmax(cum >= share * total, axis=-1)
        thr = jnp.take_along_axis(desc, idx[..., None], axis=-1)[..., 0]
    else:
        ratio = 0.05 if ratio is None else ratio
        thr = ratio * flat.max(axis=-1)
    thr = thr[..., None, None]
    return valid & (mag >= thr) & (mag > 0)


@dataclasses.dataclass(frozen=True)
class Salient:
    """The salient interactions of one sample, strongest first (host-side numpy arrays).

    Returned by :func:`salient` (docs/method.md §3). All arrays have shape ``(m,)`` for ``m``
    salient interactions; ``players(i)`` gives the player ids of the i-th set and
    ``as_records()`` a list of dicts.

    Attributes:
      sets: coalition index ``S`` of each interaction (bitmask order).
      kinds: 0 for AND, 1 for OR.
      values: the interaction ``I_kind(S)``.
      orders: ``|S|``.
      n: number of players.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp, numpy as np
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)  # AND {0, 1} = 2, OR {1, 2} = 1
      >>> s = ij.salient(fit)
      >>> len(s), s.sets.tolist(), s.kinds.tolist(), s.orders.tolist(), s.players(1)
      (2, [3, 6], [0, 1], [2, 2], (1, 2))
      >>> np.round(s.values, 3).tolist()
      [2.0, 1.0]
    """

    sets: np.ndarray  # coalition index S
    kinds: np.ndarray  # 0 = AND, 1 = OR
    values: np.ndarray
    orders: np.ndarray  # |S|
    n: int

    def __len__(self) -> int:
        return len(self.sets)

    def players(self, i: int) -> tuple[int, ...]:
        return coalition_players(int(self.sets[i]), self.n)

    def as_records(self, names=None) -> list[dict]:
        """One dict per salient interaction, strongest first: ``set`` (bitmask), ``players``
        (ids), ``kind``, ``order``, ``value``; with ``names`` (one per player, e.g.
        ``Players.names``) also ``names``, the players' names.

        Example:
          >>> import interjax as ij, numpy as np
          >>> sal = ij.Salient(np.array([3]), np.array([0]), np.array([2.0]), np.array([2]), n=2)
          >>> sal.as_records(names=["age", "dose"])[0]["names"]
          ['age', 'dose']
        """
        if names is not None and len(names) != self.n:
            raise ValueError(f"got {len(names)} names for {self.n} players")
        records = []
        for s, k, o, v in zip(self.sets, self.kinds, self.orders, self.values, strict=True):
            players = list(coalition_players(int(s), self.n))
            rec = {"set": int(s), "players": players, "kind": KINDS[int(k)]}
            rec.update(order=int(o), value=float(v))
            if names is not None:
                rec["names"] = [str(names[p]) for p in players]
            records.append(rec)
        return records


def salient(
    fit: AndOr, *, ratio: float | None = None, top_k: int | None = None, share: float | None = None
) -> Salient | list:
    """The salient (set, kind) pairs with values and orders, strongest first.

    One :class:`Salient` for a single fit, a (nested) list of them for a batch.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> [(r["players"], r["kind"]) for r in ij.salient(ij.fit_and_or(v, 0.0)).as_records()]
      [([0, 1], 'and'), ([1, 2], 'or')]
    """
    mask = np.asarray(salient_mask(fit, ratio=ratio, top_k=top_k, share=share))
    vals = np.asarray(jnp.stack([fit.and_, fit.or_], axis=-2))
    if not np.isfinite(vals).all():  # host arrays already: the check costs no device work
        bad = np.argwhere(~np.isfinite(vals))[:3].tolist()
        raise ValueError(
            f"the fit holds NaN or infinite interactions (first at [..., kind, S] = {bad}); a "
            "fit of finite values never does: refit with ij.fit_and_or."
        )
    n = num_players_of(vals.shape[-1])
    order_of = orders(n)

    def one(m, x):
        kinds, sets = np.nonzero(m)
        values = x[kinds, sets]
        by_strength = np.argsort(-np.abs(values), kind="stable")
        kinds, sets, values = kinds[by_strength], sets[by_strength], values[by_strength]
        return Salient(sets, kinds, values, order_of[sets], n)

    def rec(m, x):
        return one(m, x) if m.ndim == 2 else [rec(mi, xi) for mi, xi in zip(m, x, strict=True)]

    return rec(mask, vals)


def strength_by_order(fit: AndOr, mask: jax.Array | None = None):
    """Salient strength ``Σ|I|`` and counts per kind and order: two ``(..., 2, n+1)`` arrays
    (``[..., kind, k]`` for order k; order 0 is always empty). ``mask`` defaults to
    :func:`salient_mask` with ratio 0.05.

    ``strength[kind, k] = Σ_{(S, kind)∈Ω, |S|=k} |I_kind(S)|`` and ``counts[kind, k] = #{…}``,
    the per-order curves of docs/method.md §4 (He et al. 2025, arXiv:2505.06993). ``fit`` is an
    :class:`AndOr` with leading axes ``(...)``; ``mask`` is ``(..., 2, 2**n)`` booleans.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import interjax as ij, jax.numpy as jnp, numpy as np
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> fit = ij.fit_and_or(v, q_ratio=0.0)  # AND {0, 1} = 2, OR {1, 2} = 1
      >>> strength, counts = ij.strength_by_order(fit)
      >>> np.round(strength, 3).tolist()  # [kind][order 0..3]
      [[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
      >>> counts.tolist()
      [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    _check_fit(fit)
    if mask is None:
        mask = salient_mask(fit)
    vals, mag, _ = _stacked(fit)
    if tuple(np.shape(mask)[-2:]) != tuple(vals.shape[-2:]):
        raise ValueError(
            f"mask of shape {tuple(np.shape(mask))} does not fit the fit's (..., 2, 2**n) = "
            f"{tuple(vals.shape)}; pass ij.salient_mask(fit) (AND row 0, OR row 1)."
        )
    n = num_players_of(vals.shape[-1])
    onehot = (coalition_sizes(n)[:, None] == jnp.arange(n + 1)[None, :]).astype(vals.dtype)
    strength = jnp.where(mask, mag, 0.0) @ onehot
    counts = mask.astype(vals.dtype) @ onehot
    return strength, counts
