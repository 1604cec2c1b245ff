"""Plots of an analysis (host side only; each returns ``(fig, axes)`` and never shows it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from interjax.analyze import Summary

__all__ = [
    "plot_generalization_by_order",
    "plot_patch_interactions",
    "plot_power_and_loss",
    "plot_removal",
]

ORDER_GROUPS = ((1, 1), (2, 2), (3, 3), (4, 99))


def _plt():
    """pyplot, on the headless Agg backend unless the caller already chose one (a notebook's
    inline backend, ``MPLBACKEND``, or pyplot imported with its own backend): switching the
    backend under a notebook would stop its figures from showing."""
    import os
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _as_summary(summary):
    """A :class:`interjax.analyze.Summary`; a dict in ``summary.json``'s layout is read with
    ``Summary.from_dict``."""
    from interjax.analyze import Summary

    if isinstance(summary, Summary):
        return summary
    if isinstance(summary, dict):
        return Summary.from_dict(summary)
    raise TypeError(
        f"expected an interjax.analyze.Summary (from summarize) or its as_dict(), got "
        f"{type(summary).__name__}"
    )


def _outline_segments(mask: np.ndarray) -> list:
    """Pixel-edge segments around the ``True`` cells of a 2-D mask (imshow coordinates: pixel
    ``(r, c)`` spans ``[c-½, c+½] × [r-½, r+½]``), so a patch is outlined along its border."""
    padded = np.pad(mask, 1)
    segments = []
    for r, c in zip(*np.nonzero(mask), strict=True):
        y, x = r - 0.5, c - 0.5
        if not padded[r, c + 1]:  # row above
            segments.append([(x, y), (x + 1, y)])
        if not padded[r + 2, c + 1]:  # row below
            segments.append([(x, y + 1), (x + 1, y + 1)])
        if not padded[r + 1, c]:  # left
            segments.append([(x, y), (x, y + 1)])
        if not padded[r + 1, c + 2]:  # right
            segments.append([(x + 1, y), (x + 1, y + 1)])
    return segments


def _group_label(lo, hi):
    return f"order {lo}" if lo == hi else f"order ≥ {lo}"


def plot_generalization_by_order(summary: Summary | dict, group: str = "all"):
    """Generalizable (solid) and non-generalizable (dashed) salient strength over training, per
    kind (AND, OR) and order group.

    Plots ``Σ_{|S|=k, G=1}|I|`` and ``Σ_{|S|=k, G=0}|I|`` (means over samples) for orders 1, 2, 3
    and ≥ 4 against the training step (log scale), as in He et al. 2025, arXiv:2505.06993
    (docs/method.md §4-5).

    Args:
      summary: a :class:`interjax.analyze.Summary` (or its ``as_dict()``); reads ``steps``
        ``(T,)`` and ``profiles[group]``'s ``generalizable_strength`` and
        ``nongeneralizable_strength``, each ``(T, 2, n+1)``.
      group: ``"all"``, ``"train"`` or ``"test"`` samples.

    Returns:
      ``(fig, axes)`` with two axes: AND, OR.

    Example:
      >>> import jax.numpy as jnp, numpy as np, matplotlib.pyplot as plt, interjax as ij
      >>> from interjax.analyze import summarize, trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> players, steps = ij.Players.features(3), [0, 10]
      >>> traj = trajectory(model, ckpts, ckpts[1:], x, y, players, steps=steps, is_test=[0, 1])
      >>> from interjax.report import plot_generalization_by_order
      >>> fig, axes = plot_generalization_by_order(summarize(traj))
      >>> len(axes), axes[0].get_title()
      (2, 'AND interactions (all samples)')
      >>> plt.close(fig)
    """
    plt = _plt()
    summary = _as_summary(summary)
    prof = summary.profiles[group]
    steps = np.asarray(summary.steps)
    g = np.asarray(prof.generalizable_strength)  # (T, 2, n+1)
    ng = np.asarray(prof.nongeneralizable_strength)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = np.maximum(steps, 1)
    for kind, ax in enumerate(axes):
        for c, (lo, hi) in zip(colors, ORDER_GROUPS, strict=False):
            sl = slice(lo, min(hi, g.shape[-1] - 1) + 1)
            ax.plot(x, g[:, kind, sl].sum(-1), color=c, label=f"{_group_label(lo, hi)} G=1")
            ax.plot(
                x, ng[:, kind, sl].sum(-1), color=c, ls="--", label=f"{_group_label(lo, hi)} G=0"
            )
        ax.set_xscale("log")
        ax.set_title(("AND", "OR")[kind] + f" interactions ({group} samples)")
        ax.set_xlabel("training step")
    axes[0].set_ylabel("salient strength Σ|I| (mean over samples)")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig, axes


def plot_power_and_loss(summary: Summary | dict, train_loss=None, test_loss=None):
    """Generalization power H over training with train/test loss and the phase boundaries.

    ``H = Σ_{Ω,G=1}|I| / Σ_Ω|I|`` per checkpoint (docs/method.md §4) on the left axis, losses on the
    right, dashed lines at the phase boundaries of :func:`interjax.analyze.detect_phases`
    (docs/method.md §5; He et al. 2025, arXiv:2505.06993).

    Args:
      summary: a :class:`interjax.analyze.Summary` (or its ``as_dict()``); reads ``steps``
        ``(T,)``, ``profiles[group].power`` ``(T,)`` for the groups present and
        ``phases.boundary_steps``.
      train_loss, test_loss: optional ``(T,)`` losses.

    Returns:
      ``(fig, (ax, ax2))``: the power axis and the twin loss axis.

    Example:
      >>> import jax.numpy as jnp, numpy as np, matplotlib.pyplot as plt, interjax as ij
      >>> from interjax.analyze import summarize, trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> players, steps = ij.Players.features(3), [0, 10]
      >>> traj = trajectory(model, ckpts, ckpts[1:], x, y, players, steps=steps, is_test=[0, 1])
      >>> from interjax.report import plot_power_and_loss
      >>> fig, (ax, ax2) = plot_power_and_loss(summarize(traj), [0.7, 0.4], [0.7, 0.5])
      >>> len(ax.lines), len(ax2.lines), ax.get_ylabel()
      (3, 2, 'generalization power H')
      >>> plt.close(fig)
    """
    summary = _as_summary(summary)
    plt = _plt()
    steps = np.maximum(np.asarray(summary.steps), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, style in (("all", "-"), ("train", ":"), ("test", "-.")):
        if group in summary.profiles:
            ax.plot(
                steps,
                summary.profiles[group].power,
                style,
                color="C0",
                label=f"H ({group} samples)",
            )
    ax.set_ylabel("generalization power H")
    ax.set_ylim(0, 1.05)
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax2 = ax.twinx()
    if train_loss is not None:
        ax2.plot(steps, train_loss, color="C1", label="train loss")
        ax2.plot(steps, test_loss, color="C3", label="test loss")
        ax2.set_ylabel("cross-entropy")
    marks: dict[int, list[str]] = {}  # boundaries at the same step share one line and label
    for b, name in zip(
        summary.phases.boundary_steps, ("end of phase 1", "start of phase 3"), strict=True
    ):
        if b is not None:
            marks.setdefault(max(int(b), 1), []).append(name)
    for b, names in marks.items():
        ax.axvline(b, color="k", ls="--", lw=0.8)
        ax.text(b, 1.0, " = ".join(names), rotation=90, va="top", ha="right", fontsize=7)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig, (ax, ax2)


def plot_removal(summary: Summary | dict):
    """Cross-entropy on train and test samples before and after removing the
    non-generalizable interactions, over training.

    Before: ``softplus(-v(x))``; after: ``softplus(-ṽ(x))`` with
    ``ṽ(x) = v(x) - Σ_{G=0} I(S|x)`` (:func:`interjax.analyze.removal_experiment`; docs/method.md
    §5; He et al. 2025, arXiv:2505.06993).

    Args:
      summary: a :class:`interjax.analyze.Summary` (or its ``as_dict()``); reads ``steps``
        ``(T,)`` and ``removal.loss_before[group]``, ``removal.loss_after[group]`` ``(T,)``
        for ``train`` and ``test``.

    Returns:
      ``(fig, ax)``.

    Example:
      >>> import jax.numpy as jnp, numpy as np, matplotlib.pyplot as plt, interjax as ij
      >>> from interjax.analyze import summarize, trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> players, steps = ij.Players.features(3), [0, 10]
      >>> traj = trajectory(model, ckpts, ckpts[1:], x, y, players, steps=steps, is_test=[0, 1])
      >>> from interjax.report import plot_removal
      >>> fig, ax = plot_removal(summarize(traj))
      >>> len(ax.lines), ax.get_xscale()
      (4, 'log')
      >>> plt.close(fig)
    """
    summary = _as_summary(summary)
    plt = _plt()
    steps = np.maximum(np.asarray(summary.steps), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    rem = summary.removal
    for group, color in (("train", "C1"), ("test", "C3")):
        if group in rem.loss_before:
            ax.plot(steps, rem.loss_before[group], color=color, label=f"{group}, before")
            ax.plot(
                steps, rem.loss_after[group], color=color, ls="--", label=f"{group}, after removal"
            )
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy of the analysed samples")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def plot_patch_interactions(image, membership, records, *, top: int = 6):
    """The strongest interactions of one sample drawn on the image: one panel per interaction,
    its patches outlined (AND in blue, OR in orange), value in the title.

    Args:
      image: ``(H, W)`` or ``(H, W, C)`` (channels are averaged for display).
      membership: ``(H, W)`` player id of each pixel (``Players.membership`` of
        :meth:`interjax.Players.patches`).
      records: dicts with ``players`` (list of ids), ``kind`` (``"and"`` or ``"or"``) and
        ``value``, strongest first (e.g. ``interjax.salient(fit).as_records()``).
      top: at most this many panels.

    Returns:
      ``(fig, axes)`` with one axis per drawn record.

    Example:
      >>> import numpy as np, matplotlib.pyplot as plt, interjax as ij
      >>> from interjax.report import plot_patch_interactions
      >>> players = ij.Players.patches((4, 4), 2)  # n = 4 patches of 2×2 pixels
      >>> records = [
      ...     {"players": [0, 3], "kind": "and", "value": 1.5},
      ...     {"players": [1], "kind": "or", "value": -0.4},
      ... ]
      >>> fig, axes = plot_patch_interactions(np.eye(4), players.membership, records)
      >>> len(axes), axes[0].get_title()
      (2, 'AND +1.50')
      >>> plt.close(fig)
    """
    plt = _plt()
    image = np.asarray(image)
    if image.ndim == 3:
        image = image.mean(-1)
    membership = np.asarray(membership)
    records = list(records)[:top]
    from matplotlib.collections import LineCollection

    panels = max(len(records), 1)
    width = min(2.2 * panels, 11.0)  # panels shrink rather than the figure growing without end
    fig, axes = plt.subplots(1, panels, figsize=(width, 2.4 * width / (2.2 * panels) + 0.3))
    axes = np.atleast_1d(axes)
    for ax, rec in zip(axes, records, strict=False):
        ax.imshow(image, cmap="gray_r")
        mask = np.isin(membership, rec["players"])
        color = "tab:blue" if rec["kind"] == "and" else "tab:orange"
        ax.add_collection(LineCollection(_outline_segments(mask), colors=color, linewidths=2))
        ax.set_xlim(-0.5, image.shape[1] - 0.5)
        ax.set_ylim(image.shape[0] - 0.5, -0.5)
        ax.set_title(f"{rec['kind'].upper()} {rec['value']:+.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes
