"""Read-only access to a folder of Orbax checkpoints.

A training run saved with Orbax's ``CheckpointManager`` holds one folder per step, each with one
item (``mgr.save(step, args=ocp.args.StandardSave(tree))``) or several
(``ocp.args.Composite(model=..., optimizer=..., metrics=...)``). A :class:`CheckpointSource`
opens it with read-only managers (``read_only=True, create=False``): interjax never writes into
a checkpoint folder.

The model's variables are found in the checkpoint by their paths and shapes
(:func:`interjax.checkpoints.find_layout`): an NNX ``State`` (its variables saved as
``{"value": array}``, RNG state beside them), a pure dict, Linen variables, or the parameters
(and batch statistics) nested in a ``TrainState``, in any item. Each step then restores only
those arrays (Orbax's partial restore: an optimizer's moments are never read), with the dtypes
the checkpoint stores, so a factory built under x64 or without explicit dtypes still matches.
An NNX model's RNG state is not read: evaluation runs in inference mode, where it is unused, and
it is filled with a fixed key.

A step that cannot be read (truncated, half-written, another format) is skipped with a warning
naming it, and so is a save that never finished (Orbax's temporary folder of an interrupted
save, which Orbax itself does not list); no readable step at all is an error.

Orbax's routine notices (read-only mode, …) are dropped while interjax calls Orbax, and only
then (:mod:`interjax.checkpoints._quiet`): absl's verbosity and the user's logging configuration
are left as they were.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import stack_leaves
from interjax.checkpoints._factory import FactoryModel, describe_factory
from interjax.checkpoints._layouts import CheckpointError, Layout, find_layout, flatten_tree
from interjax.checkpoints._quiet import quiet_orbax

__all__ = [
    "CheckpointError",
    "CheckpointSource",
    "abstract_nnx",
    "orbax_source",
    "stack_trees",
]


class _UnreadableStep(CheckpointError):
    """One step whose files Orbax cannot read (the cause is chained)."""


class _NoReadableMetadata(CheckpointError):
    """No step's metadata can be read, so where the variables are cannot be found."""


_TMP_STEP = re.compile(r".*?(\d+)\.orbax-checkpoint-tmp.*")  # Orbax's TMP_DIR_SUFFIX
_PREFIXED_STEP = re.compile(r"(.+)_(\d+)")  # CheckpointManagerOptions(step_prefix=...)
_ARRAY_HANDLERS = ("PyTreeCheckpointHandler", "StandardCheckpointHandler")


def _this_process_only():
    """Orbax's options for reading in this process alone. Under ``jax.distributed`` Orbax
    otherwise waits, at each manager and restore, for every process to do the same; the
    processes of an analysis read different steps (``interjax/_distributed.py``)."""
    import jax

    ocp, me = _ocp(), jax.process_index()
    if jax.process_count() == 1:
        return ocp.options.MultiprocessingOptions()
    return ocp.options.MultiprocessingOptions(
        primary_host=me, active_processes={me}, barrier_sync_key_prefix=f"interjax-read-{me}"
    )


def _ocp():
    import orbax.checkpoint as ocp

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
    described = describe_factory(factory)
    if described.kind != "nnx":
        raise TypeError("the model factory must return an nnx.Module")
    return described.graphdef, described.abstract


def _is_nnx_state(tree) -> bool:
    from flax import nnx

    return isinstance(tree, nnx.State)


def _paths_of(state, variable_type) -> set[tuple[str, ...]]:
    """Paths (string keys) of an NNX state's variables of one type (RngState, BatchStat)."""
    from flax import nnx

    return {
        tuple(str(k) for k in path)
        for path, var in nnx.to_flat_state(state)
        if isinstance(var, variable_type)
    }


def _model_leaves(abstract):
    """``(paths, treedef, leaves, rng_paths)`` of the abstract target: each leaf's path (string
    keys) in the pure form, and the paths of an NNX model's RNG state (not read)."""
    from flax import nnx

    if _is_nnx_state(abstract):
        pure = nnx.to_pure_dict(abstract)
        rng = _paths_of(abstract, nnx.RngState)
    else:
        pure, rng = abstract, set()
    flat, treedef = jax.tree_util.tree_flatten_with_path(pure)
    paths = [tuple(str(getattr(k, "key", getattr(k, "idx", k))) for k in p) for p, _ in flat]
    return paths, treedef, [leaf for _, leaf in flat], rng


