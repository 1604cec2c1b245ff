"""Training runs with Orbax checkpoint sequences, for the demo, tests and notebooks.

:func:`train_run` trains a Flax NNX classifier with optax and saves a checkpoint sequence, dense
early and log-spaced later (:func:`save_schedule`), recording train and test loss at every saved
step. :func:`train_baselines` trains the K baseline models of He et al. (2025,
arXiv:2505.06993) on data the target never saw (METHOD.md §4):

* ``protocol="cross_fit"`` (default): the test split is halved (seeded); the baselines train on
  one half, and the other half supplies the held-out samples whose loss is reported, so that
  both train and test samples are judged by baselines that never saw them;
* ``protocol="paper"``: the baselines train on the whole test split, as in the paper.
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
from interjax.checkpoints import CheckpointWriter
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
    training, the rest log-spaced up to ``total_steps`` (unique, ascending, ends at the end)."""
    if total_steps < 1 or num_saves < 2:
        raise ValueError("need total_steps >= 1 and num_saves >= 2")
    n_dense = max(1, round(num_saves * dense_fraction))
    early = np.linspace(0, max(1, total_steps // 10), n_dense + 1)
    late = np.geomspace(max(2, total_steps // 10), total_steps, num_saves - n_dense)
    steps = sorted({round(float(s)) for s in np.concatenate([early, late])} | {total_steps})
    return [s for s in steps if 0 <= s <= total_steps]


def _loss_and_accuracy(model, x, y) -> tuple[float, float]:
    logits = model(x)
    loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())
    return loss, float((np.asarray(logits).argmax(-1) == np.asarray(y)).mean())


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """A finished run: where its checkpoints are and its losses at every saved step."""

    directory: Path
    steps: tuple[int, ...]
    train_loss: tuple[float, ...]
    test_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    test_accuracy: tuple[float, ...]

    @property
    def checkpoints(self) -> Path:
        return self.directory / "checkpoints"

    @classmethod
    def load(cls, directory) -> TrainingRun:
        directory = Path(directory)
        m = json.loads((directory / "metrics.json").read_text())
        return cls(
            directory,
            *(
                tuple(m[k])
                for k in ("steps", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
            ),
        )


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
    ``x_test, y_test`` if given, else on ``ds``'s test split)."""
    directory = Path(directory)
    x_te = ds.x_test if x_test is None else x_test
    y_te = ds.y_test if y_test is None else y_test
    model = model_factory()
    trainer = Trainer(
        model, ds.x_train, ds.y_train, batch_size=batch_size, learning_rate=learning_rate, seed=seed
    )
    record = {
        k: [] for k in ("steps", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
    }
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


@dataclasses.dataclass(frozen=True)
class BaselineSplit:
    """Which samples trained the baselines and which are held out for the analysis."""

    x_baseline: np.ndarray
    y_baseline: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    protocol: str


def baseline_split(ds: Dataset, protocol: str = "cross_fit", seed: int = 0) -> BaselineSplit:
    """Split ``ds``'s test split for the baselines (METHOD.md §4; see the module docstring)."""
    if protocol == "paper":
        return BaselineSplit(ds.x_test, ds.y_test, ds.x_test, ds.y_test, protocol)
    if protocol != "cross_fit":
        raise ValueError(f"protocol must be 'cross_fit' or 'paper', got {protocol!r}")
    order = np.random.default_rng(seed).permutation(len(ds.x_test))
    a, b = order[: len(order) // 2], order[len(order) // 2 :]
    return BaselineSplit(ds.x_test[a], ds.y_test[a], ds.x_test[b], ds.y_test[b], protocol)


def train_baselines(
    model_factory_for_seed: Callable[[int], nnx.Module],
    split: BaselineSplit,
    *,
    num: int = 3,
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    first_seed: int = 1000,
) -> list[nnx.Module]:
    """Train ``num`` baseline models (same architecture, seeds ``first_seed + k``) on the
    baseline part of ``split``; returns the trained modules."""
    models = []
    for k in range(num):
        model = model_factory_for_seed(first_seed + k)
        train_classifier(
            model,
            split.x_baseline,
            split.y_baseline,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=first_seed + k,
        )
        models.append(model)
    return models
