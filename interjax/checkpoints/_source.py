"""Read-only access to a folder of Orbax checkpoints (the only module that imports orbax).

A training run saved with Orbax's ``CheckpointManager`` holds one folder per step. A
:class:`CheckpointSource` opens it with a read-only manager (``read_only=True, create=False``):
interjax never writes into a checkpoint folder. Each step is restored into an abstract target
made from the user's model factory with ``nnx.eval_shape`` (no parameters are allocated), so a
checkpoint whose parameters do not match the factory is refused with the first mismatched
leaves named. A step that cannot be read (truncated, half-written, another format) is skipped
with a warning naming it, and so is a save that never finished (Orbax's temporary folder of an
interrupted save, which Orbax itself does not list); no readable step at all is an error.
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "CheckpointError",
    "CheckpointSource",
    "abstract_nnx",
    "orbax_source",
    "stack_trees",
]


class CheckpointError(ValueError):
    """A checkpoint folder or step that cannot be used, with what to do about it.

    A :class:`ValueError`; raised for a missing folder, a folder without Orbax steps, a model
    factory whose parameters do not match the checkpoint (first mismatched leaves named), or a
    run none of whose requested steps can be read.

    Example:
      >>> from interjax.checkpoints import CheckpointError, orbax_source
      >>> try:
      ...     orbax_source("/no/such/folder", abstract={})
      ... except CheckpointError as err:
      ...     print(type(err).__name__, isinstance(err, ValueError), "does not exist" in str(err))
      CheckpointError True True
    """


class _UnreadableStep(CheckpointError):
    """One step whose files Orbax cannot read (the cause is chained)."""


_TMP_STEP = re.compile(r".*?(\d+)\.orbax-checkpoint-tmp.*")  # Orbax's TMP_DIR_SUFFIX


def _ocp():
    import orbax.checkpoint as ocp
    from absl import logging as absl_logging

    # Orbax logs routine notices (read-only mode, ...) as absl warnings: keep errors only
    absl_logging.set_verbosity(absl_logging.ERROR)
    return ocp


def abstract_nnx(factory: Callable[[], Any]):
    """``(graphdef, abstract_state)`` of an NNX model factory, without allocating parameters.

    ``nnx.split(nnx.eval_shape(factory))``: the factory is only traced, so every leaf of
    ``abstract_state`` is a ``jax.ShapeDtypeStruct`` with the parameter's shape and dtype.

    Args:
      factory: ``() -> nnx.Module``, e.g. ``lambda: MLP(30, 2, rngs=nnx.Rngs(0))``.

    Returns:
      ``(graphdef, abstract_state)``: the module's ``nnx.GraphDef`` and an ``nnx.State`` of
      abstract leaves (the restore target of :class:`CheckpointSource`).

    Example:
      >>> from flax import nnx
      >>> from interjax.checkpoints import abstract_nnx
      >>> graphdef, state = abstract_nnx(lambda: nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
      >>> state["kernel"].shape, type(state["kernel"].get_value()).__name__
      ((3, 2), 'ShapeDtypeStruct')
    """
    from flax import nnx

    abstract = nnx.eval_shape(factory)
    if not isinstance(abstract, nnx.Module):
        raise TypeError(f"the model factory must return an nnx.Module, got {type(abstract)}")
    return nnx.split(abstract)


def _pure(tree):
    """Pure nested dict of a tree (NNX State → dict) with string keys, for comparison."""
    from flax import nnx

    return nnx.to_pure_dict(tree) if isinstance(tree, nnx.State) else tree


def _leaf_specs(tree) -> dict[str, tuple[tuple[int, ...], str]]:
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, "shape"))[0]
    out = {}
    for path, leaf in flat:
        key = "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)
        out[key] = (tuple(leaf.shape), str(np.dtype(leaf.dtype)))
    return out


def _mismatches(expected, found, limit: int = 5) -> list[str]:
    e, f = _leaf_specs(expected), _leaf_specs(found)
    lines = []
    for key in sorted(set(e) | set(f)):
        if key not in f:
            lines.append(f"{key}: in the model, missing from the checkpoint")
        elif key not in e:
            lines.append(f"{key}: in the checkpoint, not in the model")
        elif e[key] != f[key]:
            lines.append(
                f"{key}: model {e[key][0]} {e[key][1]}, checkpoint {f[key][0]} {f[key][1]}"
            )
        if len(lines) >= limit:
            break
    return lines


@dataclasses.dataclass
class CheckpointSource:
    """A read-only Orbax checkpoint folder restored into an abstract target.

    The target model's checkpoint sequence of METHOD.md §4 (He et al. 2025, arXiv:2505.06993):
    :meth:`restore` gives one step's parameters with the leaf shapes of ``abstract``;
    :meth:`stack` gives T steps with a leading axis, ``(T, *leaf shape)`` per leaf. Use it as a
    context manager (or call :meth:`close`); it never writes into the folder.

    Attributes:
      directory: the checkpoint folder (one sub-folder per step).
      abstract: pytree of ``jax.ShapeDtypeStruct`` (an abstract NNX State, or Linen variables)
        describing one step's parameters.

    Example:
      >>> import tempfile, jax, numpy as np
      >>> from interjax.checkpoints import CheckpointSource, CheckpointWriter
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     with CheckpointWriter(tmp) as writer:
      ...         for step in (0, 10):
      ...             writer.save(step, {"w": np.full(3, step, np.float32)})
      ...     abstract = {"w": jax.ShapeDtypeStruct((3,), np.float32)}
      ...     with CheckpointSource(tmp, abstract) as source:
      ...         print(source.all_steps(), source.restore(10)["w"].tolist())
      ...         steps, stacked = source.stack()
      [0, 10] [10.0, 10.0, 10.0]
      >>> steps, stacked["w"].shape
      ([0, 10], (2, 3))
    """

    directory: Path
    abstract: Any

    def __post_init__(self):
        self.directory = Path(self.directory).absolute()  # Orbax needs absolute paths
        if not self.directory.exists():
            raise CheckpointError(
                f"checkpoint folder {self.directory} does not exist; pass the folder that "
                "holds one sub-folder per saved step."
            )
        if not self.directory.is_dir():
            raise CheckpointError(f"{self.directory} is not a folder")
        ocp = _ocp()
        options = ocp.CheckpointManagerOptions(read_only=True, create=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._manager = ocp.CheckpointManager(
                self.directory, item_handlers=ocp.StandardCheckpointHandler(), options=options
            )
        if not self._manager.all_steps():
            unfinished = self._unfinished_steps()
            raise CheckpointError(
                f"no Orbax checkpoint steps in {self.directory}; expected sub-folders named by "
                "step (0, 100, ...) written by orbax.checkpoint.CheckpointManager."
                + (
                    f" Only unfinished saves were found (steps {sorted(unfinished)}: Orbax's "
                    "temporary folders of interrupted saves, or of saves still in progress)."
                    if unfinished
                    else ""
                )
            )
        self._checked = False

    def close(self) -> None:
        """Release Orbax's resources (threads); the folder is untouched."""
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def all_steps(self) -> list[int]:
        """Committed steps, ascending (re-read from disk, so a run in progress shows new ones)."""
        self._manager.reload()
        return sorted(int(s) for s in self._manager.all_steps())

    def _unfinished_steps(self) -> dict[int, str]:
        """Steps whose save has not finished: ``{step: folder name}`` of Orbax's temporary
        ``<step>.orbax-checkpoint-tmp*`` folders that have no committed step beside them.

        On a local disk Orbax commits a step by renaming its temporary folder to the step's
        name, so what an interrupted save leaves is such a folder; Orbax does not list it, and
        neither does :meth:`all_steps`.
        """
        committed = set(self._manager.all_steps())
        found = {}
        for path in sorted(self.directory.iterdir()):
            m = _TMP_STEP.fullmatch(path.name)
            if m and int(m.group(1)) not in committed:
                found[int(m.group(1))] = path.name
        return found

    def _check_structure(self, step: int) -> None:
        if self._checked:
            return
        try:
            meta = self._manager.item_metadata(step)
            found = getattr(meta, "tree", meta)
        except Exception:  # unreadable metadata: the restore below decides
            return
        if found is None:
            return
        problems = _mismatches(_pure(self.abstract), found)
        if problems:
            raise CheckpointError(
                f"the model factory does not match the checkpoint at step {step} in "
                f"{self.directory}: "
                + "; ".join(problems)
                + ". Build the same architecture that was trained (sizes, layers, dtypes)."
            )
        self._checked = True

    def restore(self, step: int):
        """The parameters of ``step`` as a pytree of the abstract target's structure.

        A step that cannot be read (truncated, half-written, another format, or deleted since
        it was listed) raises :class:`CheckpointError` naming it, Orbax's error chained.
        """
        ocp = _ocp()
        self._check_structure(step)
        target = _pure(self.abstract)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pure = self._manager.restore(step, args=ocp.args.StandardRestore(target))
        except Exception as err:  # truncated, half-written, another format, deleted meanwhile
            raise _UnreadableStep(
                f"checkpoint step {step} in {self.directory} cannot be read "
                f"({type(err).__name__}: {str(err)[:200]})"
            ) from err
        from flax import nnx

        if isinstance(self.abstract, nnx.State):
            state = jax.tree.map(lambda x: x, self.abstract)
            nnx.replace_by_pure_dict(state, pure)
            return state
        return pure

    def restore_many(self, steps: Sequence[int] | None = None):
        """Restore several steps, skipping (with a warning naming it) any that cannot be read.

        Returns ``(steps_read, params_list)``; raises :class:`CheckpointError` if none can.
        Without ``steps``, every committed step is read, and each save that did not finish
        (an interrupted save's temporary folder) is named in a warning.
        """
        if steps is None:
            steps = self.all_steps()
            for step, name in self._unfinished_steps().items():
                warnings.warn(
                    f"skipping checkpoint step {step} in {self.directory}: its save did not "
                    f"finish ({name} is Orbax's temporary folder of an interrupted save, or of "
                    "one still in progress)",
                    stacklevel=2,
                )
        steps = list(steps)
        read, params = [], []
        for step in steps:
            try:
                params.append(self.restore(step))
                read.append(step)
            except _UnreadableStep as err:  # truncated / half-written / foreign step
                cause = err.__cause__
                warnings.warn(
                    f"skipping checkpoint step {step} in {self.directory}: it cannot be read "
                    f"({type(cause).__name__}: {str(cause)[:200]})",
                    stacklevel=2,
                )
        if not read:
            raise CheckpointError(
                f"none of the steps {steps} in {self.directory} could be read; see the warnings "
                "above for each step."
            )
        return read, params

    def stack(self, steps: Sequence[int] | None = None):
        """``(steps_read, stacked)``: readable steps' parameters stacked on a leading axis, ready
        for :func:`interjax.stack_models` (one compiled sweep for all of them)."""
        read, params = self.restore_many(steps)
        return read, stack_trees(params)

    def watch(
        self,
        *,
        poll_seconds: float = 5.0,
        timeout: float | None = None,
        start_after: int | None = None,
    ) -> Iterator[int]:
        """Yield steps as a run in progress commits them, until ``timeout`` seconds pass without
        a new step (forever with ``None``). Half-written steps are not yet listed by Orbax."""
        seen = -1 if start_after is None else start_after
        last_new = time.monotonic()
        while True:
            new = [s for s in self.all_steps() if s > seen]
            for step in new:
                seen = step
                yield step
            if new:
                last_new = time.monotonic()
            elif timeout is not None and time.monotonic() - last_new >= timeout:
                return
            else:
                time.sleep(poll_seconds)


def stack_trees(trees: Sequence[Any]):
    """Stack pytrees of one structure on a new leading axis.

    ``out[leaf][t] = trees[t][leaf]``: T trees whose leaf has shape ``s`` give a tree of the
    same structure whose leaf has shape ``(T, *s)``, the stacked parameters that
    :func:`interjax.stack_models` sweeps in one compiled call.

    Example:
      >>> import numpy as np
      >>> from interjax.checkpoints import stack_trees
      >>> out = stack_trees([{"w": np.zeros(2)}, {"w": np.ones(2)}, {"w": np.full(2, 2.0)}])
      >>> out["w"].shape, out["w"][:, 0].tolist()
      ((3, 2), [0.0, 1.0, 2.0])
    """
    if not trees:
        raise ValueError("nothing to stack")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def orbax_source(directory, *, abstract=None, model_factory: Callable[[], Any] | None = None):
    """Open an Orbax checkpoint folder read-only.

    Give the target either as ``abstract`` (a pytree of ``jax.ShapeDtypeStruct``, e.g. an
    abstract NNX State or Linen variables) or as ``model_factory`` (a function building the NNX
    model; it is only traced with ``nnx.eval_shape``, see :func:`abstract_nnx`).

    Returns:
      A :class:`CheckpointSource`; its ``stack()`` gives ``(steps, params)`` with every leaf
      ``(T, *leaf shape)`` for T readable steps (METHOD.md §4: the target's checkpoints).

    Example:
      >>> import tempfile
      >>> from flax import nnx
      >>> from interjax.checkpoints import CheckpointWriter, orbax_source
      >>> factory = lambda: nnx.Linear(2, 1, rngs=nnx.Rngs(0))
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     with CheckpointWriter(tmp) as writer:
      ...         for step in (0, 5):
      ...             writer.save(step, nnx.split(factory())[1])
      ...     with orbax_source(tmp, model_factory=factory) as source:
      ...         steps, params = source.stack()
      >>> steps, params["kernel"].shape, params["bias"].shape
      ([0, 5], (2, 2, 1), (2, 1))
    """
    if (abstract is None) == (model_factory is None):
        raise ValueError("pass exactly one of abstract or model_factory")
    if model_factory is not None:
        _, abstract = abstract_nnx(model_factory)
    return CheckpointSource(Path(directory), abstract)
