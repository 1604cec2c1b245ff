"""Shared pieces of the tests that act like a user: a folder's fingerprint, a user's data file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


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
