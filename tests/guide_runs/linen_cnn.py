"""A Flax Linen CNN (Conv, BatchNorm, Dropout, Dense) on scikit-learn's digits, with Orbax.

Follows the Flax Linen "Batch normalization" guide (``nn.BatchNorm(use_running_average=not
train)``, ``__call__(self, x, train: bool)``, a ``TrainState`` subclass with a ``batch_stats``
field, ``mutable=['batch_stats']`` in the train step), the Linen "Dropout" guide
(``nn.Dropout(rate, deterministic=not train)``, ``rngs={'dropout': key}``, a per-step key from
``jax.random.fold_in(key=dropout_key, data=state.step)``) and the Orbax ``CheckpointManager``
guide (``ocp.args.StandardSave``).

    python linen_cnn.py OUT_DIR [--layout variables|trainstate] [--steps 60] [--saves 4]

writes ``OUT_DIR/checkpoints`` and ``OUT_DIR/data.npz`` (same split as ``nnx_cnn.py``).
"""

import argparse
import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state
from sklearn.datasets import load_digits

LAYOUTS = ("variables", "trainstate")
NUM_CLASSES = 10
NUM_TRAIN = 1000
BATCH_SIZE = 64
LEARNING_RATE = 1e-2


class CNN(nn.Module):
    """A small CNN for 8x8 digits."""

    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(features=8, kernel_size=(3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))  # flatten
        x = nn.Dropout(rate=0.1, deterministic=not train)(x)
        x = nn.Dense(features=32)(x)
        x = nn.relu(x)
        x = nn.Dense(features=self.num_classes)(x)
        return x


def make_model(seed: int = 0) -> CNN:
    """The (unbound) Linen module; ``seed`` is accepted and unused (Linen draws at ``init``)."""
    del seed
    return CNN()


class TrainState(train_state.TrainState):
    batch_stats: Any


def load_data():
    """Digits as (N, 8, 8, 1) float32 in [0, 1]; shuffled once (fixed), 1000 train, 797 test."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    y = y[order].astype(np.int32)
    return x[:NUM_TRAIN], y[:NUM_TRAIN], x[NUM_TRAIN:], y[NUM_TRAIN:]


@jax.jit
def train_step(state: TrainState, batch, dropout_key):
    """Train for a single step."""
    dropout_train_key = jax.random.fold_in(key=dropout_key, data=state.step)

    def loss_fn(params):
        logits, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats},
            x=batch["image"],
            train=True,
            mutable=["batch_stats"],
            rngs={"dropout": dropout_train_key},
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(
            logits=logits, labels=batch["label"]
        ).mean()
        return loss, (logits, updates)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (logits, updates)), grads = grad_fn(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(batch_stats=updates["batch_stats"])
    metrics = {
        "loss": loss,
        "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
    }
    return state, metrics


@jax.jit
def eval_step(state: TrainState, batch):
    """Evaluate for a single step."""
    logits = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, x=batch["image"], train=False
    )
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits=logits, labels=batch["label"]
    ).mean()
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}


def save_steps(steps: int, num_saves: int) -> list[int]:
    """``num_saves`` steps spread over [0, steps], always holding 0 and ``steps``."""
    return sorted({int(s) for s in np.linspace(0, steps, max(num_saves, 2)).round()})


def save(mngr, step, layout, state):
    if layout == "variables":
        mngr.save(
            step,
            args=ocp.args.StandardSave({"params": state.params, "batch_stats": state.batch_stats}),
        )
    elif layout == "trainstate":
        mngr.save(step, args=ocp.args.StandardSave(state))
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


def main(out_dir, layout: str = "variables", steps: int = 60, num_saves: int = 4, seed: int = 0):
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data()
    np.savez(out_dir / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    root_key = jax.random.key(seed=seed)
    params_key, dropout_key = jax.random.split(key=root_key)
    model = make_model(seed)
    variables = model.init(params_key, jnp.ones((1, 8, 8, 1)), train=False)
    state = TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=optax.adam(LEARNING_RATE),
    )

    ckpt_dir = out_dir / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(ckpt_dir, options=options)
    to_save = save_steps(steps, num_saves)
    batch_rng = np.random.default_rng(seed)

    save(mngr, 0, layout, state)  # Before any training.
    for step in range(1, steps + 1):
        idx = batch_rng.choice(len(x_train), BATCH_SIZE, replace=False)
        state, _ = train_step(state, {"image": x_train[idx], "label": y_train[idx]}, dropout_key)
        if step in to_save:
            save(mngr, step, layout, state)
    mngr.wait_until_finished()
    mngr.close()
    return ckpt_dir


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--layout", default="variables", choices=LAYOUTS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--saves", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(main(a.out_dir, layout=a.layout, steps=a.steps, num_saves=a.saves, seed=a.seed))
