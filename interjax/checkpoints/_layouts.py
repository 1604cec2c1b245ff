"""Where a checkpoint keeps a model's variables: the layouts the Flax and Orbax guides write.

A checkpoint step holds one or more *items* (one unnamed item for ``mgr.save(step,
args=ocp.args.StandardSave(tree))``, several for ``ocp.args.Composite(...)``), each a tree of
arrays. The model's variables are one subtree of one item, saved in one of these forms:

* a pure nested dict (``nnx.to_pure_dict(state)``, Linen ``params``/``variables``);
* an NNX ``State`` whose every variable is a dict ``{"value": array}`` (``nnx.state(model)``
  as flax 0.11-0.12 save it), possibly with RNG state (typed keys, counters) beside it;
* nested in a larger state (a Linen ``TrainState``: ``params`` beside ``step`` and
  ``opt_state``; a ``batch_stats`` field beside them for BatchNorm).

:func:`find_layout` compares the checkpoint's metadata (paths and shapes; no array is read)
with the model's variables and finds the one subtree that holds exactly them. Optimizer states
hold copies of the parameters' structure (Adam's ``mu`` and ``nu``); subtrees under an
optimizer's state are never chosen automatically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

__all__ = [
    "CheckpointError",
    "Layout",
    "LayoutError",
    "Location",
    "find_layout",
    "flatten_tree",
    "path_str",
]

Path = tuple[str, ...]
# names under which optimizer states keep their copies of the parameters' structure
OPTIMIZER_KEYS = frozenset({"opt_state", "optimizer", "optimizer_state", "opt", "tx_state"})


class CheckpointError(ValueError):
    """A checkpoint folder or step that cannot be used, with what to do about it.

    A :class:`ValueError`; raised for a missing folder, a folder without Orbax steps, a
    checkpoint none of whose subtrees holds the model's variables (the closest one and what
    differs named), or a run none of whose requested steps can be read.

    Example:
      >>> from interjax.checkpoints import CheckpointError, orbax_source
      >>> try:
      ...     orbax_source("/no/such/folder", abstract={})
      ... except CheckpointError as err:
      ...     print(type(err).__name__, isinstance(err, ValueError), "does not exist" in str(err))
      CheckpointError True True
    """


class LayoutError(CheckpointError):
    """No subtree, or more than one, of a checkpoint holds the model's variables.

    A :class:`CheckpointError`; its one-line message lists the items and their top-level keys,
    the closest subtree and what differs, and how to say where the variables are.

    Example:
      >>> from interjax.checkpoints import LayoutError, find_layout
      >>> try:
      ...     find_layout({None: {("w",): ((3,), "float32")}}, {("w",): ((4,), "float32")})
      ... except LayoutError as err:
      ...     print(str(err)[:54])
      no subtree of the checkpoint holds the model's variabl
    """


def path_str(path: Iterable) -> str:
    """``("a", "b")`` as ``"a/b"`` (the form of ``params_path`` and of error messages)."""
    return "/".join(str(p) for p in path)


def _key_str(key) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def flatten_tree(tree) -> dict[Path, tuple[tuple[int, ...], str]]:
    """``{path: (shape, dtype)}`` of every array leaf of a tree (arrays, ``ShapeDtypeStruct``,
    Orbax's metadata), keys as strings; leaves without a shape (strings, ``None``) are skipped.

    Example:
      >>> import numpy as np
      >>> flatten_tree({"a": {"w": np.zeros((2, 3), np.float32)}, "n": None})
      {('a', 'w'): ((2, 3), 'float32')}
    """
    import jax

    flat = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda x: x is None or hasattr(x, "shape")
    )[0]
    out = {}
    for path, leaf in flat:
        if leaf is None or not hasattr(leaf, "shape"):
            continue
        dtype = getattr(leaf, "dtype", None)
        out[tuple(_key_str(k) for k in path)] = (tuple(int(d) for d in leaf.shape), str(dtype))
    return out


@dataclasses.dataclass(frozen=True)
class Location:
    """One subtree of one item: ``item`` (``None`` for a single-item checkpoint), ``path``
    inside it, and for each of the model's leaves the path it is stored under, relative to
    ``path`` (an NNX variable's array sits one level deeper, under ``"value"``).

    Example:
      >>> from interjax.checkpoints import Location
      >>> str(Location("state", ("params",), {})), str(Location())
      ('state/params', '(root)')
      >>> Location(item="model", path=("params",)).stored
      {}
    """

    item: str | None = None
    path: Path = ()
    stored: Mapping[Path, Path] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return path_str(([self.item] if self.item else []) + list(self.path)) or "(root)"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each part of the model's variables is: ``{model prefix: Location}``; the prefix is
    ``()`` when one subtree holds them all, or a collection name (``("params",)``,
    ``("batch_stats",)``) when a Linen state keeps its collections in separate fields.

    Example:
      >>> from interjax.checkpoints import Layout, Location
      >>> Layout({("params",): Location("state", ("params",), {})}).describe()
      'params at state/params'
    """

    parts: Mapping[Path, Location]

    def describe(self) -> str:
        if list(self.parts) == [()]:
            return str(self.parts[()])
        return ", ".join(f"{path_str(k)} at {loc}" for k, loc in self.parts.items())


def _match(sub: dict[Path, tuple], required: dict[Path, tuple], optional: set[Path]):
    """``(stored, problems)``: the storage path of each required leaf if the subtree ``sub``
    holds exactly the model's leaves (required ones with equal shapes, optional ones, and
    nothing else), else ``None`` with the reasons."""
    stored, problems = {}, []
    seen = set()
    for rel, (shape, _) in sub.items():
        if rel in required or rel in optional:
            logical = rel
        elif rel and rel[-1] == "value" and (rel[:-1] in required or rel[:-1] in optional):
            logical = rel[:-1]
        else:
            problems.append(f"{path_str(rel)}: in the checkpoint, not in the model")
            continue
        if logical in seen:
            problems.append(f"{path_str(logical)}: stored twice")
            continue
        seen.add(logical)
        if logical in required:
            want = required[logical][0]
            if tuple(shape) != tuple(want):
                problems.append(f"{path_str(logical)}: model {want}, checkpoint {tuple(shape)}")
            stored[logical] = rel
    missing = [p for p in required if p not in stored and p not in seen]
    problems += [f"{path_str(p)}: in the model, missing from the checkpoint" for p in missing]
    return (None if problems else stored), problems, len(stored)


def _prefixes(leaves: Iterable[Path]) -> set[Path]:
    out = set()
    for p in leaves:
        for i in range(len(p)):
            out.add(p[:i])
    return out


def _search(items, required, optional, item, params_path):
    """All matching ``Location``s (and the closest miss, for the error)."""
    found, best = [], (0, None, [])
    for name, leaves in items.items():
        if item is not None and name != item:
            continue
        prefixes = [params_path] if params_path is not None else sorted(_prefixes(leaves))
        for prefix in prefixes:
            sub = {p[len(prefix) :]: s for p, s in leaves.items() if p[: len(prefix)] == prefix}
            if not sub:
                continue
            stored, problems, hits = _match(sub, required, optional)
            loc = Location(name, prefix, stored or {})
            if stored is not None:
                found.append(loc)
            elif hits > best[0]:
                best = (hits, loc, problems)
    return found, best


def _is_optimizer_copy(loc: Location) -> bool:
    names = ([loc.item] if loc.item else []) + list(loc.path)
    return any(str(n).lower() in OPTIMIZER_KEYS for n in names)


def _describe_items(items, other_items: Mapping[str, str]) -> str:
    parts = []
    for name, leaves in items.items():
        top = sorted({p[0] for p in leaves if p})
        shown = ", ".join(top[:8]) + (", ..." if len(top) > 8 else "")
        parts.append(f"{name or '(single item)'} (top-level keys: {shown or 'none'})")
    parts += [f"{name} ({kind}, no arrays)" for name, kind in other_items.items()]
    return "; ".join(parts)


def _fix_hint() -> str:
    return (
        "say where the variables are with item=NAME and params_path=a/b (the item's name and "
        "the path of the subtree in it)"
    )


def _locate(items, required, optional, item, params_path, other_items, what: str):
    found, (_hits, closest, problems) = _search(items, required, optional, item, params_path)
    if params_path is None:
        auto = [loc for loc in found if not _is_optimizer_copy(loc)]
        found = auto if auto else []
    if len(found) == 1:
        return found[0]
    listing = _describe_items(items, other_items)
    if len(found) > 1:
        raise LayoutError(
            f"{len(found)} subtrees of the checkpoint match {what}: "
            + ", ".join(str(loc) for loc in found)
            + f" (items: {listing}); {_fix_hint()}."
        )
    example = ", ".join(f"{path_str(p)} {s[0]}" for p, s in list(required.items())[:2])
    where = ""
    if item is not None or params_path is not None:
        where = f" at item={item!r} params_path={path_str(params_path or ())!r}"
    near = ""
    if closest is not None:
        near = f"; the closest is {closest} ({'; '.join(problems[:4])})"
    raise LayoutError(
        f"no subtree of the checkpoint{where} holds {what} ({len(required)} arrays, e.g. "
        f"{example}){near}. Items found: {listing}. Check that the model is the architecture "
        f"that was trained, or {_fix_hint()}."
    )


def find_layout(
    items: Mapping[str | None, Mapping[Path, tuple]],
    required: Mapping[Path, tuple],
    optional: Iterable[Path] = (),
    *,
    item: str | None = None,
    params_path: Path | None = None,
    collections: bool = False,
    other_items: Mapping[str, str] | None = None,
) -> Layout:
    """Find where a checkpoint keeps the model's variables.

    Args:
      items: ``{item name: {path: (shape, dtype)}}`` of the checkpoint's array items
        (:func:`flatten_tree` of Orbax's metadata); ``None`` names a single-item checkpoint.
      required: ``{path: (shape, dtype)}`` of the variables the model needs.
      optional: paths of the model's leaves that may be in the checkpoint but are not read
        (an NNX model's RNG state).
      item, params_path: restrict the search to one item and one subtree (``("a", "b")``).
      collections: the model's top-level keys are Linen collections (``params``,
        ``batch_stats``); when no subtree holds them all, each is looked for on its own (a
        ``TrainState`` keeps ``params`` and ``batch_stats`` in separate fields). With
        ``params_path``, that path holds ``params`` and the other collections are looked up
        beside it.
      other_items: items without arrays (JSON metrics, ...), ``{name: kind}``, for messages.

    Returns:
      :class:`Layout`.

    Raises:
      LayoutError: no subtree or several match; the message lists the items and their
        top-level keys, the closest subtree and what differs, and how to say it explicitly.

    Example:
      A Linen ``TrainState`` saved whole: ``params`` beside ``step`` and Adam's ``mu``/``nu``
      (copies of the parameters' structure, never chosen):

      >>> w = ((3, 2), "float32")
      >>> ckpt = {None: {("step",): ((), "int32"), ("params", "Dense_0", "kernel"): w,
      ...                ("opt_state", "0", "mu", "Dense_0", "kernel"): w,
      ...                ("opt_state", "0", "nu", "Dense_0", "kernel"): w}}
      >>> find_layout(ckpt, {("Dense_0", "kernel"): w}).describe()
      'params'
    """
    other_items = dict(other_items or {})
    required = {tuple(p): s for p, s in required.items()}
    optional = {tuple(p) for p in optional}
    params_path = None if params_path is None else tuple(params_path)
    if not any(items.values()):
        raise LayoutError(
            f"the checkpoint holds no arrays (items: {_describe_items(items, other_items)})"
        )
    if item is not None and item not in items:
        raise LayoutError(
            f"the checkpoint has no array item {item!r}; items: "
            f"{_describe_items(items, other_items)}. Pass one of these names as item=."
        )
    whole = "the model's variables"
    if not collections:
        return Layout(
            {(): _locate(items, required, optional, item, params_path, other_items, whole)}
        )
    names = sorted({p[0] for p in required})
    try:
        return Layout(
            {(): _locate(items, required, optional, item, params_path, other_items, whole)}
        )
    except LayoutError:
        pass  # a TrainState keeps each collection in a field of its own
    parts = {}
    for name in ["params"] + [c for c in names if c != "params"]:
        if name not in names:
            continue
        sub_required = {p[1:]: s for p, s in required.items() if p[0] == name}
        sub_optional = {p[1:] for p in optional if p and p[0] == name}
        path, where = None, item
        if params_path is not None:
            path = params_path if name == "params" else (*params_path[:-1], name)
        if parts and where is None and params_path is not None:
            where = parts[("params",)].item
        parts[(name,)] = _locate(
            items,
            sub_required,
            sub_optional,
            where,
            path,
            other_items,
            f"the model's {name!r} collection",
        )
    return Layout(parts)
