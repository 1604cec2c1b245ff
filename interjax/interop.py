"""Interop with shapiq (Muschalik et al. 2024): interjax results as ``shapiq.InteractionValues``.

shapiq is optional (``pip install shapiq``, or ``'interjax[dev]'``); it is imported only when
:func:`to_shapiq` is called. Host-side only: nothing here is traced.
"""

from __future__ import annotations

import numpy as np

from interjax._core import num_players_of, refuse_nonfinite
from interjax.masks import graded_order, orders
from interjax.solve import AndOr
from interjax.transform import (
    and_interactions,
    banzhaf_values,
    or_interactions,
    pairwise_shapley_interactions,
    shapley_values,
)

__all__ = ["to_shapiq"]

INDICES = ("Moebius", "Co-Moebius", "SV", "BV", "SII")


def _import_shapiq():
    try:
        import shapiq
    except ImportError as e:  # pragma: no cover - exercised only without shapiq
        raise ImportError(
            "to_shapiq needs shapiq, an optional dependency: pip install shapiq "
            "(or pip install 'interjax[dev]')"
        ) from e
    return shapiq


def _one_sample(x: np.ndarray, trailing: int, sample: int | None, what: str) -> np.ndarray:
    lead = x.shape[: x.ndim - trailing]
    if not lead:
        if sample is not None:
            raise ValueError(f"sample={sample} given, but {what} has no batch axis")
        return x
    if sample is None:
        raise ValueError(
            f"{what} has batch axes {lead}; pick one sample with sample=i (0 <= i < {lead[0]})"
        )
    flat = x.reshape(-1, *x.shape[x.ndim - trailing :])
    if not 0 <= sample < flat.shape[0]:
        raise ValueError(f"sample={sample} is out of range for {flat.shape[0]} samples")
    return flat[sample]


def _num_players(size: int, what: str) -> int:
    try:
        return num_players_of(size)
    except ValueError as err:
        raise ValueError(f"{what} must have 2**n entries on its last axis: {err}") from None


def _co_moebius(i_or: np.ndarray) -> np.ndarray:
    """shapiq's co-Möbius coefficients from OR interactions: ``m*(S) = (-1)^{|S|+1} I_or(S)``
    for ``S ≠ ∅`` and ``m*(∅) = I_or(∅)``."""
    size = orders(_num_players(i_or.shape[-1], "OR interactions"))
    sign = np.where(size % 2 == 1, 1.0, -1.0)
    sign[0] = 1.0
    return sign * i_or


def _graded(by_mask: np.ndarray, n: int, max_order: int):
    """``(values, lookup)`` over coalitions of size ≤ max_order, shapiq's size-graded keys."""
    perm = graded_order(n)
    perm = perm[orders(n)[perm] <= max_order]
    lookup = {tuple(i for i in range(n) if m >> i & 1): k for k, m in enumerate(perm.tolist())}
    return by_mask[perm], lookup


def _from_values(v: np.ndarray, index: str, n: int):
    """``(by_mask, max_order, baseline_value)`` of an exact index of the values ``v``."""
    if index == "Moebius":
        return np.asarray(and_interactions(v)), n, v[0]
    if index == "Co-Moebius":
        return _co_moebius(np.asarray(or_interactions(v))), n, v[0]
    i_and = np.asarray(and_interactions(v))
    size = orders(n)
    out = np.zeros(2**n)
    if index == "SV":
        out[0] = v[0]
        out[1 << np.arange(n)] = np.asarray(shapley_values(v))
        return out, 1, v[0]
    if index == "BV":  # BII(∅) = Σ_T I_and(T) / 2^|T| (the mean of v)
        out[0] = np.sum(i_and / 2.0**size)
        out[1 << np.arange(n)] = np.asarray(banzhaf_values(v))
        return out, 1, v[0]
    # SII up to order 2: SII(∅) = Σ_T I_and(T)/(|T|+1), SII({i}) = φ_i, SII({i,j}) pairwise
    out[0] = np.sum(i_and / (size + 1.0))
    out[1 << np.arange(n)] = np.asarray(shapley_values(v))
    pair = np.asarray(pairwise_shapley_interactions(v))
    i, j = np.triu_indices(n, 1)
    out[(1 << i) | (1 << j)] = pair[i, j]
    return out, 2, v[0]


