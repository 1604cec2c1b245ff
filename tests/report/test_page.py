"""The report folder: every file written, atomically, readable."""

import json

import numpy as np

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
    text = page.read_text()
    assert "## Three phases" in text and "| 1000 |" in text
    assert "<table>" in (tmp_path / "report.html").read_text()
    assert np.load(tmp_path / "arrays.npz")["salient"].shape == traj.salient.shape
