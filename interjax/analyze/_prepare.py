"""What an analysis of a training run needs, assembled once: the checkpoints, the model, the
analysed samples, players, mask value and baseline models (docs/method.md §4-5).

:func:`prepare_analysis` checks everything that can be checked before any work and returns a
:class:`PreparedAnalysis`; :meth:`PreparedAnalysis.groups` then restores each checkpoint exactly
once, a group at a time, for :func:`interjax.analyze.fit_models`. ``interjax analyze``,
``interjax demo`` and the benchmarks all start here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from interjax.analyze._trajectory import check_samples, check_token_inputs
from interjax.evaluate import Model, log_odds
from interjax.masks import Players

__all__ = ["PreparedAnalysis", "prepare_analysis"]


@dataclasses.dataclass
class PreparedAnalysis:
    """The inputs of one analysis (from :func:`prepare_analysis`).

    Attributes:
      source: the checkpoints (an :class:`interjax.checkpoints.CheckpointSource` opened with
        ``model_factory=``, or anything with ``all_steps()``, ``readable(steps)`` and
        ``model(output, step=None)`` / ``factory_model.model(variables, output)``).
      steps: the steps to analyse, ascending.
      x, y, is_test: ``(B, ...)`` samples, ``(B,)`` integer labels, ``(B,)`` held-out marks.
      players, mask_value: as in :func:`interjax.evaluate`.
      baseline_params: the K baseline models' parameters, or a function of the target's
        :class:`interjax.Model` returning them (called only when their fits are not already
        saved: a resumed run does not train them again); a function needs ``plan``.
      metrics: per-step ``{"steps", "train_loss", "test_loss"}`` known in advance (training
        logs), or None.
      losses: ``losses(model) -> (train_loss, test_loss)``, computed at each checkpoint while
        it is restored for the analysis (instead of ``metrics``), or None.
      plan: JSON description of where the inputs come from (written to the summary as
        ``"run"``; keys the output folder where ``baseline_params`` is a function).
      image: an image shown with the salient interactions in the report, or None.

    Example:
      >>> import numpy as np, interjax as ij
      >>> from interjax.analyze import PreparedAnalysis
      >>> p = PreparedAnalysis(None, [0, 10], np.zeros((2, 3)), np.array([0, 1]),
      ...                      np.array([False, True]), ij.Players.features(3),
      ...                      baseline_params=[{"w": np.zeros(3)}])
      >>> p.num_baselines(), p.steps
      (1, [0, 10])
    """

    source: Any
    steps: list[int]
    x: np.ndarray
    y: np.ndarray
    is_test: np.ndarray
    players: Players
    mask_value: Any = None
    baseline_params: Sequence[Any] | Callable[[Model], Sequence[Any]] = ()
    metrics: dict | None = None
    losses: Callable[[Model], tuple[float, float]] | None = None
    plan: dict | None = None
    image: np.ndarray | None = None

    def num_baselines(self) -> int:
        """K, the number of baseline models."""
        if callable(self.baseline_params):
            return int(self.plan["baselines"]["count"])
        return len(self.baseline_params)

    def model(self, variables) -> Model:
        """The target's architecture with ``variables``, in inference mode; its value is the
        log-odds of each analysed sample's label."""
        return self.source.factory_model.model(variables, log_odds(target=self.y))

    def first_model(self) -> Model:
        """The architecture with the first readable step's variables (a resumed run whose
        checkpoints are all analysed already restores this one step for its baselines)."""
        _, variables = next(iter(self.source.readable(self.steps)))
        return self.model(variables)

    def groups(self, size: int, steps: Sequence[int] | None = None) -> Iterator[list]:
        """``[(step, variables), ...]`` groups of ``size`` readable steps (the last may be
        shorter) of ``steps`` (default: all), restoring each step once and holding one group
        at a time. Unreadable steps, and saves that did not finish, are skipped with a warning
        naming them (:meth:`CheckpointSource.readable`)."""
        group: list = []
        if steps is None and self.steps == sorted(self.source.all_steps()):
            read = self.source.readable()  # every step: also names unfinished saves
        else:
            read = self.source.readable(self.steps if steps is None else steps)
        for step, variables in read:
            group.append((step, variables))
            if len(group) == size:
                yield group
                group = []
        if group:
            yield group

    def units(self, size: int) -> list[list[int]]:
        """The checkpoint groups of a resumable run: ``steps`` cut into runs of ``size``, fixed
        before any step is read (the work units that processes share, and stage files name).

        Example:
          >>> import numpy as np, interjax as ij
          >>> from interjax.analyze import PreparedAnalysis
          >>> p = PreparedAnalysis(None, [0, 10, 20], np.zeros((1, 2)), np.array([0]),
          ...                      np.array([False]), ij.Players.features(2))
          >>> p.units(2)
          [[0, 10], [20]]
        """
        return [self.steps[i : i + size] for i in range(0, len(self.steps), size)]

    def restore_units(self, units: Sequence[Sequence[int]]) -> Iterator[list]:
        """``[(step, variables), ...]`` for each of ``units`` (lists of steps, ascending), one
        unit in memory at a time, each step restored once. Unreadable steps are skipped with
        a warning naming them (:meth:`CheckpointSource.readable`): a unit may come out
        shorter, or empty. Only when every step of the analysis is asked for and none can be
        read does it raise."""
        from interjax.checkpoints import CheckpointError  # orbax: imported when needed

        wanted = [s for unit in units for s in unit]
        if wanted == self.steps == sorted(self.source.all_steps()):
            read = self.source.readable()  # every step: also names unfinished saves
        else:
            read = self.source.readable(wanted)
        unit_of = {s: k for k, unit in enumerate(units) for s in unit}
        k, group = 0, []
        try:
            for step, variables in read:
                while unit_of[step] > k:
                    yield group
                    k, group = k + 1, []
                group.append((step, variables))
        except CheckpointError:
            if wanted == self.steps:
                raise  # a share of the steps, all unreadable: empty units; the others may read
        while k < len(units):
            yield group
            k, group = k + 1, []


