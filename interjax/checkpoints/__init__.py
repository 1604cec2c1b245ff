"""Read-only Orbax checkpoint sources; the only module that imports orbax."""

from interjax.checkpoints._source import (
    CheckpointError,
    CheckpointSource,
    abstract_nnx,
    orbax_source,
    stack_trees,
)
from interjax.checkpoints._writer import CheckpointWriter

__all__ = [
    "CheckpointError",
    "CheckpointSource",
    "CheckpointWriter",
    "abstract_nnx",
    "orbax_source",
    "stack_trees",
]
