"""Bad input to the analysis functions: mismatched shapes and options refused at once, with the
shapes that clash and the shape expected (issue 7, item 1)."""

import time
from contextlib import contextmanager

import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax import analyze


@contextmanager
def fast(limit: float = 5.0):
    """A coarse backstop against expensive work before the error (a compile takes seconds here),
    generous for a loaded runner; where the test can observe it, a fixture forbids the work."""
    t0 = time.perf_counter()
    yield
    assert time.perf_counter() - t0 < limit, "the error came after expensive work"


T = np.zeros((2, 4), bool)  # (2, N): AND and OR rows, n = 2
B = np.zeros((3, 2, 4), bool)  # K = 3 baselines


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"baseline_masks": T}, ValueError, r"must be \(K, \*target shape \(2, 4\)\)"),
        ({"baseline_masks": np.zeros((3, 2, 8), bool)}, ValueError, r"\(3, 2, 8\) must be"),
        ({"target_mask": np.full((2, 4), 0.5)}, TypeError, "target_mask must be a boolean"),
        ({"baseline_masks": np.full((3, 2, 4), np.nan)}, TypeError, "baseline_masks must be"),
        ({"target_mask": np.zeros((3, 4), bool)}, ValueError, r"layout \(\.\.\., 2, 2\*\*n\)"),
        ({"target_mask": np.zeros((2, 3), bool)}, ValueError, r"length 2\*\*n"),
        ({"same_sign": True}, ValueError, "needs target_values and baseline_values"),
        (
            {"same_sign": True, "target_values": np.zeros((2, 8)), "baseline_values": B * 1.0},
            ValueError,
            r"target_values \(2, 8\) must have the target mask's shape \(2, 4\)",
        ),
        (
            {"same_sign": True, "target_values": T * 1.0, "baseline_values": np.zeros((2, 4))},
            ValueError,
            r"baseline_values \(2, 4\) must be \(K, \*target shape",
        ),
        (
            {"same_sign": True, "target_values": T * 1.0, "baseline_values": np.zeros((2, 2, 4))},
            ValueError,
            "baseline_values hold 2 baselines but baseline_masks 3",
        ),
    ],
)
def test_generalization_labels(kwargs, error, match):
    args = {"target_mask": T, "baseline_masks": B, **kwargs}
    with fast(), pytest.raises(error, match=match):
        analyze.generalization_labels(args.pop("target_mask"), args.pop("baseline_masks"), **args)


@pytest.mark.parametrize(
    ("values", "salient", "kwargs", "match"),
    [
        (np.zeros((2, 4)), np.zeros((2, 8), bool), {}, r"salient of shape \(2, 8\) does not fit"),
        (np.zeros((3, 4)), np.zeros((3, 4), bool), {}, r"values must have the layout"),
        (np.zeros((5, 2, 4)), np.zeros((5, 2, 4), bool), {"sample_axis": 1}, "the 1 leading"),
        (np.zeros((5, 2, 4)), np.zeros((5, 2, 4), bool), {"sample_axis": -1}, "not the kind"),
    ],
)
def test_generalization_profile(values, salient, kwargs, match):
    with fast(), pytest.raises(ValueError, match=match):
        analyze.generalization_profile(values, salient, salient, **kwargs)


STEPS = [0, 10, 20, 30, 40]
ONES = [1.0] * 5


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((STEPS, ONES[:4], ONES), {}, ValueError, "nongeneralizable has 4 entries but steps has 5"),
        ((STEPS[:3], ONES, ONES), {}, ValueError, "nongeneralizable has 5 entries but steps has 3"),
        ((STEPS, ONES, np.ones((5, 2))), {}, ValueError, r"shape \(T,\), got shape \(5, 2\)"),
        (([0.5, 1, 2, 3, 4], ONES, ONES), {}, ValueError, "steps must be the checkpoints'"),
        ((STEPS, ONES, ONES), {"rise": -0.1}, ValueError, r"rise must be a finite number in"),
        ((STEPS, ONES, ONES), {"dominance": float("nan")}, ValueError, "dominance must be"),
        ((STEPS, ONES, ONES), {"persist": 0}, ValueError, "persist must be an int >= 1"),
        ((STEPS, ONES, ONES), {"window": 0}, ValueError, "window must be an int >= 1"),
        ((STEPS, ONES, ONES), {"window": 2.5}, TypeError, "window must be an int"),
    ],
)
def test_detect_phases(args, kwargs, error, match):
    with fast(), pytest.raises(error, match=match):
        analyze.detect_phases(*args, **kwargs)


