"""Shared pieces of the tests: a folder's fingerprint, a user's data file and run, a fit built
by hand."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import interjax as ij


def folder_hash(root: Path) -> str:
    """Names, modification times and bytes of everything under ``root``: equal before and after
    iff nothing in the folder was written, added, removed or touched."""
    h = hashlib.sha256()
    for path in sorted(Path(root).rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        h.update(str(path.stat().st_mtime_ns).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def write_user_data(path: Path, ds) -> Path:
    """The npz ``interjax analyze --data`` reads: a dataset's train and test splits."""
    np.savez(path, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    return path


MLP_MODULE = """from flax import nnx
from interjax.data import MLP


def make_model(seed=0):
    return MLP({features}, 2, hidden=(8,), rngs=nnx.Rngs(seed))
"""


def write_user_run(root: Path, *, features: int, total_steps: int, num_saves: int) -> tuple:
    """A researcher's run in ``root`` for ``interjax analyze``: ``usermodel.py`` (``make_model``:
    an MLP on ``features`` inputs), ``data.npz`` (planted rules) and ``run/checkpoints`` from
    the real training loop (optax + Orbax). Returns the saved steps."""
    from flax import nnx

    from interjax import data

    (root / "usermodel.py").write_text(MLP_MODULE.format(features=features))
    ds = data.planted_rules(num_train=64, num_test=64, num_features=features, seed=1)
    write_user_data(root / "data.npz", ds)

    def factory(seed=0):
        return data.MLP(features, 2, hidden=(8,), rngs=nnx.Rngs(seed))

    run = data.train_run(factory, ds, root / "run", total_steps=total_steps,
                         num_saves=num_saves, batch_size=32)  # fmt: skip
    return run.steps


def fit_of(and_, or_, floor_and=None, floor_or=None, objective=0.0) -> ij.AndOr:
    """An ``AndOr`` holding the given interactions and noise floors (leading axes allowed), built
    without a solve: status CONVERGED, gap 0, zero floors unless given."""
    and_, or_ = jnp.asarray(and_, jnp.float64), jnp.asarray(or_, jnp.float64)
    zero, scalar = jnp.zeros(and_.shape), jnp.zeros(and_.shape[:-1])
    return ij.AndOr(
        and_=and_,
        or_=or_,
        gamma=zero,
        q=zero,
        objective=scalar + objective,
        lower_bound=scalar + objective,
        gap=scalar,
        relative_gap=scalar,
        iterations=jnp.zeros(and_.shape[:-1], jnp.int32),
        status=jnp.full(and_.shape[:-1], int(ij.FitStatus.CONVERGED), jnp.int32),
        tau=scalar,
        noise_floor_and=zero if floor_and is None else jnp.asarray(floor_and, jnp.float64),
        noise_floor_or=zero if floor_or is None else jnp.asarray(floor_or, jnp.float64),
    )
