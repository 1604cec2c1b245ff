"""A plain optax training loop for the example classifiers (demo, tests, notebooks)."""

from __future__ import annotations

import numpy as np
import optax
from flax import nnx

__all__ = ["Trainer", "accuracy", "cross_entropy", "train_classifier"]


def cross_entropy(model: nnx.Module, x, y) -> float:
    """Mean softmax cross-entropy of ``model`` on ``(x, y)``."""
    logits = model(x)
    return float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())


def accuracy(model: nnx.Module, x, y) -> float:
    return float((np.asarray(model(x)).argmax(-1) == np.asarray(y)).mean())


@nnx.jit
def _step(model, optimizer, xb, yb):
    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


class Trainer:
    """Adam(W) on minibatches of ``(x, y)`` that can be resumed: ``run(k)`` continues where the
    last call stopped (same optimizer moments, same minibatch stream), so saving checkpoints
    between calls does not change the training trajectory.

    Minibatches are drawn without replacement within each epoch from a seeded generator, so the
    same seed gives the same model.
    """

    def __init__(
        self,
        model: nnx.Module,
        x,
        y,
        *,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        seed: int = 0,
    ):
        self.model = model
        self.x, self.y = x, y
        self.optimizer = nnx.Optimizer(
            model, optax.adamw(learning_rate, weight_decay=weight_decay), wrt=nnx.Param
        )
        self.rng = np.random.default_rng(seed)
        self.batch_size = min(batch_size, len(x))
        self.order = self.rng.permutation(len(x))
        self.pos = 0
        self.steps_done = 0

    def run(self, steps: int) -> nnx.Module:
        n, bs = len(self.x), self.batch_size
        for _ in range(steps):
            if self.pos + bs > n:
                self.order, self.pos = self.rng.permutation(n), 0
            idx = self.order[self.pos : self.pos + bs]
            self.pos += bs
            _step(self.model, self.optimizer, self.x[idx], self.y[idx])
        self.steps_done += steps
        return self.model


def train_classifier(
    model: nnx.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> nnx.Module:
    """Train ``model`` in place for ``steps`` minibatch updates; returns it (:class:`Trainer`)."""
    trainer = Trainer(
        model,
        x,
        y,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
    )
    return trainer.run(steps)
