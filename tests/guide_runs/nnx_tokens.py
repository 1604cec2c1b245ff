"""An NNX token classifier (Embed -> mean pool -> MLP) on synthetic integer sequences.

Follows the Flax NNX MNIST tutorial's training loop (``nnx.Optimizer(model, tx, wrt=nnx.Param)``,
``nnx.value_and_grad``, ``optimizer.update(model, grads)``), the Flax NNX "Save and load
checkpoints" guide (``nnx.state(model)``) and the Orbax ``CheckpointManager`` guide
(``ocp.args.StandardSave``).

Data (numpy, fixed seed): sequences of ``SEQ_LEN = 8`` token ids drawn from 2..11. Id 0 is
``<pad>`` and id 1 is ``<mask>``; neither appears in the data (every sequence is full length),
``MASK_ID`` is there for whoever masks tokens later. The label is 1 iff token 5 AND token 7 both
occur in the sequence (an AND of two tokens; a quarter of the label-0 sequences hold 5 only and a
quarter hold 7 only, so neither token alone decides it).

    python nnx_tokens.py OUT_DIR [--layout state] [--steps 120] [--saves 4]

writes ``OUT_DIR/checkpoints`` and ``OUT_DIR/data.npz`` (int32 ``x_*`` of shape (N, 8), int32
labels 0/1).
"""

import argparse
import pathlib

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx

LAYOUTS = ("state",)
PAD_ID = 0
MASK_ID = 1
SEQ_LEN = 8
VOCAB_SIZE = 12
TOKEN_A, TOKEN_B = 5, 7  # label 1 iff both occur
NUM_CLASSES = 2
NUM_TRAIN = 800
NUM_TEST = 400
BATCH_SIZE = 64
LEARNING_RATE = 1e-2


class TokenClassifier(nnx.Module):
    """nnx.Embed -> mean over the sequence -> nnx.Linear -> relu -> nnx.Linear."""

    def __init__(self, vocab_size: int, dim: int, hidden: int, num_classes: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab_size, dim, rngs=rngs)
        self.linear1 = nnx.Linear(dim, hidden, rngs=rngs)
        self.linear2 = nnx.Linear(hidden, num_classes, rngs=rngs)

    def __call__(self, tokens):  # (B, L) int
        x = self.embed(tokens).mean(axis=1)  # (B, dim)
        x = nnx.relu(self.linear1(x))
        return self.linear2(x)


def make_model(seed: int = 0) -> TokenClassifier:
    """A fresh, untrained model; its parameters depend only on ``seed``."""
    return TokenClassifier(VOCAB_SIZE, 16, 32, NUM_CLASSES, rngs=nnx.Rngs(seed))


def make_sequences(rng: np.random.Generator, n: int):
    """``n`` sequences and labels: half hold both 5 and 7 (label 1); of the rest, half hold one."""
    filler = np.array([t for t in range(2, VOCAB_SIZE) if t not in (TOKEN_A, TOKEN_B)])
    x = rng.choice(filler, size=(n, SEQ_LEN))
    kind = rng.choice(4, size=n, p=[0.5, 0.125, 0.125, 0.25])  # both, only A, only B, neither
    for i in range(n):
        pos = rng.choice(SEQ_LEN, size=2, replace=False)
        if kind[i] in (0, 1):
            x[i, pos[0]] = TOKEN_A
        if kind[i] in (0, 2):
            x[i, pos[1]] = TOKEN_B
    y = ((x == TOKEN_A).any(axis=1) & (x == TOKEN_B).any(axis=1)).astype(np.int32)
    return x.astype(np.int32), y


def load_data():
    rng = np.random.default_rng(0)
    x, y = make_sequences(rng, NUM_TRAIN + NUM_TEST)
    return x[:NUM_TRAIN], y[:NUM_TRAIN], x[NUM_TRAIN:], y[NUM_TRAIN:]


def loss_fn(model: TokenClassifier, batch):
    logits = model(batch["tokens"])
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits=logits, labels=batch["label"]
    ).mean()
    return loss, logits


@nnx.jit
def train_step(model: TokenClassifier, optimizer: nnx.Optimizer, batch):
    """Train for a single step."""
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    optimizer.update(model, grads)  # In-place updates.
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, axis=-1) == batch["label"])}


@nnx.jit
def eval_step(model: TokenClassifier, batch):
    loss, logits = loss_fn(model, batch)
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == batch["label"])
    return loss, accuracy


def save_steps(steps: int, num_saves: int) -> list[int]:
    """``num_saves`` steps spread over [0, steps], always holding 0 and ``steps``."""
    return sorted({int(s) for s in np.linspace(0, steps, max(num_saves, 2)).round()})


def save(mngr, step, layout, model):
    if layout == "state":
        mngr.save(step, args=ocp.args.StandardSave(nnx.state(model)))
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


def main(out_dir, layout: str = "state", steps: int = 120, num_saves: int = 4, seed: int = 0):
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data()
    np.savez(out_dir / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    model = make_model(seed)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)

    ckpt_dir = out_dir / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(ckpt_dir, options=options)
    to_save = save_steps(steps, num_saves)
    batch_rng = np.random.default_rng(seed)

    save(mngr, 0, layout, model)  # Before any training.
    for step in range(1, steps + 1):
        idx = batch_rng.choice(len(x_train), BATCH_SIZE, replace=False)
        train_step(model, optimizer, {"tokens": x_train[idx], "label": y_train[idx]})
        if step in to_save:
            save(mngr, step, layout, model)
    mngr.wait_until_finished()
    mngr.close()
    return ckpt_dir


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--layout", default="state", choices=LAYOUTS)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--saves", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(main(a.out_dir, layout=a.layout, steps=a.steps, num_saves=a.saves, seed=a.seed))
