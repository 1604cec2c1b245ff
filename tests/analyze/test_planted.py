"""End to end on the planted-rule task: the true rules generalize, label-noise fits do not."""

import jax
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import analyze, data
from tests.helpers import folder_hash

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

N_FEATURES = 10
PLAYERS = ij.Players.features(6, num_features=N_FEATURES)  # x0..x5; x6..x9 background
STEPS = (0, 200, 1000, 4000)


def mlp(seed):
    return data.MLP(N_FEATURES, 2, hidden=(128, 128), rngs=nnx.Rngs(seed))


def snapshot(model):
    return jax.tree.map(lambda a: np.array(a), nnx.split(model)[1])


@pytest.fixture(scope="module")
def result():
    ds = data.planted_rules(num_features=N_FEATURES, label_noise=0.1, seed=0)
    flips = data.planted_rule_flips(len(ds.x_train), 0.1, 0)
    target = mlp(0)
    trainer = data.Trainer(target, ds.x_train, ds.y_train, seed=0, learning_rate=3e-3)
    params = []
    for step in STEPS:
        trainer.run(step - trainer.steps_done)
        params.append(snapshot(target))
    split = analyze.baseline_split(ds)
    bases = analyze.train_baselines(
        mlp, split, train=data.train_classifier, num=3, steps=1500, learning_rate=3e-3
    )
    clean = np.setdiff1d(np.arange(len(ds.x_train)), flips)[:8]
    fitted_flips = [
        i for i in flips if np.asarray(target(ds.x_train[i : i + 1])).argmax() == ds.y_train[i]
    ][:6]
    idx = np.concatenate([clean, fitted_flips]).astype(int)
    model = ij.from_nnx(target, output=ij.log_odds(target=0))
    traj = analyze.trajectory(
        model,
        params,
        [snapshot(b) for b in bases],
        ds.x_train[idx],
        ds.y_train[idx],
        PLAYERS,
        steps=STEPS,
    )
    is_flip = np.r_[np.zeros(len(clean), bool), np.ones(len(fitted_flips), bool)]
    return traj, is_flip, ds.x_train[idx]


def test_true_rules_are_generalizable(result):
    traj, is_flip, _ = result
    final = len(STEPS) - 1
    rules = [ij.coalition_index({0, 1}), ij.coalition_index({2, 3})]
    seen = 0
    for j in np.flatnonzero(~is_flip):
        for s in rules:
            for kind in (0, 1):
                if traj.salient[final, j, kind, s]:
                    seen += 1
                    assert traj.generalizable[final, j, kind, s], (j, s, kind)
    assert seen >= 4  # the rules are salient on most clean samples


def test_label_noise_is_fitted_by_nongeneralizable_interactions(result):
    traj, is_flip, _ = result
    final = len(STEPS) - 1
    non = traj.salient[final] & ~traj.generalizable[final]
    signed = np.where(non, traj.interactions[final], 0.0).sum((-2, -1))  # (B,)
    # on a memorized flipped sample the non-generalizable interactions push towards the wrong
    # (flipped) label, i.e. towards positive log-odds of the training label ...
    assert np.median(signed[is_flip]) > 0
    # ... and removing them moves the prediction back towards the true label
    before, after = analyze.removal_experiment(traj.values[final, :, -1], signed)
    assert np.median(after[is_flip] - before[is_flip]) > 0
    share = np.where(non, np.abs(traj.interactions[final]), 0).sum((-2, -1)) / np.where(
        traj.salient[final], np.abs(traj.interactions[final]), 0
    ).sum((-2, -1))
    assert np.median(share[is_flip]) > np.median(share[~is_flip])


def test_summary_is_complete(result):
    traj, _, _ = result
    s = analyze.summarize(traj, train_loss=[0.7, 0.3, 0.1, 0.01], test_loss=[0.7, 0.35, 0.3, 0.4])
    assert len(s.profiles["all"].power) == len(STEPS)
    assert list(s.profiles) == ["all", "train"]  # no held-out samples here
    assert set(s.as_dict()["phases"]) >= {"found", "reason", "boundary_steps", "rule"}
    assert np.isfinite(s.loss_gap.correlation)
    assert s.max_relative_gap <= s.settings["tol"] + 1e-9  # the fits' certified tolerance


@pytest.mark.slow  # ~80 s on 2 cores (a whole demo task, then its resume); CI runs the slow set
def test_demo_task_end_to_end_and_resume(tmp_path):
    """The demo's planted task: checkpoints, baselines, analysis, report; a rerun resumes from
    the stage files and gives the identical summary; the checkpoint folder is never written."""
    import json

    from interjax._demo_run import run_tasks

    run_tasks(tmp_path, tasks=("planted",), quiet=True, num_saves=5, samples=4)
    analysis = tmp_path / "planted" / "analysis"
    first = (analysis / "summary.json").read_bytes()
    ckpt = tmp_path / "planted" / "run" / "checkpoints"
    digest = folder_hash(ckpt)
    stages = sorted(p.name for p in (analysis / "stages").iterdir())
    assert stages == ["baselines.npz", "checkpoints_000.npz"]
    (analysis / "summary.json").unlink()  # as if the run had stopped before the report
    run_tasks(tmp_path, tasks=("planted",), quiet=True, num_saves=5, samples=4)
    assert (analysis / "summary.json").read_bytes() == first
    assert folder_hash(ckpt) == digest
    summary = json.loads(first)
    assert summary["solver"]["max_relative_gap"] <= 1e-2 + 1e-9  # the pipeline's tolerance
    assert {"phases", "loss_gap", "removal", "profile_train", "profile_test"} <= set(summary)
