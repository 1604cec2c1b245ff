"""The summary of a trajectory: profiles by kind and order, phases, loss gap, removal
(docs/method.md §4-5), as a typed :class:`Summary` whose :meth:`Summary.as_dict` is the layout of
``summary.json``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from interjax.analyze._dynamics import (
    LossGap,
    Phases,
    detect_phases,
    loss_gap,
    removal_experiment,
)
from interjax.analyze._generalization import generalization_profile
from interjax.analyze._trajectory import Trajectory

__all__ = ["Summary", "SummaryProfile", "SummaryRemoval", "summarize"]

GROUPS = ("all", "train", "test")
# keys of summary.json that are not part of a Summary (write_report adds the losses)
_IGNORED_KEYS = {"metrics"}


def _same(a, b) -> bool:
    """Equal as JSON values (lists and tuples alike, arrays as lists), NaN equal to NaN."""
    if isinstance(a, np.ndarray):
        a = a.tolist()
    if isinstance(b, np.ndarray):
        b = b.tolist()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


class _JsonEq:
    """Equality of records by their :meth:`as_dict` (arrays by value, NaN equal to NaN)."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return _same(self.as_dict(), other.as_dict())


def _floats(x) -> tuple:
    return tuple(np.asarray(x).tolist())


@dataclasses.dataclass(frozen=True, eq=False)
class SummaryProfile(_JsonEq):
    """Generalizable and non-generalizable salient strength and counts of one group of samples
    over checkpoints (means over samples; :func:`interjax.analyze.generalization_profile`).

    Attributes:
      generalizable_strength, nongeneralizable_strength, generalizable_count,
        nongeneralizable_count: ``(T, 2, n+1)`` arrays, ``[t, kind, order]`` (kind 0 = AND).
      power, count_power: ``(T,)`` generalization power ``H`` and its count version (NaN
        where a checkpoint has no salient interaction).

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import SummaryProfile
      >>> g = np.array([[[0.0, 1.0], [0.0, 0.0]]])  # T = 1, n = 1
      >>> p = SummaryProfile(g, g, g, g, np.array([0.5]), np.array([0.5]))
      >>> p.as_dict()["power"], SummaryProfile.from_dict(p.as_dict()) == p
      ([0.5], True)
    """

    generalizable_strength: np.ndarray
    nongeneralizable_strength: np.ndarray
    generalizable_count: np.ndarray
    nongeneralizable_count: np.ndarray
    power: np.ndarray
    count_power: np.ndarray

    def as_dict(self) -> dict:
        """The arrays as nested lists (``profile_{group}`` of ``summary.json``)."""
        return {
            f.name: np.asarray(getattr(self, f.name)).tolist() for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, d: dict) -> SummaryProfile:
        """Read :meth:`as_dict`'s layout back."""
        return cls(**{f.name: np.asarray(d[f.name]) for f in dataclasses.fields(cls)})

    @classmethod
    def of(cls, prof) -> SummaryProfile:
        """From a :class:`interjax.analyze.GeneralizationProfile` (host arrays)."""
        return cls(
            *(np.asarray(a) for a in prof),
            power=np.asarray(prof.power),
            count_power=np.asarray(prof.count_power),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class SummaryRemoval(_JsonEq):
    """The removal experiment over checkpoints (:func:`interjax.analyze.removal_experiment`):
    mean cross-entropy of each group of samples before and after removing each sample's
    non-generalizable salient interactions.

    Attributes:
      loss_before, loss_after: ``{group: (T,)}`` for the groups present (``"all"``,
        ``"train"``, ``"test"``).
      gap_before, gap_after: ``(T,)`` test minus train loss, or ``None`` without both groups.

    Example:
      >>> from interjax.analyze import SummaryRemoval
      >>> r = SummaryRemoval({"all": (0.7, 0.2)}, {"all": (0.7, 0.3)})
      >>> r.as_dict()
      {'all': {'loss_before': [0.7, 0.2], 'loss_after': [0.7, 0.3]}}
    """

    loss_before: dict[str, tuple[float, ...]]
    loss_after: dict[str, tuple[float, ...]]
    gap_before: tuple[float, ...] | None = None
    gap_after: tuple[float, ...] | None = None

    def as_dict(self) -> dict:
        """``{group: {"loss_before", "loss_after"}, "gap_before", "gap_after"}`` as lists."""
        d: dict[str, Any] = {
            g: {"loss_before": list(self.loss_before[g]), "loss_after": list(self.loss_after[g])}
            for g in self.loss_before
        }
        if self.gap_before is not None:
            d["gap_before"], d["gap_after"] = list(self.gap_before), list(self.gap_after)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SummaryRemoval:
        """Read :meth:`as_dict`'s layout back."""
        groups = [g for g in GROUPS if g in d]
        gap_before, gap_after = d.get("gap_before"), d.get("gap_after")
        return cls(
            {g: tuple(d[g]["loss_before"]) for g in groups},
            {g: tuple(d[g]["loss_after"]) for g in groups},
            None if gap_before is None else tuple(gap_before),
            None if gap_after is None else tuple(gap_after),
        )


def _phases_from_dict(d: dict) -> Phases:
    kw = {f.name: d[f.name] for f in dataclasses.fields(Phases)}
    for name in ("steps", "power_smoothed", "nongeneralizable_smoothed", "generalizable_smoothed"):
        kw[name] = tuple(kw[name])
    return Phases(**kw)


def _loss_gap_from_dict(d: dict) -> LossGap:
    kw = {f.name: d[f.name] for f in dataclasses.fields(LossGap)}
    kw["gap"] = tuple(kw["gap"])
    return LossGap(**kw)


@dataclasses.dataclass(frozen=True, eq=False)
class Summary(_JsonEq):
    """What :func:`summarize` finds in a trajectory (docs/method.md §4-5); :meth:`as_dict` is the
    layout of ``summary.json`` and :meth:`from_dict` reads it back.

    Attributes:
      steps: ``(T,)`` training steps.
      settings: the trajectory's settings (``n``, ``num_baselines``, ``ratio``, ``tol``, ...).
      profiles: ``{"all" | "train" | "test": SummaryProfile}`` for the groups with samples.
      phases: :class:`Phases` (:func:`detect_phases` on the ``"all"`` profile).
      removal: :class:`SummaryRemoval`.
      max_relative_gap, baseline_max_relative_gap: the largest certified relative gap of the
        checkpoints' and of the baselines' fits.
      loss_gap: :class:`LossGap`, or ``None`` without losses.
      run, fingerprint: what was analysed and the analysis key (set by ``interjax analyze``
        with :func:`dataclasses.replace`), or ``None``.

    Example:
      >>> import dataclasses
      >>> from interjax.analyze import Summary, detect_phases, SummaryRemoval
      >>> s = Summary(
      ...     steps=(0, 10), settings={"n": 1}, profiles={},
      ...     phases=detect_phases([0, 10], [1.0, 2.0], [1.0, 1.0]),
      ...     removal=SummaryRemoval({}, {}), max_relative_gap=1e-4,
      ...     baseline_max_relative_gap=1e-4,
      ... )
      >>> s = dataclasses.replace(s, fingerprint="abc")
      >>> d = s.as_dict()
      >>> d["solver"], d["fingerprint"], Summary.from_dict(d) == s
      ({'max_relative_gap': 0.0001, 'baseline_max_relative_gap': 0.0001}, 'abc', True)
    """

    steps: tuple[int, ...]
    settings: dict
    profiles: dict[str, SummaryProfile]
    phases: Phases
    removal: SummaryRemoval
    max_relative_gap: float
    baseline_max_relative_gap: float
    loss_gap: LossGap | None = None
    run: dict | None = None
    fingerprint: str | None = None

    def as_dict(self) -> dict:
        """The JSON-ready layout of ``summary.json``: ``steps``, ``settings``,
        ``profile_{group}``, ``phases``, ``loss_gap`` (with ``end_of_phase1_step``; only with
        losses), ``removal``, ``solver``, and ``fingerprint`` / ``run`` when set."""
        d: dict[str, Any] = {"steps": list(self.steps), "settings": self.settings}
        for group, prof in self.profiles.items():
            d[f"profile_{group}"] = prof.as_dict()
        d["phases"] = self.phases.as_dict()
        if self.loss_gap is not None:
            d["loss_gap"] = dataclasses.asdict(self.loss_gap)
            d["loss_gap"]["end_of_phase1_step"] = self.phases.boundary_steps[0]
        d["removal"] = self.removal.as_dict()
        d["solver"] = {
            "max_relative_gap": self.max_relative_gap,
            "baseline_max_relative_gap": self.baseline_max_relative_gap,
        }
        if self.fingerprint is not None:
            d["fingerprint"] = self.fingerprint
        if self.run is not None:
            d["run"] = self.run
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Summary:
        """Read :meth:`as_dict`'s layout (e.g. a loaded ``summary.json``) back; a
        ``metrics`` entry (written by :func:`interjax.report.write_report`) is ignored."""
        if not isinstance(d, dict):
            raise TypeError(f"Summary.from_dict needs a dict, got {type(d).__name__}")
        missing = {"steps", "settings", "phases", "removal", "solver"} - d.keys()
        known = {"steps", "settings", "phases", "removal", "solver", "loss_gap", "run"}
        known |= {"fingerprint", *(f"profile_{g}" for g in GROUPS), *_IGNORED_KEYS}
        unknown = d.keys() - known
        if missing or unknown:
            raise ValueError(
                "not the layout of a summary (Summary.as_dict, summary.json): "
                + "; ".join(
                    f"{what} {sorted(keys)}"
                    for what, keys in (("missing", missing), ("unknown", unknown))
                    if keys
                )
            )
        lg = d.get("loss_gap")
        return cls(
            steps=tuple(d["steps"]),
            settings=d["settings"],
            profiles={
                g: SummaryProfile.from_dict(d[f"profile_{g}"])
                for g in GROUPS
                if f"profile_{g}" in d
            },
            phases=_phases_from_dict(d["phases"]),
            removal=SummaryRemoval.from_dict(d["removal"]),
            max_relative_gap=d["solver"]["max_relative_gap"],
            baseline_max_relative_gap=d["solver"]["baseline_max_relative_gap"],
            loss_gap=None if lg is None else _loss_gap_from_dict(lg),
            run=d.get("run"),
            fingerprint=d.get("fingerprint"),
        )


def summarize(traj: Trajectory, train_loss=None, test_loss=None) -> Summary:
    """Per-checkpoint profiles (all, train and test samples), phases, loss gap and removal.

    Strengths are means over samples of per-sample sums, split by kind (AND, OR) and order.

    Args:
      traj: from :func:`trajectory` (T checkpoints).
      train_loss, test_loss: optional ``(T,)`` losses per checkpoint, for :func:`loss_gap`.

    Returns:
      A :class:`Summary`: ``profiles`` by group (strengths ``(T, 2, n+1)``, ``power`` ``H``
      ``(T,)``), ``phases`` (:func:`detect_phases`), ``loss_gap`` (:func:`loss_gap`),
      ``removal`` (:func:`removal_experiment`, mean losses ``(T,)`` per group), ``settings``
      and the solver's largest gaps. ``.as_dict()`` is JSON-ready.

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
      >>> list(s.profiles), s.profiles["all"].generalizable_strength.shape
      (['all', 'train', 'test'], (2, 2, 4))
      >>> s.profiles["all"].power.round(2), s.phases.reason
      (array([ nan, 0.33]), 'only 2 checkpoints: need at least 4')

      (H is nan at step 0: the zero model has no salient interaction.)
    """
    is_test = np.asarray(traj.is_test)
    groups = {"all": np.ones_like(is_test), "train": ~is_test, "test": is_test}
    groups = {name: sel for name, sel in groups.items() if sel.any()}
    profiles = {
        name: SummaryProfile.of(
            generalization_profile(
                traj.interactions[:, sel],
                traj.salient[:, sel],
                traj.generalizable[:, sel],
                sample_axis=1,
            )
        )
        for name, sel in groups.items()
    }
    prof = profiles["all"]
    ng = prof.nongeneralizable_strength.sum((1, 2))
    gs = prof.generalizable_strength.sum((1, 2))
    phases = detect_phases(traj.steps, ng, gs)
    lg = None
    if train_loss is not None and test_loss is not None:
        lg = loss_gap(traj.steps, train_loss, test_loss, ng)
    # removal: v(N) minus the non-generalizable salient interactions of each sample
    non = traj.salient & ~traj.generalizable
    removed = np.where(non, traj.interactions, 0.0).sum((-2, -1))  # (T, B)
    before, after = removal_experiment(traj.values[..., -1], removed)
    loss_before = {name: _floats(before[:, sel].mean(1)) for name, sel in groups.items()}
    loss_after = {name: _floats(after[:, sel].mean(1)) for name, sel in groups.items()}
    gap_before = gap_after = None
    if "train" in groups and "test" in groups:
        gap_before = _floats(np.subtract(loss_before["test"], loss_before["train"]))
        gap_after = _floats(np.subtract(loss_after["test"], loss_after["train"]))
    removal = SummaryRemoval(loss_before, loss_after, gap_before, gap_after)
    return Summary(
        steps=tuple(np.asarray(traj.steps).tolist()),
        settings=traj.settings,
        profiles=profiles,
        phases=phases,
        removal=removal,
        max_relative_gap=float(np.max(traj.relative_gap)),
        baseline_max_relative_gap=float(np.max(traj.baseline_relative_gap)),
        loss_gap=lg,
    )
