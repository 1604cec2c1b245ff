"""Read-only Orbax checkpoint sources: open a run's folder, find the model's variables, restore.

Reading only: this package never writes into a checkpoint folder. Orbax's routine notices are
dropped while it reads, and only then (:func:`orbax_notices_dropped`). Orbax is imported by two
places of interjax: here (reading) and :mod:`interjax.data` (writing the example runs with
:class:`interjax.data.CheckpointWriter`).

``interjax.checkpoints.CheckpointWriter`` is an alias of :class:`interjax.data.CheckpointWriter`
kept for one release (loaded on first use; import it from :mod:`interjax.data`).
"""

from interjax.checkpoints._factory import FactoryModel, call_factory, describe_factory
from interjax.checkpoints._layouts import (
    CheckpointError,
    Layout,
    LayoutError,
    Location,
    find_layout,
    flatten_tree,
)
from interjax.checkpoints._quiet import orbax_notices_dropped
from interjax.checkpoints._source import CheckpointSource, abstract_nnx, orbax_source, stack_trees

__all__ = [
    "CheckpointError",
    "CheckpointSource",
    "FactoryModel",
    "Layout",
    "LayoutError",
    "Location",
    "abstract_nnx",
    "call_factory",
    "describe_factory",
    "find_layout",
    "flatten_tree",
    "orbax_notices_dropped",
    "orbax_source",
    "stack_trees",
]


def __getattr__(name: str):
    if name == "CheckpointWriter":  # moved to interjax.data; alias kept for one release
        from interjax.data import CheckpointWriter

        return CheckpointWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
