"""An NNX MLP on scikit-learn's breast cancer table, checkpointed the NNX guide's way.

Follows the Flax NNX MNIST tutorial (``nnx.Optimizer(model, tx, wrt=nnx.Param)``,
``nnx.value_and_grad``, ``optimizer.update(model, grads)``), the Flax NNX "Save and load
checkpoints" guide (``nnx.state(model)``, ``nnx.to_pure_dict``) and the Orbax
``CheckpointManager`` guide (``ocp.args.StandardSave``, ``ocp.args.Composite``,
``ocp.args.JsonSave``).

    python nnx_mlp.py OUT_DIR [--layout state|pure|params|composite] [--steps 60] [--saves 4]

writes ``OUT_DIR/checkpoints`` (one Orbax ``CheckpointManager`` folder, step 0 = before any
training, the last step = after the last update) and ``OUT_DIR/data.npz`` (``x_train``,
``y_train``, ``x_test``, ``y_test``).
"""

import argparse
import pathlib

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx
from sklearn.datasets import load_breast_cancer

LAYOUTS = ("state", "pure", "params", "composite")
NUM_FEATURES = 30
NUM_CLASSES = 2
NUM_TRAIN = 300
BATCH_SIZE = 32
LEARNING_RATE = 1e-2


class MLP(nnx.Module):
    """nnx.Linear -> relu -> nnx.Linear."""

    def __init__(self, din: int, dhidden: int, dout: int, *, rngs: nnx.Rngs):
        self.linear1 = nnx.Linear(din, dhidden, rngs=rngs)
        self.linear2 = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.linear1(x))
        return self.linear2(x)


def make_model(seed: int = 0) -> MLP:
    """A fresh, untrained model; its parameters depend only on ``seed``."""
    return MLP(NUM_FEATURES, 16, NUM_CLASSES, rngs=nnx.Rngs(seed))


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


def loss_fn(model: MLP, batch):
    logits = model(batch["x"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits=logits, labels=batch["y"]).mean()
    return loss, logits


@nnx.jit
def train_step(model: MLP, optimizer: nnx.Optimizer, batch):
    """Train for a single step."""
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    optimizer.update(model, grads)  # In-place updates.
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, axis=-1) == batch["y"])}


@nnx.jit
def eval_step(model: MLP, batch):
    loss, logits = loss_fn(model, batch)
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == batch["y"])
    return loss, accuracy


def save_steps(steps: int, num_saves: int) -> list[int]:
    """``num_saves`` steps spread over [0, steps], always holding 0 and ``steps``."""
    return sorted({int(s) for s in np.linspace(0, steps, max(num_saves, 2)).round()})


def save(mngr, step, layout, model, optimizer, metrics):
    if layout == "state":
        mngr.save(step, args=ocp.args.StandardSave(nnx.state(model)))
    elif layout == "pure":
        mngr.save(step, args=ocp.args.StandardSave(nnx.to_pure_dict(nnx.state(model))))
    elif layout == "params":
        mngr.save(step, args=ocp.args.StandardSave(nnx.state(model, nnx.Param)))
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
    train_set = {"x": x_train, "y": y_train}

    model = make_model(seed)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)

    ckpt_dir = out_dir / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(ckpt_dir, options=options)
    to_save = save_steps(steps, num_saves)
    batch_rng = np.random.default_rng(seed)

    def checkpoint(step):
        loss, accuracy = eval_step(model, train_set)
        metrics = {"step": step, "train_loss": float(loss), "train_accuracy": float(accuracy)}
        save(mngr, step, layout, model, optimizer, metrics)

    checkpoint(0)  # Before any training.
    for step in range(1, steps + 1):
        idx = batch_rng.choice(len(x_train), BATCH_SIZE, replace=False)
        train_step(model, optimizer, {"x": x_train[idx], "y": y_train[idx]})
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
