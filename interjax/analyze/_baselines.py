"""The baseline protocol of the generalization analysis (docs/method.md §4).

He et al. (2025, arXiv:2505.06993) call an interaction of the target model generalizable when
K baseline models, trained on data the target never saw, share it. The protocol has two steps:

* :func:`baseline_split` splits the test data (the target's unseen data) into the baselines'
  training data and the held-out samples the analysis explains;
* :func:`train_baselines` trains the K baselines (one architecture, seeds ``first_seed + k``) on
  the baselines' part with a training function the caller passes in
  (:func:`interjax.data.train_classifier` for the example models, or the user's own).

Two protocols:

* ``protocol="cross_fit"`` (default): the test split is halved (seeded); the baselines train on
  one half, and the other half supplies the held-out samples whose loss is reported, so that
  both train and test samples are judged by baselines that never saw them;
* ``protocol="paper"``: the baselines train on the whole test split, as in the paper.

This module needs numpy alone: it does not import :mod:`interjax.data` (the example datasets
and training loop depend on it, not the other way round).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

__all__ = ["BaselineSplit", "TrainFn", "baseline_split", "train_baselines"]

_PROTOCOLS = ("cross_fit", "paper")


@dataclasses.dataclass(frozen=True)
class BaselineSplit:
    """Which samples trained the baselines and which are held out for the analysis.

    Attributes:
      x_baseline, y_baseline: ``(M, ...)``, ``(M,)``: the baselines' training data.
      x_heldout, y_heldout: ``(M', ...)``, ``(M',)``: the held-out test samples.
      protocol: ``"cross_fit"`` (default) or ``"paper"`` (docs/method.md §4).
      baseline_ids, heldout_ids: which rows of the test split each part holds (``(M,)``,
        ``(M',)`` indices into ``x_test``; ``None`` when not known).

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import BaselineSplit, baseline_split
      >>> split = baseline_split(x_test=np.zeros((6, 8)), y_test=np.zeros(6), protocol="paper")
      >>> split.protocol, split.x_baseline.shape, split.x_heldout.shape
      ('paper', (6, 8), (6, 8))
      >>> BaselineSplit(
      ...     x_baseline=np.zeros((2, 3)), y_baseline=np.zeros(2),
      ...     x_heldout=np.ones((1, 3)), y_heldout=np.ones(1),
      ... ).protocol
      'cross_fit'
    """

    x_baseline: np.ndarray
    y_baseline: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    protocol: str = "cross_fit"
    baseline_ids: np.ndarray | None = None
    heldout_ids: np.ndarray | None = None


def _test_split(data, x_test, y_test) -> tuple[Any, Any]:
    """``(x_test, y_test)`` from ``data`` (attributes or mapping keys) or the keywords."""
    if data is not None:
        if x_test is not None or y_test is not None:
            raise TypeError("pass the test data either as data or as x_test=, y_test=, not both")
        if isinstance(data, Mapping):
            try:
                x_test, y_test = data["x_test"], data["y_test"]
            except KeyError as err:
                raise TypeError(f"data has no {err.args[0]!r} entry") from None
        else:
            try:
                x_test, y_test = data.x_test, data.y_test
            except AttributeError:
                raise TypeError(
                    "data must have x_test and y_test (attributes or keys), e.g. an "
                    f"interjax.data.Dataset; got {type(data).__name__}"
                ) from None
    if x_test is None or y_test is None:
        raise TypeError("baseline_split needs the test data: data, or x_test= and y_test=")
    x_test, y_test = np.asarray(x_test), np.asarray(y_test)
    if len(x_test) != len(y_test):
        raise ValueError(f"x_test has {len(x_test)} samples but y_test has {len(y_test)} labels")
    return x_test, y_test


def baseline_split(
    data=None,
    protocol: str = "cross_fit",
    seed: int = 0,
    *,
    x_test=None,
    y_test=None,
) -> BaselineSplit:
    """Split the test data for the baselines (docs/method.md §4; see the module docstring).

    ``"cross_fit"``: with a seeded permutation π of the M test samples, the baselines train on
    ``π[:⌊M/2⌋]`` and ``π[⌊M/2⌋:]`` are held out; ``"paper"``: both are the whole test split
    (He et al. 2025, arXiv:2505.06993).

    Args:
      data: anything with the test split as ``x_test`` and ``y_test``, attributes (an
        :class:`interjax.data.Dataset`) or keys (a dict, an ``np.load`` archive); or pass the
        arrays as ``x_test=`` ``(M, ...)`` and ``y_test=`` ``(M,)``.
      protocol: ``"cross_fit"`` or ``"paper"``.
      seed: the permutation's seed (``"cross_fit"``).

    Returns:
      :class:`BaselineSplit`.

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import baseline_split
      >>> test = {"x_test": np.arange(12.0).reshape(6, 2), "y_test": np.arange(6) % 2}
      >>> split = baseline_split(test)
      >>> split.protocol, split.x_baseline.shape, split.x_heldout.shape
      ('cross_fit', (3, 2), (3, 2))
      >>> sorted(split.baseline_ids.tolist() + split.heldout_ids.tolist())
      [0, 1, 2, 3, 4, 5]
      >>> paper = baseline_split(x_test=test["x_test"], y_test=test["y_test"], protocol="paper")
      >>> paper.x_heldout.shape, paper.heldout_ids.tolist()
      ((6, 2), [0, 1, 2, 3, 4, 5])
    """
    if protocol not in _PROTOCOLS:
        raise ValueError(f"protocol must be 'cross_fit' or 'paper', got {protocol!r}")
    x, y = _test_split(data, x_test, y_test)
    if protocol == "paper":
        every = np.arange(len(x))
        return BaselineSplit(x, y, x, y, protocol, every, every)
    order = np.random.default_rng(seed).permutation(len(x))
    a, b = order[: len(order) // 2], order[len(order) // 2 :]
    return BaselineSplit(x[a], y[a], x[b], y[b], protocol, a, b)


class TrainFn(Protocol):
    """What :func:`train_baselines` calls to train one baseline model.

    ``train(model, x, y, *, steps, batch_size, learning_rate, seed)`` trains ``model`` on
    ``x`` ``(M, ...)``, ``y`` ``(M,)`` and returns the trained model (an NNX module trained in
    place may return itself; ``None`` also means "the model, trained in place").
    :func:`interjax.data.train_classifier` is one.

    Example:
      >>> from interjax.analyze import TrainFn
      >>> def count_samples(model, x, y, *, steps, batch_size, learning_rate, seed):
      ...     return {**model, "seen": len(x)}
      >>> train: TrainFn = count_samples
      >>> train({"seed": 1}, [0, 1], [1, 0], steps=1, batch_size=2, learning_rate=0.1, seed=1)
      {'seed': 1, 'seen': 2}
    """

    def __call__(
        self, model, x, y, *, steps: int, batch_size: int, learning_rate: float, seed: int
    ) -> Any: ...


def train_baselines(
    model_factory_for_seed: Callable[[int], Any],
    split: BaselineSplit,
    *,
    train: TrainFn,
    num: int = 3,
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    first_seed: int = 1000,
) -> list:
    """Train ``num`` baseline models (same architecture, seeds ``first_seed + k``) on the
    baseline part of ``split``; returns the trained models.

    The K baseline models of He et al. 2025 (arXiv:2505.06993; docs/method.md §4), trained on data
    the target never saw. Baseline ``k`` is ``model_factory_for_seed(first_seed + k)``, trained
    by ``train(model, split.x_baseline, split.y_baseline, steps=..., batch_size=...,
    learning_rate=..., seed=first_seed + k)`` (:class:`TrainFn`; e.g.
    :func:`interjax.data.train_classifier`).

    Returns:
      A list of ``num`` trained models (what ``train`` returned, or the model itself when it
      returned ``None``).

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import baseline_split, train_baselines
      >>> split = baseline_split(x_test=np.ones((8, 2)), y_test=np.arange(8) % 2)
      >>> def count(model, x, y, *, steps, batch_size, learning_rate, seed):
      ...     return {**model, "trained_on": len(x)}  # a toy "training"
      >>> train_baselines(lambda seed: {"seed": seed}, split, train=count, num=2)
      [{'seed': 1000, 'trained_on': 4}, {'seed': 1001, 'trained_on': 4}]
    """
    models = []
    for k in range(num):
        model = model_factory_for_seed(first_seed + k)
        trained = train(
            model,
            split.x_baseline,
            split.y_baseline,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=first_seed + k,
        )
        models.append(model if trained is None else trained)
    return models
