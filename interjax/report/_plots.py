"""Plots of an analysis (host side only; each returns ``(fig, axes)`` and never shows it)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_generalization_by_order",
    "plot_patch_interactions",
    "plot_power_and_loss",
    "plot_removal",
]

ORDER_GROUPS = ((1, 1), (2, 2), (3, 3), (4, 99))


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _group_label(lo, hi):
    return f"order {lo}" if lo == hi else f"order ≥ {lo}"


def plot_generalization_by_order(summary: dict, group: str = "all"):
    """Generalizable (solid) and non-generalizable (dashed) salient strength over training, per
    kind (AND, OR) and order group."""
    plt = _plt()
    prof = summary[f"profile_{group}"]
    steps = np.asarray(summary["steps"])
    g = np.asarray(prof["generalizable_strength"])  # (T, 2, n+1)
    ng = np.asarray(prof["nongeneralizable_strength"])
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


def plot_power_and_loss(summary: dict, train_loss=None, test_loss=None):
    """Generalization power H over training with train/test loss and the phase boundaries."""
    plt = _plt()
    steps = np.maximum(np.asarray(summary["steps"]), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, style in (("all", "-"), ("train", ":"), ("test", "-.")):
        if f"profile_{group}" in summary:
            ax.plot(
                steps,
                summary[f"profile_{group}"]["power"],
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
    for b, name in zip(
        summary["phases"]["boundary_steps"], ("end of phase 1", "start of phase 3"), strict=True
    ):
        if b is not None:
            ax.axvline(max(b, 1), color="k", ls="--", lw=0.8)
            ax.text(max(b, 1), 1.0, name, rotation=90, va="top", ha="right", fontsize=7)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig, (ax, ax2)


def plot_removal(summary: dict):
    """Cross-entropy on train and test samples before and after removing the
    non-generalizable interactions, over training."""
    plt = _plt()
    steps = np.maximum(np.asarray(summary["steps"]), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, color in (("train", "C1"), ("test", "C3")):
        r = summary["removal"].get(group)
        if r:
            ax.plot(steps, r["loss_before"], color=color, label=f"{group}, before")
            ax.plot(steps, r["loss_after"], color=color, ls="--", label=f"{group}, after removal")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy of the analysed samples")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def plot_patch_interactions(image, membership, records, *, top: int = 6):
    """The strongest interactions of one sample drawn on the image: one panel per interaction,
    its patches outlined (AND in blue, OR in orange), value in the title."""
    plt = _plt()
    image = np.asarray(image)
    if image.ndim == 3:
        image = image.mean(-1)
    membership = np.asarray(membership)
    records = list(records)[:top]
    fig, axes = plt.subplots(1, max(len(records), 1), figsize=(2.2 * max(len(records), 1), 2.4))
    axes = np.atleast_1d(axes)
    for ax, rec in zip(axes, records, strict=False):
        ax.imshow(image, cmap="gray_r")
        mask = np.isin(membership, rec["players"]).astype(float)
        ax.contour(
            mask,
            levels=[0.5],
            colors="tab:blue" if rec["kind"] == "and" else "tab:orange",
            linewidths=2,
        )
        ax.set_title(f"{rec['kind'].upper()} {rec['value']:+.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes
