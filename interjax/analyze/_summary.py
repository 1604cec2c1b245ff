"""The summary of a trajectory: profiles by kind and order, phases, loss gap, removal
(METHOD.md §4-5)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from interjax.analyze._dynamics import detect_phases, loss_gap, removal_experiment
from interjax.analyze._generalization import generalization_profile
from interjax.analyze._trajectory import Trajectory

__all__ = ["summarize"]


def _profile_dict(prof) -> dict:
    return {
        "generalizable_strength": np.asarray(prof.generalizable_strength).tolist(),
        "nongeneralizable_strength": np.asarray(prof.nongeneralizable_strength).tolist(),
        "generalizable_count": np.asarray(prof.generalizable_count).tolist(),
        "nongeneralizable_count": np.asarray(prof.nongeneralizable_count).tolist(),
        "power": np.asarray(prof.power).tolist(),
        "count_power": np.asarray(prof.count_power).tolist(),
    }


def summarize(traj: Trajectory, train_loss=None, test_loss=None) -> dict:
    """Per-checkpoint profiles (all, train and test samples), phases, loss gap and removal.

    Strengths are means over samples of per-sample sums, split by kind (AND, OR) and order.

    Args:
      traj: from :func:`trajectory` (T checkpoints).
      train_loss, test_loss: optional ``(T,)`` losses per checkpoint, for :func:`loss_gap`.

    Returns:
      A JSON-ready dict: ``steps``; ``profile_all`` / ``profile_train`` / ``profile_test``
      (:func:`generalization_profile` as lists, strengths ``(T, 2, n+1)``, ``power`` ``H``
      ``(T,)``); ``phases`` (:func:`detect_phases`, ``as_dict()``); ``loss_gap``
      (:func:`loss_gap`, with losses); ``removal`` (:func:`removal_experiment`, mean losses
      ``(T,)`` per group); ``settings`` and ``solver`` (METHOD.md §4-5).

    Example:
      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> bases = [jnp.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> traj = trajectory(
      ...     model, ckpts, bases, x, y, ij.Players.features(3), steps=[0, 10], is_test=[0, 1]
      ... )
      >>> from interjax.analyze import summarize
      >>> s = summarize(traj, train_loss=[0.69, 0.3], test_loss=[0.69, 0.6])
      >>> sorted(s)[:5]
      ['loss_gap', 'phases', 'profile_all', 'profile_test', 'profile_train']
      >>> np.shape(s["profile_all"]["generalizable_strength"]), s["profile_all"]["power"][0]
      ((2, 2, 4), nan)

      (H is nan at step 0: the zero model has no salient interaction.)

      >>> round(s["profile_all"]["power"][1], 2), s["phases"]["reason"]
      (0.33, 'only 2 checkpoints: need at least 4')
    """
    summary: dict[str, Any] = {"steps": traj.steps.tolist(), "settings": traj.settings}
    groups = {"all": np.ones_like(traj.is_test), "train": ~traj.is_test, "test": traj.is_test}
    profiles = {}
    for name, sel in groups.items():
        if sel.any():
            profiles[name] = generalization_profile(
                traj.interactions[:, sel],
                traj.salient[:, sel],
                traj.generalizable[:, sel],
                sample_axis=1,
            )
            summary[f"profile_{name}"] = _profile_dict(profiles[name])
    prof = profiles["all"]
    ng = np.asarray(prof.nongeneralizable_strength).sum((1, 2))
    gs = np.asarray(prof.generalizable_strength).sum((1, 2))
    summary["phases"] = detect_phases(traj.steps, ng, gs).as_dict()
    if train_loss is not None and test_loss is not None:
        lg = loss_gap(traj.steps, train_loss, test_loss, ng)
        summary["loss_gap"] = dataclasses.asdict(lg)
        ph = summary["phases"]
        summary["loss_gap"]["end_of_phase1_step"] = ph["boundary_steps"][0]
    # removal: v(N) minus the non-generalizable salient interactions of each sample
    non = traj.salient & ~traj.generalizable
    removed = np.where(non, traj.interactions, 0.0).sum((-2, -1))  # (T, B)
    before, after = removal_experiment(traj.values[..., -1], removed)
    removal = {}
    for name, sel in groups.items():
        if sel.any():
            removal[name] = {
                "loss_before": before[:, sel].mean(1).tolist(),
                "loss_after": after[:, sel].mean(1).tolist(),
            }
    if traj.is_test.any() and (~traj.is_test).any():
        gap_before = np.array(removal["test"]["loss_before"]) - np.array(
            removal["train"]["loss_before"]
        )
        gap_after = np.array(removal["test"]["loss_after"]) - np.array(
            removal["train"]["loss_after"]
        )
        removal["gap_before"], removal["gap_after"] = gap_before.tolist(), gap_after.tolist()
    summary["removal"] = removal
    summary["solver"] = {
        "max_relative_gap": float(np.max(traj.relative_gap)),
        "baseline_max_relative_gap": float(np.max(traj.baseline_relative_gap)),
    }
    return summary
