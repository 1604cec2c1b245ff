"""The example training runs, with Orbax checkpoint sequences, for the demo, tests and notebooks.

:func:`train_run` trains a Flax NNX classifier with optax and saves a checkpoint sequence, dense
early and log-spaced later (:func:`save_schedule`), recording train and test loss at every saved
step (:class:`TrainingRun`).

The baseline protocol of the analysis (docs/method.md §4: the split of the test data and the K
baseline models trained on data the target never saw) lives in :mod:`interjax.analyze`
(:func:`interjax.analyze.baseline_split`, :func:`interjax.analyze.train_baselines`). For one
release, ``interjax.data`` keeps ``BaselineSplit`` and ``baseline_split`` as aliases of those,
and :func:`train_baselines` as the analysis's trainer with :func:`train_classifier` as default.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optax
from flax import nnx

from interjax._files import write_json_atomic
from interjax.analyze import BaselineSplit, TrainFn, baseline_split
from interjax.analyze import train_baselines as _train_baselines
from interjax.data._checkpoint_writer import CheckpointWriter
from interjax.data._datasets import Dataset
from interjax.data._train import Trainer, train_classifier

__all__ = [
    "BaselineSplit",
    "TrainingRun",
    "baseline_split",
    "save_schedule",
    "train_baselines",
    "train_run",
]


def save_schedule(total_steps: int, num_saves: int = 20, dense_fraction: float = 0.4) -> list[int]:
    """Steps to save: step 0, then ``dense_fraction`` of the saves evenly over the first 10% of
    training, the rest log-spaced up to ``total_steps`` (unique, ascending, ends at the end).

        early = linspace(0, max(1, ⌊T/10⌋), d + 1),  late = geomspace(max(2, ⌊T/10⌋), T, s - d)

    with ``T = total_steps``, ``s = num_saves``, ``d = max(1, round(s · dense_fraction))``;
    rounded and deduplicated (about ``s`` steps; a few more for tiny ``T``).

    Example:
      >>> from interjax.data import save_schedule
      >>> save_schedule(100, num_saves=5)
      [0, 5, 10, 32, 100]
    """
    if total_steps < 1 or num_saves < 2:
        raise ValueError("need total_steps >= 1 and num_saves >= 2")
    n_dense = max(1, round(num_saves * dense_fraction))
    early = np.linspace(0, max(1, total_steps // 10), n_dense + 1)
    late = np.geomspace(max(2, total_steps // 10), total_steps, num_saves - n_dense)
    steps = sorted({round(float(s)) for s in np.concatenate([early, late])} | {total_steps})
    return [s for s in steps if 0 <= s <= total_steps]


_METRICS = ("steps", "train_loss", "test_loss", "train_accuracy", "test_accuracy")


def _loss_and_accuracy(model, x, y) -> tuple[float, float]:
    logits = model(x)
    loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())
    return loss, float((np.asarray(logits).argmax(-1) == np.asarray(y)).mean())


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """A finished run: where its checkpoints are and its losses at every saved step.

    Attributes:
      directory: the run's folder; :attr:`checkpoints` is its Orbax checkpoint folder.
      steps: ``(T,)`` saved steps; train_loss, test_loss, train_accuracy, test_accuracy:
        ``(T,)`` each, at those steps (docs/method.md §5: the loss gap).

    Example:
      >>> from pathlib import Path
      >>> from interjax.data import TrainingRun
      >>> run = TrainingRun(
      ...     directory=Path("runs/a"), steps=(0, 10), train_loss=(0.7, 0.4), test_loss=(0.7, 0.6),
      ...     train_accuracy=(0.5, 0.9), test_accuracy=(0.5, 0.7),
      ... )
      >>> run.checkpoints.as_posix(), round(run.test_loss[-1] - run.train_loss[-1], 2)
      ('runs/a/checkpoints', 0.2)
    """

    directory: Path
    steps: tuple[int, ...]
    train_loss: tuple[float, ...]
    test_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    test_accuracy: tuple[float, ...]

    @property
    def checkpoints(self) -> Path:
        """``directory / "checkpoints"``, for :func:`interjax.checkpoints.orbax_source`."""
        return self.directory / "checkpoints"

    @classmethod
    def load(cls, directory) -> TrainingRun:
        """Read a run written by :func:`train_run` from ``directory/metrics.json``."""
        directory = Path(directory)
        m = json.loads((directory / "metrics.json").read_text())
        return cls(directory=directory, **{k: tuple(m[k]) for k in _METRICS})


def train_run(
    model_factory: Callable[[], nnx.Module],
    ds: Dataset,
    directory,
    *,
    total_steps: int = 2000,
    num_saves: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    x_test=None,
    y_test=None,
) -> TrainingRun:
    """Train ``model_factory()`` on ``ds``'s training split, saving checkpoints to
    ``directory/checkpoints`` and losses to ``directory/metrics.json`` (test loss on
    ``x_test, y_test`` if given, else on ``ds``'s test split).

    The target model's checkpoint sequence of docs/method.md §4 (He et al. 2025, arXiv:2505.06993),
    saved at :func:`save_schedule` ``(total_steps, num_saves)``; ``directory`` must not hold
    checkpoints yet (:class:`interjax.checkpoints.CheckpointWriter`).

    Returns:
      :class:`TrainingRun` with ``(T,)`` steps, losses and accuracies.

    Example:
      >>> import tempfile
      >>> from flax import nnx
      >>> from interjax.data import MLP, planted_rules, train_run
      >>> ds = planted_rules(num_train=16, num_test=8)
      >>> factory = lambda: MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(0))
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     run = train_run(factory, ds, tmp, total_steps=4, num_saves=2, batch_size=8)
      ...     print(sorted(int(p.name) for p in run.checkpoints.iterdir()))
      [0, 1, 2, 4]
      >>> run.steps, len(run.test_loss)
      ((0, 1, 2, 4), 4)
    """
    directory = Path(directory)
    x_te = ds.x_test if x_test is None else x_test
    y_te = ds.y_test if y_test is None else y_test
    model = model_factory()
    trainer = Trainer(
        model, ds.x_train, ds.y_train, batch_size=batch_size, learning_rate=learning_rate, seed=seed
    )
    record: dict[str, list] = {k: [] for k in _METRICS}
    with CheckpointWriter(directory / "checkpoints") as writer:
        for step in save_schedule(total_steps, num_saves):
            trainer.run(step - trainer.steps_done)
            writer.save(step, nnx.split(model)[1])
            tr = _loss_and_accuracy(model, ds.x_train, ds.y_train)
            te = _loss_and_accuracy(model, x_te, y_te)
            record["steps"].append(step)
            record["train_loss"].append(tr[0])
            record["test_loss"].append(te[0])
            record["train_accuracy"].append(tr[1])
            record["test_accuracy"].append(te[1])
    write_json_atomic(directory / "metrics.json", record)
    return TrainingRun.load(directory)


def train_baselines(
    model_factory_for_seed: Callable[[int], nnx.Module],
    split: BaselineSplit,
    *,
    num: int = 3,
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    first_seed: int = 1000,
    train: TrainFn = train_classifier,
) -> list[nnx.Module]:
    """:func:`interjax.analyze.train_baselines` with the example training loop
    (:func:`train_classifier`) as default ``train``: ``num`` NNX baselines, seeds
    ``first_seed + k``, trained on the baseline part of ``split``.

    Kept in :mod:`interjax.data` for one release; the protocol now lives in
    :mod:`interjax.analyze` (``analyze.train_baselines(factory, split,
    train=data.train_classifier, ...)``).

    Returns:
      A list of ``num`` modules.

    Example:
      >>> from flax import nnx
      >>> from interjax.analyze import baseline_split
      >>> from interjax.data import MLP, planted_rules, train_baselines
      >>> split = baseline_split(planted_rules(num_train=8, num_test=16))
      >>> factory = lambda seed: MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(seed))
      >>> models = train_baselines(factory, split, num=2, steps=2, batch_size=8)
      >>> len(models), models[0](split.x_heldout).shape
      (2, (8, 2))
    """
    return _train_baselines(
        model_factory_for_seed,
        split,
        train=train,
        num=num,
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        first_seed=first_seed,
    )