def test_detect_phases_with_nan_says_why():
    """A NaN strength is no error of the caller's shapes: the detector reports it, as it reports
    every other reason it finds no phases, instead of reading a boundary off garbage."""
    ph = analyze.detect_phases(STEPS, [1.0, np.nan, 1.0, 1.0, 1.0], ONES)
    assert not ph.found and "NaN or infinite at checkpoints [1] (steps [10])" in ph.reason


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((STEPS, ONES[:4], ONES, ONES), {}, "train_loss has 4 entries but steps has 5"),
        ((STEPS, ONES, ONES, ONES[:3]), {}, "nongeneralizable has 3 entries"),
        ((STEPS[:2], ONES, ONES, ONES), {}, "train_loss has 5 entries but steps has 2"),
        (([], [], [], []), {}, "needs at least one checkpoint"),
        ((STEPS, ONES, ONES, ONES), {"onset_fraction": -1.0}, "onset_fraction must be"),
        ((STEPS, ONES, ONES, ONES), {"onset_fraction": 0.0}, "onset_fraction must be"),
    ],
)
def test_loss_gap(args, kwargs, match):
    with fast(), pytest.raises(ValueError, match=match):
        analyze.loss_gap(*args, **kwargs)


def test_removal_experiment_and_smooth():
    with fast(), pytest.raises(ValueError, match=r"\(3,\) does not fit v_full of shape \(2,\)"):
        analyze.removal_experiment([1.0, 2.0], [0.5, 0.5, 0.1])
    before, after = analyze.removal_experiment([1.0, 2.0], 0.5)  # a shared sum broadcasts
    assert before.shape == after.shape == (2,)
    with fast(), pytest.raises(ValueError, match=r"shape \(T,\), got shape \(3, 4\)"):
        analyze.smooth(np.zeros((3, 4)))
    with fast(), pytest.raises(ValueError, match=r"got shape \(\)"):
        analyze.smooth(3.0)
    with fast(), pytest.raises(TypeError, match="window must be an int"):
        analyze.smooth(np.arange(5.0), window=2.5)
    with fast(), pytest.raises(TypeError, match="y must be numbers over checkpoints"):
        analyze.smooth(["a", "b", "c"])


def test_fit_salient_checks_the_rule_before_fitting():
    with fast(), pytest.raises(ValueError, match="ratio must be a finite number in"):
        analyze.fit_salient(np.zeros(8), 0.02, 1e-3, 100, ratio=-0.05)


@pytest.fixture
def run():
    model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
    ckpts = [jnp.zeros((3, 2))] * 2
    return model, ckpts, [jnp.zeros((3, 2))], jnp.ones((2, 3)), np.array([1, 0])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"y": np.array([1, 0, 1])}, ValueError, r"x of shape \(2, 3\) and y of shape \(3,\)"),
        ({"y": np.array([1.0, 0.0])}, ValueError, "y must be the samples' integer labels"),
        ({"y": np.array([1, 5])}, ValueError, r"target class \[1, 5\] out of range"),
        ({"is_test": [0, 1, 1]}, ValueError, r"is_test of shape \(3,\) must mark each of the 2"),
        ({"steps": [0]}, ValueError, "2 parameter sets for 1 steps"),
        ({"ckpts": [], "steps": []}, ValueError, "checkpoint_params is empty"),
        ({"bases": []}, ValueError, "at least one baseline"),
        ({"tol": -1.0}, ValueError, "tol must be a finite number > 0"),
        ({"q_ratio": float("nan")}, ValueError, "q_ratio must be"),
        ({"ratio": 2.0}, ValueError, "ratio must be a finite number in"),
        ({"max_iters": 0}, ValueError, "max_iters must be an int >= 1"),
        (
            {"ckpts": [jnp.zeros((3, 2)), jnp.zeros((4, 2))]},
            ValueError,
            r"parameter set 1 does not match set 0 .*\(3, 2\) in set 0, \(4, 2\) in set 1",
        ),
    ],
)
def test_trajectory_refuses_before_any_evaluation(run, monkeypatch, change, error, match):
    from interjax.analyze import _trajectory

    def forbidden(*args, **kwargs):
        raise AssertionError("evaluate ran before the input was validated")

    if "y" not in change:  # a label out of range is the sweep's own check, before its work
        monkeypatch.setattr(_trajectory, "evaluate", forbidden)
    model, ckpts, bases, x, y = run
    kwargs = {"steps": [0, 10], **change}
    ckpts, bases = kwargs.pop("ckpts", ckpts), kwargs.pop("bases", bases)
    x, y = kwargs.pop("x", x), kwargs.pop("y", y)
    with fast(), pytest.raises(error, match=match):
        analyze.trajectory(model, ckpts, bases, x, y, ij.Players.features(3), **kwargs)
