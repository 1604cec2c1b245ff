"""Read-only Orbax checkpoint sources; the only module that imports orbax."""

from interjax.checkpoints._factory import FactoryModel, call_factory, describe_factory
from interjax.checkpoints._layouts import (
    CheckpointError,
    Layout,
    LayoutError,
    Location,
    find_layout,
    flatten_tree,
)
from interjax.checkpoints._source import CheckpointSource, abstract_nnx, orbax_source, stack_trees
from interjax.checkpoints._writer import CheckpointWriter

__all__ = [
    "CheckpointError",
    "CheckpointSource",
    "CheckpointWriter",
    "FactoryModel",
    "Layout",
    "LayoutError",
    "Location",
    "abstract_nnx",
    "call_factory",
    "describe_factory",
    "find_layout",
    "flatten_tree",
    "orbax_source",
    "stack_trees",
]
