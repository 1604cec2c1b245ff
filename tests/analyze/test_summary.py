"""The typed summary: its dict is summary.json's layout, unchanged, and reads back equal."""

import dataclasses
import json

import numpy as np
import pytest

from interjax import analyze
from tests.report.test_page import small_trajectory

TRAIN = [0.7, 0.4, 0.2, 0.1, 0.05]
TEST = [0.7, 0.45, 0.3, 0.35, 0.5]


def old_profile_dict(prof) -> dict:
    """The layout of ``profile_{group}`` before the summary was typed."""
    return {
        "generalizable_strength": np.asarray(prof.generalizable_strength).tolist(),
        "nongeneralizable_strength": np.asarray(prof.nongeneralizable_strength).tolist(),
        "generalizable_count": np.asarray(prof.generalizable_count).tolist(),
        "nongeneralizable_count": np.asarray(prof.nongeneralizable_count).tolist(),
        "power": np.asarray(prof.power).tolist(),
        "count_power": np.asarray(prof.count_power).tolist(),
    }


def as_json(d) -> str:
    return json.dumps(d, sort_keys=True)


@pytest.mark.parametrize("losses", [True, False])
def test_as_dict_is_the_old_layout(losses):
    traj = small_trajectory(seed=1)
    s = analyze.summarize(traj, *((TRAIN, TEST) if losses else ()))
    assert isinstance(s, analyze.Summary)
    d = s.as_dict()
    expected = {"steps", "settings", "profile_all", "profile_train", "profile_test", "phases"}
    expected |= {"removal", "solver"} | ({"loss_gap"} if losses else set())
    assert set(d) == expected
    for group, sel in (("all", slice(None)), ("train", ~traj.is_test), ("test", traj.is_test)):
        prof = analyze.generalization_profile(
            traj.interactions[:, sel],
            traj.salient[:, sel],
            traj.generalizable[:, sel],
            sample_axis=1,
        )
        assert as_json(d[f"profile_{group}"]) == as_json(old_profile_dict(prof))
        assert all(type(v) is list for v in d[f"profile_{group}"].values())
    ng = np.asarray(s.profiles["all"].nongeneralizable_strength).sum((1, 2))
    gs = np.asarray(s.profiles["all"].generalizable_strength).sum((1, 2))
    assert d["phases"] == analyze.detect_phases(traj.steps, ng, gs).as_dict()
    assert set(d["phases"]) >= {"found", "reason", "boundary_steps", "rule"}
    if losses:
        lg = dataclasses.asdict(analyze.loss_gap(traj.steps, TRAIN, TEST, ng))
        assert d["loss_gap"] == {**lg, "end_of_phase1_step": d["phases"]["boundary_steps"][0]}
    assert set(d["removal"]) == {"all", "train", "test", "gap_before", "gap_after"}
    assert set(d["removal"]["train"]) == {"loss_before", "loss_after"}
    gap = np.subtract(d["removal"]["test"]["loss_before"], d["removal"]["train"]["loss_before"])
    assert d["removal"]["gap_before"] == gap.tolist()
    assert d["solver"] == {
        "max_relative_gap": float(np.max(traj.relative_gap)),
        "baseline_max_relative_gap": float(np.max(traj.baseline_relative_gap)),
    }
    assert d["steps"] == traj.steps.tolist() and d["settings"] == traj.settings
    json.dumps(d, allow_nan=True)  # JSON-ready: no arrays, no NumPy scalars
    assert "fingerprint" not in d and "run" not in d


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_through_json(seed):
    s = analyze.summarize(small_trajectory(seed), TRAIN, TEST)
    s = dataclasses.replace(s, fingerprint="key", run={"model": "m:f", "players": {"n": 3}})
    assert analyze.Summary.from_dict(s.as_dict()) == s
    loaded = json.loads(json.dumps({**s.as_dict(), "metrics": None}))  # as write_report does
    back = analyze.Summary.from_dict(loaded)
    assert back == s and as_json(back.as_dict()) == as_json(s.as_dict())
    for group, prof in s.profiles.items():
        other = back.profiles[group]
        for f in dataclasses.fields(prof):
            np.testing.assert_array_equal(getattr(other, f.name), getattr(prof, f.name))
    assert back.phases.boundary_steps == s.phases.boundary_steps
    assert back.loss_gap.correlation == s.loss_gap.correlation
    assert back.fingerprint == "key" and back.run["players"] == {"n": 3}


def test_equality_sees_a_changed_value():
    s = analyze.summarize(small_trajectory(0), TRAIN, TEST)
    prof = s.profiles["all"]
    power = prof.power.copy()
    power[-1] += 1e-12
    changed = dataclasses.replace(
        s, profiles={**s.profiles, "all": dataclasses.replace(prof, power=power)}
    )
    assert changed != s and dataclasses.replace(s, fingerprint="x") != s
    assert analyze.Summary.from_dict(s.as_dict()) == s


def test_summary_without_held_out_samples():
    traj = small_trajectory(0)
    traj = dataclasses.replace(traj, is_test=np.zeros_like(traj.is_test))
    s = analyze.summarize(traj)
    assert list(s.profiles) == ["all", "train"] and s.loss_gap is None
    assert s.removal.gap_before is None and set(s.as_dict()["removal"]) == {"all", "train"}
    assert analyze.Summary.from_dict(json.loads(json.dumps(s.as_dict()))) == s


def test_from_dict_refuses_other_layouts():
    d = analyze.summarize(small_trajectory(0)).as_dict()
    with pytest.raises(ValueError, match=r"missing \['phases'\]"):
        analyze.Summary.from_dict({k: v for k, v in d.items() if k != "phases"})
    with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
        analyze.Summary.from_dict({**d, "extra": 1})
    with pytest.raises(TypeError, match="needs a dict"):
        analyze.Summary.from_dict([d])