def to_shapiq(
    result,
    index: str | None = None,
    *,
    kind: str = "and",
    sample: int | None = None,
    max_order: int | None = None,
):
    """An interjax result as ``shapiq.InteractionValues`` (keys: size-graded player tuples).

    Two kinds of input:

    - **values** ``v`` of shape ``(..., 2**n)`` (from :func:`interjax.evaluate`, bitmask order)
      and an exact ``index``: ``"Moebius"`` (AND interactions, Harsanyi dividends),
      ``"Co-Moebius"`` (from the OR interactions: shapiq's co-Möbius coefficients are
      ``m*(S) = (-1)^{|S|+1} I_or(S)`` for ``S ≠ ∅``, so even-order signs flip), ``"SV"``
      (Shapley values, with ``v(∅)`` under ``()``), ``"BV"`` (Banzhaf values) or ``"SII"``
      (Shapley interactions up to order 2: Shapley values and the pairwise index). These equal
      shapiq's ``ExactComputer`` on the same game (tested), computed in O(n·2^n).
    - an :class:`interjax.AndOr` fit, ``kind="and"``: its AND interactions as index
      ``"Moebius"`` (the Möbius transform of ``v_and``); ``kind="or"``: its OR interactions
      as shapiq's ``"Co-Moebius"`` (signs as above), the co-Möbius transform of ``v_or``.

    shapiq's plots then work as usual (``iv.plot_network()``, ``iv.plot_upset()``,
    ``iv.plot_force()``, ``iv.plot_waterfall()``); ``baseline_value`` is ``v(∅)`` (for a fit,
    the ``∅`` entry of its part).

    Args:
      result: values ``(..., 2**n)`` or an ``AndOr`` fit, with optional leading batch axes.
      index: one of ``"Moebius"``, ``"Co-Moebius"``, ``"SV"``, ``"BV"``, ``"SII"``; for values
        only (a fit's index follows from ``kind``).
      kind: ``"and"`` or ``"or"``; for a fit only.
      sample: which sample of a batch (flat index over the leading axes); required when
        ``result`` has batch axes.
      max_order: keep interactions up to this order (default: all the index has).

    Returns:
      ``shapiq.InteractionValues`` with ``n_players = n``, ``estimated=False`` and
      ``estimation_budget = 2**n`` (the number of model evaluations).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> v = jnp.array([0.0, 1.0, 2.0, 5.0])  # v(∅), v({0}), v({1}), v({0, 1})
      >>> iv = ij.to_shapiq(v, "Moebius")
      >>> {k: float(x) for k, x in iv.dict_values.items()}
      {(): 0.0, (0,): 1.0, (1,): 2.0, (0, 1): 2.0}
      >>> float(ij.to_shapiq(v, "SV")[(1,)])
      3.0
    """
    shapiq = _import_shapiq()
    if isinstance(result, AndOr):
        if index is not None:
            raise ValueError("an AndOr fit takes kind='and' or kind='or', not index=")
        if kind not in ("and", "or"):
            raise ValueError(f"kind must be 'and' or 'or', got {kind!r}")
        part = np.asarray(result.and_ if kind == "and" else result.or_, np.float64)
        part = _one_sample(part, 1, sample, "the fit")
        n = _num_players(part.shape[-1], "the fit")
        index = "Moebius" if kind == "and" else "Co-Moebius"
        by_mask = part if kind == "and" else _co_moebius(part)
        top, baseline = n, by_mask[0]
    else:
        if index not in INDICES:
            raise ValueError(f"index must be one of {INDICES} for a value vector, got {index!r}")
        v = np.asarray(result, np.float64)
        if v.ndim == 0:
            raise ValueError("to_shapiq takes values of shape (..., 2**n) or an AndOr fit")
        n = _num_players(v.shape[-1], "the values")
        v = _one_sample(v, 1, sample, "the values")
        refuse_nonfinite(v, "v", "shapiq needs finite values.", coalitions=True)
        by_mask, top, baseline = _from_values(v, index, n)
    if max_order is not None:
        if not 0 <= max_order:
            raise ValueError(f"max_order must be >= 0, got {max_order}")
        top = min(top, max_order)
    values, lookup = _graded(by_mask, n, top)
    return shapiq.InteractionValues(
        values,
        index=index,
        max_order=top,
        n_players=n,
        min_order=0,
        interaction_lookup=lookup,
        estimated=False,
        estimation_budget=2**n,
        baseline_value=float(baseline),
    )
