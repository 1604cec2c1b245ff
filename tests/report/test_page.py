"""The report folder: every file written, atomically, readable."""

import dataclasses
import json

import numpy as np
import pytest

from interjax import analyze, report


def small_trajectory(seed=0, t=5, b=4, n=3, k=2):
    rng = np.random.default_rng(seed)
    size = 2**n
    inter = rng.normal(size=(t, b, 2, size))
    sal = rng.random(inter.shape) < 0.4
    gen = sal & (rng.random(inter.shape) < 0.5)
    return analyze.Trajectory(
        steps=np.array([0, 10, 100, 300, 1000][:t]),
        is_test=np.array([False, False, True, True]),
        targets=np.zeros(b, int),
        values=rng.normal(size=(t, b, size)),
        interactions=inter,
        salient=sal,
        generalizable=gen,
        baseline_interactions=rng.normal(size=(k, b, 2, size)),
        baseline_salient=rng.random((k, b, 2, size)) < 0.4,
        relative_gap=np.full((t, b), 1e-4),
        baseline_relative_gap=np.full((k, b), 1e-4),
        settings={
            "q_ratio": 0.02,
            "ratio": 0.05,
            "same_sign": False,
            "tol": 1e-3,
            "n": n,
            "num_baselines": k,
        },
    )


def test_write_report(tmp_path):
    traj = small_trajectory()
    metrics = {
        "steps": traj.steps.tolist(),
        "train_loss": [0.7, 0.4, 0.2, 0.1, 0.05],
        "test_loss": [0.7, 0.45, 0.3, 0.35, 0.5],
    }
    summary = analyze.summarize(traj, metrics["train_loss"], metrics["test_loss"])
    records = [
        {"players": [0, 1], "kind": "and", "value": 1.5},
        {"players": [2], "kind": "or", "value": -0.5},
    ]
    page = report.write_report(
        tmp_path,
        summary,
        traj.arrays(),
        metrics=metrics,
        image=np.random.default_rng(0).random((4, 4)),
        membership=np.arange(16).reshape(4, 4) // 8,
        image_records=records,
    )
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "summary.json",
        "arrays.npz",
        "generalization_by_order.png",
        "power_and_loss.png",
        "removal.png",
        "interactions_on_image.png",
        "report.md",
        "report.html",
    }
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = json.loads((tmp_path / "summary.json").read_text())
    assert loaded["steps"] == traj.steps.tolist() and "phases" in loaded
    assert loaded == json.loads(json.dumps({**summary.as_dict(), "metrics": metrics}))
    assert analyze.Summary.from_dict(loaded) == summary
    text = page.read_text()
    assert "## Three phases" in text and "| 1000 |" in text
    assert "<table>" in (tmp_path / "report.html").read_text()
    assert np.load(tmp_path / "arrays.npz")["salient"].shape == traj.salient.shape


def test_report_rebuilt_from_summary_json_is_identical(tmp_path):
    """A report from a Summary, from its dict (the older callers) and from a loaded
    summary.json: the same files, byte for byte."""
    traj = small_trajectory(seed=1)
    metrics = {"train_loss": [0.7, 0.4, 0.2, 0.1, 0.05], "test_loss": [0.7, 0.5, 0.3, 0.3, 0.5]}
    summary = analyze.summarize(traj, metrics["train_loss"], metrics["test_loss"])
    summary = dataclasses.replace(summary, fingerprint="abc", run={"model": "m:f"})
    report.write_report(tmp_path / "a", summary, traj.arrays(), metrics=metrics)
    report.write_report(tmp_path / "b", summary.as_dict(), traj.arrays(), metrics=metrics)
    loaded = json.loads((tmp_path / "a" / "summary.json").read_text())
    report.write_report(tmp_path / "c", loaded, traj.arrays(), metrics=loaded["metrics"])
    assert loaded["fingerprint"] == "abc" and loaded["run"] == {"model": "m:f"}
    assert "| model | m:f" in (tmp_path / "a" / "report.md").read_text()
    for name in ("summary.json", "report.md", "report.html", "arrays.npz"):
        first = (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).read_bytes() == first, name
        assert (tmp_path / "c" / name).read_bytes() == first, name


def test_plots_take_a_summary_or_its_dict():
    import matplotlib.pyplot as plt

    summary = analyze.summarize(small_trajectory(seed=2))
    for s in (summary, summary.as_dict()):
        fig, axes = report.plot_generalization_by_order(s, "test")
        assert axes[0].get_title() == "AND interactions (test samples)"
        plt.close(fig)
        fig, (ax, _) = report.plot_power_and_loss(s)
        assert len(ax.get_lines()) >= 3  # H of all, train and test samples
        plt.close(fig)
        fig, ax = report.plot_removal(s)
        assert len(ax.get_lines()) == 4
        plt.close(fig)
    with pytest.raises(TypeError, match="Summary"):
        report.plot_removal([1, 2])
    with pytest.raises(ValueError, match="missing"):
        report.plot_removal({"steps": [0, 1], "removal": {}})