def prepare_analysis(
    source,
    x,
    y,
    players: Players,
    *,
    baseline_params: Sequence[Any] | Callable[[Model], Sequence[Any]],
    is_test=None,
    mask_value=None,
    steps: Sequence[int] | None = None,
    metrics: dict | None = None,
    losses: Callable[[Model], tuple[float, float]] | None = None,
    plan: dict | None = None,
    image=None,
    shared_embedding: bool = False,
) -> PreparedAnalysis:
    """Check and assemble the inputs of an analysis of a training run, before any work.

    Args:
      source: the run's checkpoints, opened with ``model_factory=``
        (:func:`interjax.checkpoints.orbax_source`); read only.
      x, y, is_test: ``(B, ...)`` analysed samples, ``(B,)`` integer labels, ``(B,)`` True for
        held-out samples (default: none).
      players, mask_value: as in :func:`interjax.evaluate`.
      baseline_params: the K baseline models' parameters (trained on data the target never
        saw, docs/method.md §4), or a function of the target's model returning them.
      steps: the steps to analyse (default: every committed step).
      metrics, losses: the per-step train and test losses, as logged (``metrics``) or computed
        from each restored checkpoint (``losses``); see :class:`PreparedAnalysis`.
      plan, image: see :class:`PreparedAnalysis`.
      shared_embedding: see :func:`interjax.analyze.check_token_inputs`.

    Returns:
      :class:`PreparedAnalysis`, for ``interjax analyze``'s resumable run, or for
      :func:`interjax.analyze.fit_models` per :meth:`PreparedAnalysis.groups`.

    Example:
      >>> import tempfile, numpy as np, interjax as ij
      >>> from flax import nnx
      >>> from interjax import data
      >>> from interjax.analyze import prepare_analysis
      >>> from interjax.checkpoints import orbax_source
      >>> def factory(seed=0):
      ...     return data.MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(seed))
      >>> folder = tempfile.mkdtemp()
      >>> with data.CheckpointWriter(folder) as writer:
      ...     for step in (0, 10):
      ...         writer.save(step, nnx.state(factory(step)))
      >>> x, y = np.ones((2, 4), np.float32), np.array([0, 1])
      >>> bases = [nnx.state(factory(99))]
      >>> with orbax_source(folder, model_factory=factory) as source:
      ...     prepared = prepare_analysis(source, x, y, ij.Players.features(4),
      ...                                 baseline_params=bases)
      ...     [[step for step, _ in g] for g in prepared.groups(1)]
      [[0], [10]]
    """
    y = check_samples(x, y, is_test)
    check_token_inputs(players, x, shared_embedding=shared_embedding)
    if getattr(source, "factory_model", None) is None:
        raise ValueError(
            "the checkpoint source has no model: open it with model_factory=... (a function "
            "returning the model), so each checkpoint can be evaluated"
        )
    if callable(baseline_params):
        if plan is None or "baselines" not in plan:
            raise ValueError(
                "baseline_params given as a function needs plan={'baselines': {'count': K, ...}}"
                " naming the baseline models, which keys the saved results in their place"
            )
    elif not len(baseline_params):
        raise ValueError("need at least one baseline model to label generalizable interactions")
    if metrics is not None and losses is not None:
        raise TypeError("pass the losses once: metrics= (as logged) or losses= (computed)")
    steps = sorted(int(s) for s in (source.all_steps() if steps is None else steps))
    if not steps:
        raise ValueError(f"no checkpoint steps to analyse in {getattr(source, 'directory', '')}")
    if metrics is not None:
        logged = [int(s) for s in metrics["steps"]]
        missing = sorted(set(steps) - set(logged))
        if missing:
            raise ValueError(f"metrics has no losses for steps {missing[:5]}")
    return PreparedAnalysis(
        source=source,
        steps=steps,
        x=np.asarray(x),
        y=y,
        is_test=np.zeros(len(y), bool) if is_test is None else np.asarray(is_test, bool),
        players=players,
        mask_value=mask_value,
        baseline_params=baseline_params if callable(baseline_params) else list(baseline_params),
        metrics=metrics,
        losses=losses,
        plan=plan,
        image=None if image is None else np.asarray(image),
    )