def _fixed(leaf):
    """A fixed value for a leaf that is not read (an NNX model's RNG key or counter)."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jnp.broadcast_to(jax.random.key(0), leaf.shape)
    return jnp.zeros(leaf.shape, leaf.dtype)


def _is_linen_variables(abstract) -> bool:
    return (
        isinstance(abstract, dict)
        and "params" in abstract
        and all(isinstance(v, dict) for v in abstract.values())
    )


class CheckpointSource:
    """A read-only Orbax checkpoint folder restored into an abstract target.

    The target model's checkpoint sequence (He et al. 2025, arXiv:2505.06993): :meth:`restore`
    gives one step's variables in the structure of ``abstract``; :meth:`stack` gives T steps
    with a leading axis, ``(T, *leaf shape)`` per leaf. Where the checkpoint keeps the
    variables is found on first use (:attr:`layout`), or given by ``item`` and
    ``params_path``. Use it as a context manager (or call :meth:`close`); it never writes into
    the folder.

    Attributes:
      directory: the checkpoint folder (one sub-folder per step).
      abstract: pytree of ``jax.ShapeDtypeStruct`` (an abstract NNX State, or Linen variables)
        describing one step's variables.
      item, params_path: where the variables are (``None``: found automatically).
      factory_model: the :class:`FactoryModel` the target came from, if any (gives
        :meth:`model`).

    Example:
      >>> import tempfile, jax, numpy as np
      >>> from interjax.checkpoints import CheckpointSource
      >>> from interjax.data import CheckpointWriter
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

    @quiet_orbax
    def __init__(
        self,
        directory,
        abstract,
        *,
        item: str | None = None,
        params_path: str | Sequence[str] | None = None,
        factory_model: FactoryModel | None = None,
    ):
        self.directory = Path(directory).absolute()  # Orbax needs absolute paths
        self.abstract = abstract
        self.item = item
        if isinstance(params_path, str):
            params_path = tuple(p for p in params_path.strip("/").split("/") if p)
        self.params_path = None if params_path is None else tuple(params_path)
        self.factory_model = factory_model
        if not self.directory.exists():
            raise CheckpointError(
                f"checkpoint folder {self.directory} does not exist; pass the folder that "
                "holds one sub-folder per saved step."
            )
        if not self.directory.is_dir():
            raise CheckpointError(f"{self.directory} is not a folder")
        self._step_prefix = None
        self._lister = self._manager()
        if not self._lister.all_steps():
            prefix = self._find_step_prefix()
            if prefix is not None:
                self._lister.close()
                self._step_prefix = prefix
                self._lister = self._manager()
        if not self._lister.all_steps():
            unfinished = self._unfinished_steps()
            self._lister.close()
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
        self._paths, self._treedef, self._leaves, self._rng = _model_leaves(abstract)
        self._layout: Layout | None = None
        self._readers: dict = {}
        self._items: dict | None = None  # the metadata of the step the layout was found in

    # -- managers ---------------------------------------------------------------------------
    @quiet_orbax
    def _manager(self, item_handlers=None):
        ocp = _ocp()
        options = ocp.CheckpointManagerOptions(
            read_only=True,
            create=False,
            step_prefix=self._step_prefix,
            multiprocessing_options=_this_process_only(),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ocp.CheckpointManager(
                self.directory, item_handlers=item_handlers, options=options
            )

    def _find_step_prefix(self) -> str | None:
        """The ``step_prefix`` of folders named ``<prefix>_<step>`` (one prefix for all)."""
        found = {
            m.group(1)
            for p in self.directory.iterdir()
            if p.is_dir() and (m := _PREFIXED_STEP.fullmatch(p.name))
        }
        return found.pop() if len(found) == 1 else None

    def _reader(self, names: tuple):
        """A read-only manager with a PyTree handler for each array item (one for a single-
        item checkpoint, ``names == (None,)``)."""
        if names not in self._readers:
            ocp = _ocp()
            alone = _this_process_only()
            if names == (None,):
                handlers = ocp.PyTreeCheckpointHandler(multiprocessing_options=alone)
            else:
                handlers = {
                    name: ocp.PyTreeCheckpointHandler(multiprocessing_options=alone)
                    for name in names
                }
            self._readers[names] = self._manager(handlers)
        return self._readers[names]

    @quiet_orbax
    def close(self) -> None:
        """Release Orbax's resources (threads); the folder is untouched."""
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        self._lister.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- steps ------------------------------------------------------------------------------
    @quiet_orbax
    def all_steps(self) -> list[int]:
        """Committed steps, ascending (re-read from disk, so a run in progress shows new ones)."""
        self._lister.reload()
        return sorted(int(s) for s in self._lister.all_steps())

    @quiet_orbax
    def _unfinished_steps(self) -> dict[int, str]:
        """Steps whose save has not finished: ``{step: folder name}`` of Orbax's temporary
        ``<step>.orbax-checkpoint-tmp*`` folders that have no committed step beside them.

        On a local disk Orbax commits a step by renaming its temporary folder to the step's
        name, so what an interrupted save leaves is such a folder; Orbax does not list it, and
        neither does :meth:`all_steps`.
        """
        committed = set(self._lister.all_steps())
        found = {}
        for path in sorted(self.directory.iterdir()):
            m = _TMP_STEP.fullmatch(path.name)
            if m and int(m.group(1)) not in committed:
                found[int(m.group(1))] = path.name
        return found

    # -- layout -----------------------------------------------------------------------------
    @quiet_orbax
    def _step_items(self, step: int):
        """``(array items, other items)`` of one step: ``{name: {path: (shape, dtype)}}`` from
        Orbax's metadata (no array is read), and ``{name: kind}`` of items without arrays."""
        meta = self._lister.metadata(step)
        handlers = getattr(meta, "item_handlers", None)
        if isinstance(handlers, str) or handlers is None:
            handlers = {"default": handlers or "PyTreeCheckpointHandler"}
        arrays, others = [], {}
        for name, handler in handlers.items():
            kind = str(handler).rsplit(".", 1)[-1]
            if kind in _ARRAY_HANDLERS:
                arrays.append(name)
            else:
                others[name] = kind.replace("CheckpointHandler", "") or "unknown"
        if arrays == ["default"] and not others:
            tree = self._reader((None,)).item_metadata(step)
            return {None: flatten_tree(getattr(tree, "tree", tree))}, others
        items, error = {}, None
        for name in arrays:  # each item on its own: a damaged item the model does not need
            try:  # (an optimizer's state, say) must not stop the others
                tree = self._reader((name,)).item_metadata(step)[name]
            except Exception as err:
                others[name], error = "unreadable", err
                continue
            tree = getattr(tree, "tree", tree)
            items[name] = flatten_tree(tree) if tree is not None else {}
        if not items and error is not None:
            raise error
        return items, others

    @property
    def layout(self) -> Layout:
        """Where each step keeps the model's variables (found from the first step whose
        metadata can be read; raises :class:`CheckpointError` naming what was found when no
        subtree, or more than one, matches)."""
        if self._layout is None:
            required = {
                p: (tuple(leaf.shape), str(leaf.dtype))
                for p, leaf in zip(self._paths, self._leaves, strict=True)
                if p not in self._rng
            }
            error = None
            for step in self.all_steps():
                try:
                    items, others = self._step_items(step)
                except Exception as err:  # unreadable metadata: try the next step
                    error = err
                    continue
                self._items = items
                try:
                    self._layout = find_layout(
                        items,
                        required,
                        self._rng,
                        item=self.item,
                        params_path=self.params_path,
                        collections=_is_linen_variables(self.abstract),
                        other_items=others,
                    )
                except CheckpointError as err:
                    hint = self._missing_statistics(items, required)
                    raise type(err)(f"{self.directory}, step {step}: {hint or err}") from None
                break
            else:
                raise _NoReadableMetadata(
                    f"none of the steps {self.all_steps()} in {self.directory} could be read: "
                    f"no step's Orbax metadata is readable ({type(error).__name__}: "
                    f"{str(error)[:200]})"
                )
        return self._layout

    def _missing_statistics(self, items, required) -> str | None:
        """The message for a checkpoint that holds an NNX model's parameters but not its
        BatchNorm statistics (``nnx.state(model, nnx.Param)`` of a model with BatchNorm)."""
        if not _is_nnx_state(self.abstract):
            return None
        from flax import nnx

        stats = _paths_of(self.abstract, nnx.BatchStat)
        if not stats & set(required):
            return None
        try:
            found = find_layout(
                items,
                {p: s for p, s in required.items() if p not in stats},
                self._rng,
                item=self.item,
                params_path=self.params_path,
            )
        except CheckpointError:
            return None
        names = ", ".join("/".join(p) for p in sorted(stats)[:4])
        return (
            f"the checkpoint holds the model's parameters ({found.describe()}) but not its "
            f"BatchNorm statistics ({names}), which inference needs; save every variable, "
            "nnx.state(model), not nnx.state(model, nnx.Param)"
        )

    def stored_arrays(self) -> dict[tuple[str, ...], tuple[tuple[int, ...], np.dtype]]:
        """``{model path: (shape, dtype)}`` of the variables read from each step, as the
        checkpoint stores them (from the metadata of the step the layout was found in; no
        array is read)."""
        layout = self.layout
        items = self._items
        out = {}
        for prefix, loc in layout.parts.items():
            for logical, stored in loc.stored.items():
                shape, dtype = items[loc.item][loc.path + stored]
                out[prefix + logical] = (tuple(shape), np.dtype(dtype))
        return out

    def describe_layout(self) -> str:
        """One line: which item and subtree hold the variables (for reports and messages)."""
        return self.layout.describe()

    # -- restore ----------------------------------------------------------------------------
    @quiet_orbax
    def _restore_arrays(self, step: int) -> dict:
        """``{model path: array}`` of the required leaves of one step (partial restore)."""
        ocp = _ocp()
        layout = self.layout
        items = self._items
        by_item: dict = {}
        for prefix, loc in layout.parts.items():
            for logical, stored in loc.stored.items():
                full = loc.path + stored
                shape, dtype = items[loc.item][full]
                by_item.setdefault(loc.item, {})[full] = (prefix + logical, shape, dtype)

        def nested(entries, make):
            tree: dict = {}
            for full, entry in entries.items():
                node = tree
                for key in full[:-1]:
                    node = node.setdefault(key, {})
                node[full[-1]] = make(entry)
            return tree

        def args_for(entries):
            target = nested(entries, lambda e: jax.ShapeDtypeStruct(e[1], np.dtype(e[2])))
            restore_args = nested(
                entries, lambda e: ocp.RestoreArgs(restore_type=np.ndarray, dtype=np.dtype(e[2]))
            )
            return ocp.args.PyTreeRestore(
                item=target, restore_args=restore_args, partial_restore=True
            )

        names = tuple(sorted(by_item, key=str))
        reader = self._reader(names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if names == (None,):
                restored = {None: reader.restore(step, args=args_for(by_item[None]))}
            else:
                composite = ocp.args.Composite(**{n: args_for(by_item[n]) for n in names})
                restored = reader.restore(step, args=composite)
        out = {}
        for name, entries in by_item.items():
            tree = restored[name]
            for full, (model_path, _, _) in entries.items():
                node = tree
                for key in full:
                    node = node[key]
                out[model_path] = node
        return out

    def restore(self, step: int):
        """The variables of ``step`` in the structure of the abstract target.

        Only the arrays the model needs are read, in the dtypes the checkpoint stores; an NNX
        model's RNG state is filled with a fixed key (inference does not use it). A step that
        cannot be read (truncated, half-written, another format, or deleted since it was
        listed) raises :class:`CheckpointError` naming it, Orbax's error chained.
        """
        try:
            _ = self.layout  # a layout error is the user's to fix, not a damaged step
        except _NoReadableMetadata as err:
            raise _UnreadableStep(str(err)) from err
        try:
            arrays = self._restore_arrays(step)
        except Exception as err:  # truncated, half-written, another format, deleted meanwhile
            raise _UnreadableStep(
                f"checkpoint step {step} in {self.directory} cannot be read "
                f"({type(err).__name__}: {str(err)[:200]})"
            ) from err
        leaves = [
            _fixed(leaf) if path in self._rng else arrays[path]
            for path, leaf in zip(self._paths, self._leaves, strict=True)
        ]
        pure = jax.tree_util.tree_unflatten(self._treedef, leaves)
        if _is_nnx_state(self.abstract):
            from flax import nnx

            state = jax.tree.map(lambda x: x, self.abstract)
            nnx.replace_by_pure_dict(state, pure)
            return state
        return pure

    def readable(self, steps: Sequence[int] | None = None) -> Iterator[tuple[int, Any]]:
        """Yield ``(step, variables)`` for each step that can be read, one at a time (never
        more than one step in memory), skipping with a warning naming it any that cannot.

        Without ``steps``, every committed step is read, and each save that did not finish
        (an interrupted save's temporary folder) is named in a warning. Raises
        :class:`CheckpointError` at the end if no step could be read.
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
        any_read = False
        for step in steps:
            try:
                variables = self.restore(step)
            except _UnreadableStep as err:  # truncated / half-written / foreign step
                cause = err.__cause__
                warnings.warn(
                    f"skipping checkpoint step {step} in {self.directory}: it cannot be read "
                    f"({type(cause).__name__}: {str(cause)[:200]})",
                    stacklevel=3,
                )
                continue
            any_read = True
            yield step, variables
        if not any_read:
            raise CheckpointError(
                f"none of the steps {steps} in {self.directory} could be read; see the warnings "
                "above for each step."
            )

    def restore_many(self, steps: Sequence[int] | None = None):
        """Restore several steps, skipping (with a warning naming it) any that cannot be read.

        Returns ``(steps_read, params_list)``; raises :class:`CheckpointError` if none can.
        Without ``steps``, every committed step is read, and each save that did not finish
        (an interrupted save's temporary folder) is named in a warning (:meth:`readable`).
        """
        pairs = list(self.readable(steps))
        return [s for s, _ in pairs], [p for _, p in pairs]

    def stack(self, steps: Sequence[int] | None = None):
        """``(steps_read, stacked)``: readable steps' parameters stacked on a leading axis, ready
        for :func:`interjax.stack_models` (one compiled sweep for all of them)."""
        read, params = self.restore_many(steps)
        return read, stack_trees(params)

    def model(self, output, step: int | None = None):
        """An :class:`interjax.Model` of the factory's architecture with the variables of
        ``step`` (default: the first readable step), in inference mode; ``model.with_params(
        source.restore(s))`` moves it to another step without compiling again."""
        if self.factory_model is None:
            raise ValueError(
                "this source was opened with abstract=...; open it with model_factory=... to "
                "get a model, or wrap the restored variables with ij.from_nnx / ij.from_linen."
            )
        if step is None:  # the first step that can be read
            _, variables = next(iter(self.readable(self.all_steps())))
        else:
            variables = self.restore(step)
        return self.factory_model.model(variables, output)

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
    return stack_leaves(list(trees))


def orbax_source(
    directory,
    *,
    abstract=None,
    model_factory: Callable[[], Any] | None = None,
    example_input=None,
    item: str | None = None,
    params_path: str | Sequence[str] | None = None,
):
    """Open an Orbax checkpoint folder read-only.

    Give the target either as ``abstract`` (a pytree of ``jax.ShapeDtypeStruct``, e.g. an
    abstract NNX State or Linen variables) or as ``model_factory``: a function building the
    model, an NNX module (traced with ``nnx.eval_shape``) or a Linen module (its variables
    from ``jax.eval_shape(module.init, key, example_input)`` in inference mode; see
    :func:`interjax.checkpoints.describe_factory`). No parameter is allocated.

    Where the checkpoint keeps the variables is found automatically: the one subtree of one
    item whose paths and shapes are the model's (NNX ``State`` saved whole or as a pure dict,
    ``nnx.state(model, nnx.Param)``, Linen params or variables, a ``TrainState``, any item of
    a ``Composite``; optimizer states are never chosen). ``item`` and ``params_path``
    (``"state/params"``-style, relative to the item) say it explicitly.

    Returns:
      A :class:`CheckpointSource`; its ``stack()`` gives ``(steps, params)`` with every leaf
      ``(T, *leaf shape)`` for T readable steps, and with a factory, ``model(output)`` the
      inference-mode :class:`interjax.Model` they belong to.

    Example:
      >>> import tempfile
      >>> from flax import nnx
      >>> from interjax.checkpoints import orbax_source
      >>> from interjax.data import CheckpointWriter
      >>> factory = lambda: nnx.Linear(2, 1, rngs=nnx.Rngs(0))
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     with CheckpointWriter(tmp) as writer:
      ...         for step in (0, 5):
      ...             writer.save(step, nnx.split(factory())[1])
      ...     with orbax_source(tmp, model_factory=factory) as source:
      ...         steps, params = source.stack()
      ...         where = source.describe_layout()
      >>> steps, params["kernel"].shape, params["bias"].shape, where
      ([0, 5], (2, 2, 1), (2, 1), '(root)')
    """
    if (abstract is None) == (model_factory is None):
        raise ValueError("pass exactly one of abstract or model_factory")
    described = None
    if model_factory is not None:
        described = describe_factory(model_factory, example_input)
        abstract = described.abstract
    return CheckpointSource(
        Path(directory), abstract, item=item, params_path=params_path, factory_model=described
    )
