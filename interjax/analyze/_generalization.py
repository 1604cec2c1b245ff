"""Generalization power of each salient interaction (He et al. 2025, arXiv:2505.06993;
docs/method.md §4).

An interaction ``(S, kind)`` salient for the target model on a sample is *generalizable*
(``G = 1``) iff it is also salient, of the same kind, for at least one baseline model (trained on
data the target never saw) on that sample; optionally the sign must agree too. Everything here
is a pure function of boolean masks and interaction arrays in the layout of
:func:`interjax.salient_mask`: ``(..., 2, 2**n)`` with ``[..., 0, S]`` for AND and
``[..., 1, S]`` for OR. The checks look at shapes and dtypes only, so every function here runs
inside ``jax.jit`` and ``jax.vmap``; :func:`generalization_power` gives ``H`` alone, cheaply
enough to log from a jitted training step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import num_players_of
from interjax.masks import coalition_sizes

__all__ = [
    "GeneralizationProfile",
    "generalization_labels",
    "generalization_power",
    "generalization_profile",
]


def _as_mask(mask, name: str) -> jax.Array:
    """A boolean (or 0/1 integer) mask; floats are refused, since any non-zero would read true."""
    m = mask if hasattr(mask, "dtype") else np.asarray(mask)
    if not (m.dtype == bool or jnp.issubdtype(m.dtype, jnp.integer)):
        raise TypeError(
            f"{name} must be a boolean mask (from ij.salient_mask), got dtype {m.dtype}"
        )
    return jnp.asarray(m, bool)


def _check_layout(shape, name: str) -> None:
    """``(..., 2, 2**n)``: AND and OR rows over coalitions, as :func:`interjax.salient_mask`."""
    if len(shape) < 2 or shape[-2] != 2:
        raise ValueError(
            f"{name} must have the layout (..., 2, 2**n) of ij.salient_mask (AND row 0, OR row "
            f"1), got shape {tuple(shape)}"
        )
    num_players_of(shape[-1])


def _check_sample_axis(sample_axis, values_shape) -> None:
    """``sample_axis`` indexes one of the leading axes of ``(..., 2, 2**n)``, or is None."""
    if sample_axis is None:
        return
    ndim = len(values_shape)
    lead = ndim - 2
    if (
        isinstance(sample_axis, bool)
        or not isinstance(sample_axis, int | np.integer)
        or not (0 <= sample_axis < lead or -ndim <= sample_axis <= -3)
    ):
        raise ValueError(
            f"sample_axis must index one of the {lead} leading (sample, checkpoint) axes "
            f"of values {tuple(values_shape)}, not the kind or coalition axis; got {sample_axis!r}"
        )


def _fits(shape, target_shape) -> bool:
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target_shape)) == tuple(target_shape)
    except ValueError:
        return False


def generalization_labels(
    target_mask,
    baseline_masks,
    *,
    same_sign: bool = False,
    target_values=None,
    baseline_values=None,
) -> jax.Array:
    """``G``: salient for the target and for at least one baseline, same kind (and sign).

        G(S, kind | x) = Ω_target(S, kind | x) ∧ ∃k: Ω_k(S, kind | x)
        [∧ sign I_target(S, kind | x) = sign I_k(S, kind | x) with ``same_sign``]

    with Ω the salient masks (He et al. 2025, arXiv:2505.06993; docs/method.md §4).

    Args:
      target_mask: ``(..., 2, N)`` salient mask of the target.
      baseline_masks: ``(K, ..., 2, N)`` salient masks of the K baselines on the same samples
        (leading axes may be 1 where the baselines do not vary, e.g. over checkpoints).
      same_sign: also require ``sign(I_target) == sign(I_baseline)`` for that baseline; needs
        ``target_values (..., 2, N)`` and ``baseline_values (K, ..., 2, N)``.

    Returns:
      ``(..., 2, N)`` bool, true where the target's salient interaction is generalizable.

    Example:
      n = 2 players (N = 4 coalitions), K = 2 baselines; rows are AND and OR:

      >>> from interjax.analyze import generalization_labels
      >>> target = [[False, True, True, True], [False, False, True, False]]
      >>> baselines = [
      ...     [[False, False, False, True], [False, False, True, False]],
      ...     [[False, True, False, False], [False, False, False, False]],
      ... ]
      >>> generalization_labels(target, baselines).tolist()
      [[False, True, False, True], [False, False, True, False]]
    """
    target_mask = _as_mask(target_mask, "target_mask")
    shared = _as_mask(baseline_masks, "baseline_masks")
    _check_layout(target_mask.shape, "target_mask")
    try:
        ok = jnp.broadcast_shapes(shared.shape[1:], target_mask.shape) == target_mask.shape
    except ValueError:
        ok = False
    if shared.ndim != target_mask.ndim + 1 or not ok:
        raise ValueError(
            f"baseline masks {shared.shape} must be (K, *target shape {target_mask.shape}), "
            "with size-1 axes allowed where the baselines do not vary (e.g. checkpoints)"
        )
    if same_sign:
        if target_values is None or baseline_values is None:
            raise ValueError("same_sign=True needs target_values and baseline_values")
        tv, bv = jnp.asarray(target_values), jnp.asarray(baseline_values)
        if tv.shape != target_mask.shape:
            raise ValueError(
                f"target_values {tv.shape} must have the target mask's shape "
                f"{target_mask.shape} (the interactions the mask was taken from)"
            )
        if bv.ndim != shared.ndim or not _fits(bv.shape[1:], target_mask.shape):
            raise ValueError(
                f"baseline_values {bv.shape} must be (K, *target shape {target_mask.shape}) like "
                f"the baseline masks {shared.shape}"
            )
        if bv.shape[0] != shared.shape[0]:
            raise ValueError(
                f"baseline_values hold {bv.shape[0]} baselines but baseline_masks {shared.shape[0]}"
            )
        shared = shared & (jnp.sign(bv) == jnp.sign(tv)[None])
    return target_mask & shared.any(axis=0)


class GeneralizationProfile(NamedTuple):
    """Salient strength and counts split by generalizability, kind and order.

    Arrays have shape ``(..., 2, n+1)``: ``[..., kind, k]`` for kind 0 = AND, 1 = OR and order k
    (averaged over the sample axis when ``sample_axis`` is given, so ``...`` are the remaining
    leading axes, e.g. checkpoints). :attr:`power` is the generalization power
    ``H = Σ_{Ω,G=1}|I| / Σ_Ω|I|`` (He et al. 2025, arXiv:2505.06993; docs/method.md §4).

    Example:
      >>> import jax.numpy as jnp
      >>> from interjax.analyze import GeneralizationProfile
      >>> g = jnp.array([[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])  # AND order 2: strength 2
      >>> ng = jnp.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # AND and OR order 1: 1 each
      >>> prof = GeneralizationProfile(g, ng, (g > 0) * 1.0, (ng > 0) * 1.0)
      >>> round(float(prof.power), 3), round(float(prof.count_power), 3)
      (0.5, 0.333)
    """

    generalizable_strength: jax.Array
    nongeneralizable_strength: jax.Array
    generalizable_count: jax.Array
    nongeneralizable_count: jax.Array

    @property
    def power(self) -> jax.Array:
        """``H = Σ_{Ω,G=1}|I| / Σ_Ω|I|`` over all kinds and orders, shape ``(...)``."""
        g = self.generalizable_strength.sum((-2, -1))
        total = g + self.nongeneralizable_strength.sum((-2, -1))
        return jnp.where(total > 0, g / jnp.where(total > 0, total, 1.0), jnp.nan)

    @property
    def count_power(self) -> jax.Array:
        """The same ratio with counts instead of strengths."""
        g = self.generalizable_count.sum((-2, -1))
        total = g + self.nongeneralizable_count.sum((-2, -1))
        return jnp.where(total > 0, g / jnp.where(total > 0, total, 1.0), jnp.nan)


def generalization_profile(
    values, salient, generalizable, *, sample_axis: int | None = None
) -> GeneralizationProfile:
    """Per kind and order: strength ``Σ|I|`` and count of generalizable (``G=1``) and
    non-generalizable (``G=0``) salient interactions.

        GS[kind, k] = Σ_{S∈Ω_kind, |S|=k, G=1} |I_kind(S)|,
        NG[kind, k] = Σ_{S∈Ω_kind, |S|=k, G=0} |I_kind(S)|

    and the matching counts (He et al. 2025, arXiv:2505.06993; docs/method.md §4).

    Args:
      values: ``(..., 2, N)`` interactions (``stack([fit.and_, fit.or_], -2)``).
      salient: ``(..., 2, N)`` salient mask; generalizable: ``(..., 2, N)`` labels ``G``.
      sample_axis: if given, the mean over this axis of the per-sample sums is returned (the
        paper averages over samples).

    Returns:
      :class:`GeneralizationProfile` of ``(..., 2, n+1)`` arrays (the sample axis removed when
      ``sample_axis`` is given).

    Example:
      n = 2: AND {0} = 1, AND {0, 1} = 2 and OR {1} = -1, all salient; only AND {0, 1} is
      shared with the baseline:

      >>> import jax.numpy as jnp
      >>> from interjax.analyze import generalization_labels, generalization_profile
      >>> values = jnp.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, -1.0, 0.0]])
      >>> salient = values != 0
      >>> baseline = [[[False, False, False, True], [False, False, False, False]]]
      >>> prof = generalization_profile(values, salient, generalization_labels(salient, baseline))
      >>> prof.generalizable_strength.tolist(), prof.nongeneralizable_count.tolist()
      ([[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
      >>> round(float(prof.power), 3)
      0.5
    """
    values = jnp.asarray(values)
    _check_layout(values.shape, "values")
    n = num_players_of(values.shape[-1])
    for name, mask in (("salient", salient), ("generalizable", generalizable)):
        if not _fits(np.shape(mask), values.shape):
            raise ValueError(
                f"{name} of shape {np.shape(mask)} does not fit values of shape {values.shape}; "
                "pass the masks of these interactions, (..., 2, 2**n) each"
            )
    _check_sample_axis(sample_axis, values.shape)
    onehot = (coalition_sizes(n)[:, None] == jnp.arange(n + 1)[None, :]).astype(values.dtype)
    mag = jnp.abs(values)
    sal = jnp.asarray(salient, bool)
    gen = sal & jnp.asarray(generalizable, bool)
    non = sal & ~gen

    def per_order(mask, weights):
        return jnp.where(mask, weights, 0.0) @ onehot

    out = GeneralizationProfile(
        per_order(gen, mag), per_order(non, mag), per_order(gen, 1.0), per_order(non, 1.0)
    )
    if sample_axis is not None:  # (..., 2, n+1) keeps the leading axes of (..., 2, N)
        out = GeneralizationProfile(*(x.mean(axis=sample_axis) for x in out))
    return out


def generalization_power(
    target_interactions,
    target_salient,
    baseline_salient,
    *,
    same_sign: bool = False,
    baseline_interactions=None,
    sample_axis: int | None = None,
) -> jax.Array:
    """The generalization power ``H = Σ_{Ω,G=1}|I| / Σ_Ω|I|`` in one pure, jittable step.

    ``G`` are the labels of :func:`generalization_labels` and the sums run over both kinds and
    all orders (and over ``sample_axis`` when given), so ``H`` equals
    ``generalization_profile(...).power`` (He et al. 2025, arXiv:2505.06993; docs/method.md §4)
    without the split by order. ``NaN`` where nothing is salient. Only shapes and dtypes are
    checked (no host transfer, no branch on values): call it inside a jitted training step to
    log ``H``; it traces once per shape.

    Args:
      target_interactions: ``(..., 2, N)`` interactions of the target (AND row 0, OR row 1).
      target_salient: ``(..., 2, N)`` salient mask of the target (:func:`interjax.salient_mask`).
      baseline_salient: ``(K, ..., 2, N)`` salient masks of the K baseline models on the same
        samples (size-1 axes where they do not vary).
      same_sign: also require the signs to agree; needs ``baseline_interactions``
        ``(K, ..., 2, N)``.
      sample_axis: a leading axis of ``target_interactions`` to pool over (the paper's mean
        over samples: ``H = mean Σ_{G=1}|I| / mean Σ_Ω|I|``); default: one ``H`` per sample.

    Returns:
      ``(...)`` float array (``sample_axis`` removed when given).

    Example:
      n = 2: AND {0} = 1, AND {0, 1} = 2 and OR {1} = -1 are salient; one baseline shares only
      AND {0, 1}, so ``H = 2 / 4``:

      >>> import jax, jax.numpy as jnp
      >>> from interjax.analyze import generalization_power
      >>> values = jnp.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, -1.0, 0.0]])
      >>> baseline = jnp.array([[[False, False, False, True], [False, False, False, False]]])
      >>> float(jax.jit(generalization_power)(values, values != 0, baseline))
      0.5
    """
    values = jnp.asarray(target_interactions)
    _check_layout(values.shape, "target_interactions")
    salient = _as_mask(target_salient, "target_salient")
    if not _fits(salient.shape, values.shape):
        raise ValueError(
            f"target_salient of shape {tuple(salient.shape)} does not fit target_interactions "
            f"of shape {tuple(values.shape)}; pass the mask of these interactions"
        )
    salient = jnp.broadcast_to(salient, values.shape)
    _check_sample_axis(sample_axis, values.shape)
    labels = generalization_labels(
        salient,
        baseline_salient,
        same_sign=same_sign,
        target_values=values if same_sign else None,
        baseline_values=baseline_interactions,
    )
    mag = jnp.abs(values)
    axes = (-2, -1) if sample_axis is None else (sample_axis % values.ndim, -2, -1)
    num = jnp.where(labels, mag, 0.0).sum(axes)
    total = jnp.where(salient, mag, 0.0).sum(axes)
    return jnp.where(total > 0, num / jnp.where(total > 0, total, 1.0), jnp.nan)
