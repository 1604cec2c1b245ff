"""Shared pieces of the tests: a folder's fingerprint, a user's data file, a fit built by hand."""

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
