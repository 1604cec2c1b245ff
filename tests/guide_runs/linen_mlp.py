"""A Flax Linen MLP on scikit-learn's breast cancer table, with a TrainState and Orbax.

Follows the Flax Linen guides (``@nn.compact``, ``nn.Dense``,
``train_state.TrainState.create(apply_fn=model.apply, params=variables['params'], tx=...)``,
a ``@jax.jit`` ``train_step(state, batch)`` ending in ``state.apply_gradients(grads=grads)``)
and the Orbax ``CheckpointManager`` guide (``ocp.args.StandardSave``, ``ocp.args.Composite``,
``ocp.args.JsonSave``).

    python linen_mlp.py OUT_DIR [--layout params|trainstate|composite] [--steps 60] [--saves 4]

writes ``OUT_DIR/checkpoints`` and ``OUT_DIR/data.npz`` (same split as ``nnx_mlp.py``).
"""

import argparse
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state
from sklearn.datasets import load_breast_cancer

LAYOUTS = ("params", "trainstate", "composite")
NUM_FEATURES = 30
NUM_CLASSES = 2
NUM_TRAIN = 300
BATCH_SIZE = 32
LEARNING_RATE = 1e-2


class MLP(nn.Module):
    """Dense -> relu -> Dense."""

    hidden: int = 16
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(features=self.hidden)(x)
        x = nn.relu(x)
        x = nn.Dense(features=self.num_classes)(x)
        return x


def make_model(seed: int = 0) -> MLP:
    """The (unbound) Linen module; ``seed`` is accepted and unused (Linen draws at ``init``)."""
    del seed
    return MLP()


def load_data():
    """Breast cancer, shuffled once (fixed), first 300 rows train, the other 269 test.

    Features are standardized with the train split's mean and standard deviation.
    """
    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, x_test = x[:NUM_TRAIN], x[NUM_TRAIN:]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    return x_train, y[:NUM_TRAIN].astype(np.int32), x_test, y[NUM_TRAIN:].astype(np.int32)


@jax.jit
def train_step(state: train_state.TrainState, batch):
    """Train for a single step."""

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, x=batch["x"])
        loss = optax.softmax_cross_entropy_with_integer_labels(
            logits=logits, labels=batch["y"]
        ).mean()
        return loss, logits

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(state.params)
    state = state.apply_gradients(grads=grads)
    metrics = {
        "loss": loss,
        "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"]),
    }
    return state, metrics


@jax.jit
def eval_step(state: train_state.TrainState, batch):
    logits = state.apply_fn({"params": state.params}, x=batch["x"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits=logits, labels=batch["y"]).mean()
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


def save_steps(steps: int, num_saves: int) -> list[int]:
    """``num_saves`` steps spread over [0, steps], always holding 0 and ``steps``."""
    return sorted({int(s) for s in np.linspace(0, steps, max(num_saves, 2)).round()})


def save(mngr, step, layout, state, metrics):
    if layout == "params":
        mngr.save(step, args=ocp.args.StandardSave(state.params))
    elif layout == "trainstate":
        mngr.save(step, args=ocp.args.StandardSave(state))
    elif layout == "composite":
        mngr.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                metrics=ocp.args.JsonSave(metrics),
            ),
        )
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


def main(out_dir, layout: str = "params", steps: int = 60, num_saves: int = 4, seed: int = 0):
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data()
    np.savez(out_dir / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    train_set = {"x": x_train, "y": y_train}

    model = make_model(seed)
    variables = model.init(jax.random.key(seed), jnp.ones((1, NUM_FEATURES)))
    state = train_state.TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        tx=optax.adam(LEARNING_RATE),
    )

    ckpt_dir = out_dir / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(ckpt_dir, options=options)
    to_save = save_steps(steps, num_saves)
    batch_rng = np.random.default_rng(seed)

    def checkpoint(step):
        metrics = eval_step(state, train_set)
        metrics = {
            "step": step,
            "train_loss": float(metrics["loss"]),
            "train_accuracy": float(metrics["accuracy"]),
        }
        save(mngr, step, layout, state, metrics)

    checkpoint(0)  # Before any training.
    for step in range(1, steps + 1):
        idx = batch_rng.choice(len(x_train), BATCH_SIZE, replace=False)
        state, _ = train_step(state, {"x": x_train[idx], "y": y_train[idx]})
        if step in to_save:
            checkpoint(step)
    mngr.wait_until_finished()
    mngr.close()
    return ckpt_dir


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--layout", default="params", choices=LAYOUTS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--saves", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(main(a.out_dir, layout=a.layout, steps=a.steps, num_saves=a.saves, seed=a.seed))
