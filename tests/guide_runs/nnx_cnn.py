"""An NNX CNN (Conv, BatchNorm, Dropout, Linear) on scikit-learn's digits, NNX-guide style.

Follows the Flax NNX MNIST tutorial (a CNN with ``nnx.Conv``, ``nnx.BatchNorm``, ``nnx.Dropout``,
``nnx.Optimizer(model, tx, wrt=nnx.Param)``, ``optimizer.update(model, grads)``), trained in
train mode (``model.train()``) and evaluated in eval mode (``model.eval()``); the Flax NNX "Save
and load checkpoints" guide (``nnx.state(model)``) and the Orbax ``CheckpointManager`` guide
(``ocp.args.StandardSave``, ``ocp.args.Composite``, ``ocp.args.JsonSave``).

The Dropout layer owns its random stream (``nnx.Dropout(rate, rngs=rngs)``), so
``nnx.state(model)`` holds ``Param``, ``BatchStat`` and ``RngKey``/``RngCount`` variables (the
key a typed PRNG key).

    python nnx_cnn.py OUT_DIR [--layout state|composite] [--steps 60] [--saves 4]

writes ``OUT_DIR/checkpoints`` and ``OUT_DIR/data.npz`` (digits as (N, 8, 8, 1) float32 in
[0, 1], labels 0..9).
"""

import argparse
import pathlib
from functools import partial

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx
from sklearn.datasets import load_digits

LAYOUTS = ("state", "composite")
NUM_CLASSES = 10
NUM_TRAIN = 1000
BATCH_SIZE = 64
LEARNING_RATE = 1e-2


class CNN(nnx.Module):
    """A small CNN for 8x8 digits."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 8, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm1 = nnx.BatchNorm(8, momentum=0.9, rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.dropout1 = nnx.Dropout(rate=0.1, rngs=rngs)
        self.linear1 = nnx.Linear(4 * 4 * 8, 32, rngs=rngs)
        self.linear2 = nnx.Linear(32, NUM_CLASSES, rngs=rngs)

    def __call__(self, x):
        x = self.avg_pool(nnx.relu(self.batch_norm1(self.conv1(x))))
        x = x.reshape(x.shape[0], -1)  # flatten
        x = self.dropout1(x)
        x = nnx.relu(self.linear1(x))
        x = self.linear2(x)
        return x


def make_model(seed: int = 0) -> CNN:
    """A fresh, untrained model; its parameters and dropout stream depend only on ``seed``."""
    return CNN(rngs=nnx.Rngs(seed))


def load_data():
    """Digits as (N, 8, 8, 1) float32 in [0, 1]; shuffled once (fixed), 1000 train, 797 test."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    y = y[order].astype(np.int32)
    return x[:NUM_TRAIN], y[:NUM_TRAIN], x[NUM_TRAIN:], y[NUM_TRAIN:]


def loss_fn(model: CNN, batch):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits=logits, labels=batch["label"]
    ).mean()
    return loss, logits


@nnx.jit
def train_step(model: CNN, optimizer: nnx.Optimizer, batch):
    """Train for a single step."""
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    optimizer.update(model, grads)  # In-place updates.
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, axis=-1) == batch["label"])}


@nnx.jit
def eval_step(model: CNN, batch):
    loss, logits = loss_fn(model, batch)
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == batch["label"])
    return loss, accuracy


def save_steps(steps: int, num_saves: int) -> list[int]:
    """``num_saves`` steps spread over [0, steps], always holding 0 and ``steps``."""
    return sorted({int(s) for s in np.linspace(0, steps, max(num_saves, 2)).round()})


def save(mngr, step, layout, model, optimizer, metrics):
    if layout == "state":
        mngr.save(step, args=ocp.args.StandardSave(nnx.state(model)))
    elif layout == "composite":
        mngr.save(
            step,
            args=ocp.args.Composite(
                model=ocp.args.StandardSave(nnx.state(model)),
                optimizer=ocp.args.StandardSave(nnx.state(optimizer)),
                metrics=ocp.args.JsonSave(metrics),
            ),
        )
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


def main(out_dir, layout: str = "state", steps: int = 60, num_saves: int = 4, seed: int = 0):
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data()
    np.savez(out_dir / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    train_set = {"image": x_train, "label": y_train}

    model = make_model(seed)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)

    ckpt_dir = out_dir / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(ckpt_dir, options=options)
    to_save = save_steps(steps, num_saves)
    batch_rng = np.random.default_rng(seed)

    def checkpoint(step):
        model.eval()  # Running averages, no dropout.
        loss, accuracy = eval_step(model, train_set)
        model.train()
        metrics = {"step": step, "train_loss": float(loss), "train_accuracy": float(accuracy)}
        save(mngr, step, layout, model, optimizer, metrics)

    model.train()  # Dropout on, BatchNorm uses and updates batch statistics.
    checkpoint(0)  # Before any training.
    for step in range(1, steps + 1):
        idx = batch_rng.choice(len(x_train), BATCH_SIZE, replace=False)
        train_step(model, optimizer, {"image": x_train[idx], "label": y_train[idx]})
        if step in to_save:
            checkpoint(step)
    mngr.wait_until_finished()
    mngr.close()
    return ckpt_dir


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--layout", default="state", choices=LAYOUTS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--saves", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(main(a.out_dir, layout=a.layout, steps=a.steps, num_saves=a.saves, seed=a.seed))
