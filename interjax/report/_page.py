"""The output folder of an analysis: JSON, npz, PNG plots and one markdown + HTML page.

Every file is written atomically (temporary file, then rename), so a stopped run never leaves a
half-written file and a finished one is never partly overwritten.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interjax._files import write_bytes_atomic, write_json_atomic, write_npz_atomic
from interjax.report._plots import (
    _as_summary,
    plot_generalization_by_order,
    plot_patch_interactions,
    plot_power_and_loss,
    plot_removal,
)

if TYPE_CHECKING:
    from interjax.analyze import Summary

__all__ = ["save_figure", "write_report"]


def save_figure(fig, path) -> Path:
    """Write a matplotlib figure as PNG atomically and close it.

    Args:
      fig: a matplotlib figure (e.g. the first item of :func:`plot_removal`'s result).
      path: the PNG file to write (temporary file, then rename).

    Returns:
      The written path.

    Example:
      >>> import tempfile, matplotlib.pyplot as plt
      >>> from pathlib import Path
      >>> from interjax.report import save_figure
      >>> fig = plt.figure(figsize=(1, 1))
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     path = save_figure(fig, Path(tmp, "fig.png"))
      ...     print(path.name, path.read_bytes()[1:4], plt.fignum_exists(fig.number))
      fig.png b'PNG' False
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes_atomic(path, buf.getvalue())


def _fmt(x, digits=3):
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if np.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def _ids(ids: list) -> str:
    return ", ".join(map(str, ids[:20])) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")


def _run_lines(run: dict | None) -> list[str]:
    """What was analysed (``Summary.run``, set by ``interjax analyze``): checkpoints, model,
    players, mask value, samples and baselines, so the page says how its numbers came about."""
    if not run:
        return []
    b = run.get("baselines", {})
    if "from" in b:
        bases = "; ".join(
            f"{x['checkpoints']} (step {x['step']}, {x['layout']})" for x in b["from"]
        )
        baselines = f"{b['count']} read from {bases}"
    else:
        baselines = (
            f"{b.get('count')} trained here ({b.get('trained_on')}; seeds {b.get('seeds')}, "
            f"{b.get('steps')} steps of Adam at {b.get('learning_rate')}, batch "
            f"{b.get('batch_size')})"
        )
    samples = run.get("samples", {})
    players = run.get("players", {})
    return [
        "## The run",
        "",
        "| | |",
        "|---|---|",
        f"| checkpoints | {run.get('checkpoints')} (variables at {run.get('layout')}) |",
        f"| model | {run.get('model')} ({run.get('model_kind')}, inference mode; inputs "
        f"{run.get('input_dtype')}) |",
        f"| data | {run.get('data')} |",
        f"| players | {players.get('spec')} ({players.get('n')} {players.get('kind')}) |",
        f"| masked players become | {run.get('mask')} |",
        f"| training samples (x_train rows) | {_ids(samples.get('train_ids', []))} |",
        f"| held-out samples (x_test rows) | {_ids(samples.get('test_ids', []))} |",
        f"| baseline models | {baselines}; protocol {run.get('protocol')} |",
        "",
    ]


def _markdown(title, summary: Summary, metrics, figures) -> str:
    ph = summary.phases
    lines = [f"# {title}", ""]
    s = summary.settings
    lines += [
        f"{s['n']} players, {s['num_baselines']} baseline models, salient threshold "
        f"{s['ratio']:.0%} of the strongest interaction, q_ratio {s['q_ratio']}, solver "
        f"tolerance {s['tol']} (largest certified relative gap reached: "
        f"{summary.max_relative_gap:.1e})"
        + (f", transforms in {s['precision']}." if "precision" in s else "."),
        "",
    ]
    lines += _run_lines(summary.run)
    b1, b2 = ph.boundary_steps
    lines += [
        "## Three phases",
        "",
        f"**{'Found' if ph.found else 'Not found'}**: {ph.reason}. Rule: {ph.as_dict()['rule']}.",
        "",
        f"End of phase 1: step {_fmt(b1)}; start of phase 3: step {_fmt(b2)}.",
        "",
    ]
    if summary.loss_gap is not None:
        lg = summary.loss_gap
        lines += [
            "## Loss gap",
            "",
            f"Correlation over checkpoints between the train-test loss gap and the "
            f"non-generalizable strength: **{_fmt(lg.correlation)}**. The gap reaches "
            f"{lg.onset_fraction:.0%} of its maximum at step {_fmt(lg.onset_step)} "
            f"(end of phase 1: step {_fmt(b1)}).",
            "",
        ]
    rem = summary.removal
    if rem.gap_before is not None:
        before, after = rem.loss_before, rem.loss_after
        lines += [
            "## Removing the non-generalizable interactions",
            "",
            "Cross-entropy of the analysed samples at the last checkpoint, before → after "
            "removal: train "
            f"{_fmt(before['train'][-1])} → {_fmt(after['train'][-1])}, "
            f"test {_fmt(before['test'][-1])} → {_fmt(after['test'][-1])}"
            f"; test − train gap {_fmt(rem.gap_before[-1])} → {_fmt(rem.gap_after[-1])}.",
            "",
        ]
    lines += [
        "## Per checkpoint",
        "",
        "| step | H (all) | H (train) | H (test) | train loss | test loss |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    power = {g: p.power.tolist() for g, p in summary.profiles.items()}  # Python floats
    for t, step in enumerate(summary.steps):

        def h(group, t=t):
            return _fmt(power[group][t]) if group in power else "–"

        tr = _fmt(metrics["train_loss"][t]) if metrics else "–"
        te = _fmt(metrics["test_loss"][t]) if metrics else "–"
        lines.append(f"| {step} | {h('all')} | {h('train')} | {h('test')} | {tr} | {te} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in figures]
    return "\n".join(lines) + "\n"


def _html(markdown_text: str) -> str:
    """A small, dependency-free rendering of the page (headings, tables, images, text)."""
    out = [
        "<!doctype html><meta charset='utf-8'><title>interjax report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:100%}</style>",
    ]
    in_table = False
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            name = line[line.index("(") + 1 : -1]
            out.append(f"<p><img src='{html.escape(name)}' alt='{html.escape(name)}'></p>")
        elif line:
            text = html.escape(line).replace("**", "")
            out.append(f"<p>{text}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out) + "\n"


def write_report(
    out_dir,
    summary: Summary | dict,
    arrays: dict,
    *,
    title: str = "interjax analysis",
    metrics: dict | None = None,
    image=None,
    membership=None,
    image_records=None,
) -> Path:
    """Write ``summary.json``, ``arrays.npz``, the PNG plots and ``report.md`` / ``report.html``
    into ``out_dir``; returns the markdown page's path.

    The page states the phases (docs/method.md §5, with the rule used), the loss gap, the removal
    experiment and ``H`` per checkpoint (He et al. 2025, arXiv:2505.06993). Every file is
    written atomically.

    Args:
      out_dir: output folder (created if missing).
      summary: a :class:`interjax.analyze.Summary` (T checkpoints; from
        :func:`interjax.analyze.summarize`), or its ``as_dict()`` (e.g. a loaded
        ``summary.json``); ``summary.json`` is its ``as_dict()`` with ``metrics`` added.
      arrays: named NumPy arrays for ``arrays.npz`` (e.g. ``Trajectory.arrays()``).
      title: the page's heading.
      metrics: optional ``{"train_loss": (T,), "test_loss": (T,)}``, tabulated and plotted.
      image, membership, image_records: optional, for :func:`plot_patch_interactions` (image
        ``(H, W[, C])``, membership ``(H, W)``, records of one sample).

    Returns:
      ``out_dir / "report.md"``.

    Example:
      >>> import tempfile, jax.numpy as jnp, numpy as np, interjax as ij
      >>> from pathlib import Path
      >>> from interjax.analyze import summarize, trajectory
      >>> from interjax.report import write_report
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> bases = [jnp.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> traj = trajectory(
      ...     model, ckpts, bases, x, y, ij.Players.features(3), steps=[0, 10], is_test=[0, 1]
      ... )
      >>> metrics = {"train_loss": [0.69, 0.3], "test_loss": [0.69, 0.6]}
      >>> summary = summarize(traj, **metrics)
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     page = write_report(tmp, summary, traj.arrays(), metrics=metrics)
      ...     print(page.read_text().splitlines()[0])
      ...     print(sorted(p.name for p in Path(tmp).iterdir() if p.suffix != ".png"))
      ...     print(sorted(p.name for p in Path(tmp).glob("*.png")))
      # interjax analysis
      ['arrays.npz', 'report.html', 'report.md', 'summary.json']
      ['generalization_by_order.png', 'power_and_loss.png', 'removal.png']
    """
    summary = _as_summary(summary)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "summary.json", {**summary.as_dict(), "metrics": metrics})
    write_npz_atomic(out / "arrays.npz", **arrays)
    figures = []
    train = metrics["train_loss"] if metrics else None
    test = metrics["test_loss"] if metrics else None
    for name, make in (
        ("generalization_by_order.png", lambda: plot_generalization_by_order(summary)),
        ("power_and_loss.png", lambda: plot_power_and_loss(summary, train, test)),
        ("removal.png", lambda: plot_removal(summary)),
    ):
        save_figure(make()[0], out / name)
        figures.append(name)
    if image is not None and image_records:
        save_figure(
            plot_patch_interactions(image, membership, image_records)[0],
            out / "interactions_on_image.png",
        )
        figures.append("interactions_on_image.png")
    text = _markdown(title, summary, metrics, figures)
    write_bytes_atomic(out / "report.md", text.encode())
    write_bytes_atomic(out / "report.html", _html(text).encode())
    return out / "report.md"
