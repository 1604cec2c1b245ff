"""A plain optax training loop for the example classifiers (demo, tests, notebooks)."""

from __future__ import annotations

import numpy as np
import optax
from flax import nnx

__all__ = ["accuracy", "cross_entropy", "train_classifier"]


def cross_entropy(model: nnx.Module, x, y) -> float:
    """Mean softmax cross-entropy of ``model`` on ``(x, y)``."""
    logits = model(x)
    return float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())


def accuracy(model: nnx.Module, x, y) -> float:
    return float((np.asarray(model(x)).argmax(-1) == np.asarray(y)).mean())


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
    """Train ``model`` in place with Adam(W) on minibatches of ``(x, y)``; returns it.

    Minibatches are drawn without replacement within each epoch from a seeded generator, so the
    same seed gives the same model.
    """
    optimizer = nnx.Optimizer(
        model, optax.adamw(learning_rate, weight_decay=weight_decay), wrt=nnx.Param
    )

    @nnx.jit
    def step(model, optimizer, xb, yb):
        def loss_fn(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    rng = np.random.default_rng(seed)
    n = len(x)
    bs = min(batch_size, n)
    order = rng.permutation(n)
    pos = 0
    for _ in range(steps):
        if pos + bs > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos : pos + bs]
        pos += bs
        step(model, optimizer, x[idx], y[idx])
    return model
