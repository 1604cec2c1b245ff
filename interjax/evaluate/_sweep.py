"""The compiled sweep: a model on all 2**n masked versions of an input (docs/method.md §1).

``v[..., T] = value(model(x_T))`` for every coalition ``T`` in bitmask order. Masks are made on
device from an integer range, chunk by chunk under ``lax.map`` (memory O(chunk × model) plus the
value vector); a chunk's masked inputs of all samples go through the model as one batch;
stacked parameter sets (checkpoints, baselines) are swept one after the other (``lax.map``);
with several devices the chunk axis is split over a ``jax.sharding.Mesh`` with ``shard_map``.
The whole sweep is one ``jax.jit`` program keyed on (apply function, players, input shape and
dtype, chunk size, mesh), so new inputs, targets and parameter sets of the same shapes never
retrace.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from interjax._caches import cache_dict, cached
from interjax.evaluate._checks import check_batched, check_input, check_mesh, diagnose_nonfinite
from interjax.evaluate._models import Model
from interjax.masks import Players, check_mask_value, coalition_players

__all__ = ["default_chunk_size", "evaluate", "mask_inputs", "memory_estimate"]

# masked-input elements per chunk, over all samples: on CPU a chunk that stays in cache wins
# (2**19: 1.5-1.9x faster than 2**21 for an MLP at n = 20), on accelerators fewer, larger chunks
# win (2**20 masks of 30 features: 1.1-1.3x faster than 2**16 on an H200); benchmarks/README.md
_CHUNK_ELEMENTS = {"cpu": 2**19}
_CHUNK_ELEMENTS_ACCELERATOR = 2**25
# on CPU at least this many masked inputs per model call: for large inputs (images) the element
# budget alone gives batches too small for convolutions (a CNN on 32x30x3 images, 16 samples:
# 8 masks per chunk ran at 0.75 of a raw forward, 256 at 0.92; bench_user_run.py)
_MIN_ROWS_CPU = 4096
_MESH_AXIS = "masks"


def mask_inputs(ids, x, mask_value, element_map, n: int, keep_background: bool):
    """Masked inputs ``x_T`` for coalition ids ``(C,)``: shape ``(C, *x.shape)``.

    ``x_T[e] = x[e]`` if the player owning element ``e`` is in ``T`` (or ``e`` is kept
    background), else ``mask_value[e]``.

    Example:
      >>> import jax.numpy as jnp
      >>> mask_inputs(jnp.arange(4), jnp.array([5.0, 7.0]), 0.0, [0, 1], 2, True).tolist()
      [[0.0, 0.0], [5.0, 0.0], [0.0, 7.0], [5.0, 7.0]]
    """
    emap = jnp.asarray(element_map)[None]  # (1, *emap.shape): explicit ranks throughout
    ids = ids.reshape(ids.shape + (1,) * (emap.ndim - 1))
    keep = ((ids >> jnp.maximum(emap, 0)) & 1).astype(bool)
    keep = jnp.where(emap < 0, keep_background, keep)
    keep = keep.reshape(keep.shape + (1,) * (x.ndim + 1 - emap.ndim))
    b = jnp.asarray(mask_value, x.dtype)
    b = b.reshape((1,) * (x.ndim + 1 - b.ndim) + b.shape)
    return jnp.where(keep, x[None], b)


def _result_dtype():
    # float64 when x64 is on (globally or in a ``jax.enable_x64`` context), else float32
    return jax.dtypes.canonicalize_dtype(jnp.float64)


@functools.partial(
    jax.jit,
    static_argnames=(
        "players",
        "chunk_size",
        "batched",
        "baseline_per_sample",
        "mesh",
        "output_kind",
    ),
)
def _sweep(
    model, x, mask_value, *, players, chunk_size, batched, baseline_per_sample, mesh, output_kind
):
    # baseline_per_sample: the mask value has one row per input (the keyword keeps its former
    # name for the benchmarks that call _sweep directly).
    # output_kind: the value function's class and static parts, an explicit part of the compile
    # cache key. The pytree structure of ``model.output`` should hold them, but in jax 0.10.2
    # two PyTreeDefs of ``register_dataclass`` nodes of different classes with the same fields
    # compare equal (their hashes differ): LogOdds, Logit and Probability all have (target,
    # minus_empty), so when jit's executable cache matched a call's key against another entry
    # of the same hash bucket it could run another value function's program (the CI flake of
    # tests/evaluate/test_sweep.py::test_value_functions under xdist). Static arguments are
    # compared with Python ==, so the class here keeps them apart
    # (tests/test_determinism.py::test_value_function_classes_never_share_a_compiled_sweep).
    del output_kind
    input_shape = x.shape[1:] if batched else x.shape
    emap = players.element_map(input_shape)
    n, keep_bg = players.n, players.background == "keep"
    out_fn = model.output

    def values_of_chunk(ids, params, output, x, b):
        """(C,) values for one input and one parameter set."""
        xs = mask_inputs(ids, x, b, emap, n, keep_bg)
        return jax.vmap(output)(model.apply(params, xs))

    def values_of_chunk_batched(ids, params, output, x, b):
        """(B, C) values for B inputs and one parameter set: the B x C masked inputs go
        through the model as one batch (a vmap of the model over the inputs would batch each
        layer twice over), then each input's value function reads its C outputs."""
        masks = jax.vmap(
            lambda xi, bi: mask_inputs(ids, xi, bi, emap, n, keep_bg),
            in_axes=(0, 0 if baseline_per_sample else None),
        )(x, b)  # (B, C, *input_shape)
        num, size = masks.shape[:2]
        out = model.apply(params, masks.reshape(num * size, *masks.shape[2:]))
        out = out.reshape(num, size, *out.shape[1:])
        out_axes = jax.tree.map(lambda t: 0 if jnp.ndim(t) == 1 else None, out_fn)
        return jax.vmap(lambda o, per_input: jax.vmap(o)(per_input), in_axes=(out_axes, 0))(
            output, out
        )

    f = values_of_chunk_batched if batched else values_of_chunk

    def one_model(ids_block, params, output, x, b):  # ids_block: (num_chunks, C)
        vals = jax.lax.map(lambda ids: f(ids, params, output, x, b), ids_block)
        vals = jnp.moveaxis(vals, 0, -2)  # (..., num_chunks, C)
        return vals.reshape(*vals.shape[:-2], -1)

    def body(ids_block, params, output, x, b):
        if not model.num_stacked:
            return one_model(ids_block, params, output, x, b)
        # one stacked model after the other, each over every chunk: a chunk's forward then
        # runs with one set of weights (a vmap over the models' weights batches every layer
        # per model, which costs convolutions several times their plain cost)
        return jax.lax.map(lambda p: one_model(ids_block, p, output, x, b), params)

    num_devices = 1 if mesh is None else mesh.size
    total = 2**n
    num_chunks = math.ceil(total / chunk_size)
    num_chunks = math.ceil(num_chunks / num_devices) * num_devices
    ids = jnp.arange(num_chunks * chunk_size, dtype=jnp.int32).reshape(num_chunks, chunk_size)
    if mesh is None:
        v = body(ids, model.params, out_fn, x, mask_value)
    else:
        lead = (None,) * (int(batched) + int(model.num_stacked > 0))
        ids = jax.lax.with_sharding_constraint(ids, NamedSharding(mesh, P(_MESH_AXIS)))
        v = jax.shard_map(
            body,
            mesh=mesh,
            in_specs=(P(_MESH_AXIS), P(), P(), P(), P()),
            out_specs=P(*lead, _MESH_AXIS),
        )(ids, model.params, out_fn, x, mask_value)
    v = v[..., :total].astype(_result_dtype())
    if getattr(out_fn, "minus_empty", False):
        v = v - v[..., :1]
    return v, jnp.isfinite(v).all()  # the finite flag rides the same program: one sync


def _input_size(shape) -> int:
    return math.prod(int(d) for d in shape)


def default_chunk_size(
    n: int, input_shape, num_samples: int = 1, num_models: int = 1, num_devices: int = 1
) -> int:
    """Masked inputs per chunk: a power of two with about 2**19 input elements per chunk on CPU
    (2**25 on GPU/TPU) over all samples and models, but at least 4096 inputs per model call on
    CPU (large inputs: a convolution wants a large batch), at most ``2**n / num_devices``.

    :func:`evaluate` runs stacked models one after the other, so it asks with
    ``num_models=1``.

    Example:
      >>> c = default_chunk_size(10, (30,))
      >>> c & (c - 1) == 0 and 1 <= c <= 2**10  # a power of two, at most 2**n
      True
    """
    size = _input_size(input_shape)
    backend = jax.default_backend()
    budget = _CHUNK_ELEMENTS.get(backend, _CHUNK_ELEMENTS_ACCELERATOR)
    rows = budget // size
    if backend in _CHUNK_ELEMENTS:
        rows = max(rows, _MIN_ROWS_CPU)
    c = max(1, rows // (max(num_samples, 1) * max(num_models, 1)))
    c = 1 << (c.bit_length() - 1)
    return max(1, min(c, 2**n // num_devices))


def _available_bytes(device) -> int:
    try:
        stats = device.memory_stats() or {}
    except Exception:  # CPU backends may not implement memory_stats
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_estimate(
    n: int,
    input_shape,
    itemsize: int,
    num_samples: int = 1,
    num_models: int = 1,
    chunk_size: int | None = None,
) -> dict:
    """Bytes the sweep needs: the value vectors of every model and one chunk of masked inputs
    (stacked models run one after the other; activations of the model come on top, roughly in
    proportion to the chunk).

    Example:
      >>> memory_estimate(10, (30,), 4, chunk_size=256)
      {'values': 8192, 'chunk_inputs': 30720, 'total': 69632}
    """
    chunk = chunk_size or default_chunk_size(n, input_shape, num_samples)
    values = 2**n * max(num_samples, 1) * max(num_models, 1) * 8
    chunk_inputs = chunk * _input_size(input_shape) * itemsize * max(num_samples, 1)
    return {"values": values, "chunk_inputs": chunk_inputs, "total": values + 2 * chunk_inputs}


def _default_mesh():
    devices = jax.local_devices()  # this process's: several processes each sweep their share
    return None if len(devices) == 1 else Mesh(np.array(devices), (_MESH_AXIS,))


def evaluate(
    model: Model,
    x,
    players: Players,
    *,
    mask_value=None,
    chunk_size: int | None = None,
    batched: bool | None = None,
    mesh: Mesh | str | None = "auto",
    check_finite: bool = True,
    baseline=None,
) -> jax.Array:
    """Values of ``model`` on all ``2**n`` masked versions of ``x``, in bitmask order.

    ``v[T] = value(model(x_T))`` where ``x_T`` keeps the elements of the players in ``T`` and
    puts the mask value elsewhere (docs/method.md §1; He et al. 2025, arXiv:2505.06993).

    Args:
      model: from :func:`from_nnx`, :func:`from_linen`, :func:`from_fn` (or stacked with
        :func:`stack_models`).
      x: one input of the shape the model takes per example, or a batch ``(B, *shape)``.
      players: which elements each player owns (:class:`interjax.Players`).
      mask_value: value of masked elements; ``None`` = zeros; any array broadcastable to one
        input, or ``(B, *shape)`` for one mask value per input (e.g.
        :func:`interjax.mean_mask_value`). For integer inputs (token ids) an integer, e.g. the
        mask token's id; the inputs keep their dtype through the sweep.
      chunk_size: masked inputs evaluated at once per sample and model (bounds memory);
        default keeps about 2**19 input elements per chunk on CPU, 2**25 on accelerators.
      batched: whether ``x`` carries a leading batch axis. Default: true if the target is one
        class per input; for ``features`` players iff ``x.ndim == 2``, for ``tokens`` iff
        ``x.ndim == 3`` (embeddings) or ``x.ndim == 2`` (integer token ids); for
        patches/segments iff the membership does not fit ``x`` itself (neither its leading
        axes nor all its elements). Pass it explicitly when in doubt.
      mesh: ``"auto"`` shards the mask axis over every device of this process
        (``jax.local_devices()``; none with one device),
        or pass a ``Mesh`` with one axis, or ``None`` for one device.
      check_finite: raise, naming some masks, if the model's value is NaN or infinite (and
        whether ``x`` or the mask value held NaN themselves); a host ``x`` (NumPy, lists)
        holding NaN or inf is refused before any work. Inside ``jax.jit``, ``vmap`` or ``grad``
        the values cannot be read, so only the static checks run there; ``evaluate`` then
        composes like any JAX function (tests/test_composability.py).
      baseline: alias of ``mask_value`` (its former name; passing both is a TypeError).
        "Baseline" now names only the baseline models of docs/method.md §4.

    Returns:
      ``(2**n,)``, ``(B, 2**n)``, ``(P, 2**n)`` or ``(P, B, 2**n)`` values, float64 when
      ``jax_enable_x64`` is on (recommended for the transforms), else float32.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> m = ij.from_fn(lambda p, x: x @ p, jnp.ones((3, 2)), output=ij.logit(target=0))
      >>> ij.evaluate(m, jnp.array([1.0, 2.0, 4.0]), ij.Players.features(3)).tolist()
      [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """
    if not isinstance(model, Model):
        raise TypeError(
            f"model must come from ij.from_nnx / from_linen / from_fn, got {type(model).__name__}"
        )
    if not isinstance(players, Players):
        raise TypeError(f"players must be an ij.Players, got {type(players).__name__}")
    if baseline is not None:
        if mask_value is not None:
            raise TypeError(
                "evaluate got both mask_value= and baseline= (its alias); pass only mask_value="
            )
        mask_value = baseline
    x = check_input(x, check_finite)
    output = model.output
    target = getattr(output, "target", None)
    settings = (
        players,
        tuple(x.shape),
        jnp.dtype(x.dtype),
        None if target is None else tuple(jnp.shape(target)),
        model.num_stacked or 1,
        chunk_size,
        batched,
        mesh,
    )
    if mask_value is None and _hashable(settings):  # the default mask value: plan cached
        # the types are part of the key: 1.0 or True must not find the plan of chunk_size=1
        plan = _cached_plan(*settings, type(chunk_size), type(batched))
    else:
        plan = _plan(*settings, mask_value)
    batched, input_shape, num_samples, chunk_size, mesh, b, per_sample = plan
    _check_output(model, x, input_shape, num_samples)
    if mesh is not None:
        # replicated over the mesh: arrays committed to one device (parameters restored by
        # Orbax, or put there by the user) are otherwise refused by the sharded program
        model, x, b = jax.device_put((model, x, b), NamedSharding(mesh, P()))
    v, all_finite = _sweep(
        model,
        x,
        b,
        players=players,
        chunk_size=chunk_size,
        batched=bool(batched),
        baseline_per_sample=per_sample,
        mesh=mesh,
        output_kind=_output_kind(model.output),
    )
    if check_finite and not isinstance(v, jax.core.Tracer) and not bool(all_finite):
        _raise_if_not_finite(v, players.n, diagnose_nonfinite(x, mask_value))
    return v


class _Plan(NamedTuple):
    """What :func:`evaluate` decides from the shapes and settings alone, before any work."""

    batched: bool
    input_shape: tuple[int, ...]
    num_samples: int | None
    chunk_size: int
    mesh: Mesh | None
    mask_value: Any  # the mask value as an array of x's dtype
    per_sample: bool  # one mask value per input


def _plan(
    players, shape, dtype, target_shape, num_models, chunk_size, batched, mesh, mask_value
) -> _Plan:
    """Check :func:`evaluate`'s settings against an input of ``shape`` and ``dtype`` and pick
    what they leave open (batch axis, chunk size, mesh); every refusal is raised here."""
    x = jax.ShapeDtypeStruct(shape, dtype)
    if mask_value is None and jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(
            f"x holds integers ({dtype}: token ids?) and no mask value was given; masked "
            "players would become 0, whatever token that id is. Pass the id that stands for a "
            "masked token, e.g. mask_value=MASK_ID (the tokenizer's mask or pad id)."
        )
    check_batched(batched, x)
    check_mesh(mesh)
    if batched is None:
        batched = _infer_batched(x, players, target_shape)
        check_batched(batched, x)
    input_shape = tuple(shape[1:]) if batched else tuple(shape)
    num_samples = shape[0] if batched else None
    try:
        _check_players_fit(players, input_shape)
    except ValueError as err:
        read = f"a batch of {num_samples} inputs" if batched else "one input"
        raise ValueError(
            f"{err} (x of shape {tuple(shape)} was read as {read}; pass batched= if that is wrong)"
        ) from None
    b, per_sample = check_mask_value(mask_value, input_shape, dtype, num_samples)
    if mesh == "auto":
        mesh = _default_mesh()
    num_devices = 1 if mesh is None else mesh.size
    n = players.n
    if chunk_size is None:
        chunk_size = default_chunk_size(n, input_shape, num_samples or 1, 1, num_devices)
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive int (masked inputs per chunk), got {chunk_size!r}"
        )
    chunk_size = min(int(chunk_size), 2**n)
    _check_memory(
        n, input_shape, dtype.itemsize, num_samples or 1, num_models, chunk_size, num_devices
    )
    return _Plan(bool(batched), input_shape, num_samples, chunk_size, mesh, b, per_sample)


# evaluate's plan for the default mask value, by (players, shape, dtype, target shape, number
# of models, chunk size, batched, mesh): a repeated call of the same shapes skips its checks
# (about 15-40 µs on the 2-core CPU, where a sweep at n = 10 takes about 0.3 ms). The checks
# are of shapes and settings only; the memory check is remembered once passed, as is the
# players' fit (a refusal raises every time)
@cached("evaluate.plans", maxsize=256)
def _cached_plan(*settings_and_types) -> _Plan:
    return _plan(*settings_and_types[:-2], mask_value=None)


def _hashable(settings) -> bool:
    try:
        hash(settings)
    except TypeError:  # e.g. a list as chunk_size: refused by _plan, not cached
        return False
    return True


def _output_kind(output) -> tuple:
    """Class and static parts of a value function (hashable)."""
    return (type(output), getattr(output, "fn", None), getattr(output, "minus_empty", None))


def _infer_batched(x, players: Players, target_shape: tuple[int, ...] | None) -> bool:
    """Whether ``x`` (an array or its shape and dtype) is a batch, from the players and the
    value function's target shape (``None``: no target)."""
    if players.kind == "features":
        batched = x.ndim > 1
    elif players.kind == "tokens":  # ids (L,) / (B, L), or embeddings (L, D) / (B, L, D)
        batched = x.ndim > (1 if jnp.issubdtype(x.dtype, jnp.integer) else 2)
    else:
        m = players.membership
        batched = not (tuple(x.shape[: m.ndim]) == m.shape or m.size == x.size)
    one_per_input = target_shape is not None and len(target_shape) == 1
    if one_per_input and not batched and x.ndim > 0 and target_shape[0] == x.shape[0]:
        try:  # one target per row and the rows fit the players: a batch (e.g. of one image)
            players.element_map(tuple(x.shape[1:]))
            return True
        except ValueError:
            pass
    if one_per_input and not batched:
        raise ValueError(
            f"the target has shape {target_shape} (one class per input) but x of shape "
            f"{x.shape} is one input for these players; pass a batch (B, ...) with B targets, "
            "or a single target class."
        )
    return batched


def _check_memory(n, input_shape, itemsize, num_samples, num_models, chunk, num_devices):
    est = memory_estimate(n, input_shape, itemsize, num_samples, num_models, chunk)
    avail = _available_bytes(jax.local_devices()[0]) * num_devices
    if est["total"] > 0.8 * avail:
        gib = 2**30
        raise MemoryError(
            f"evaluating 2**{n} masked inputs for {num_samples} sample(s) x {num_models} "
            f"model(s) needs about {est['total'] / gib:.2f} GiB (values {est['values'] / gib:.2f}"
            f" GiB, one chunk of {chunk} masked inputs {est['chunk_inputs'] / gib:.2f} GiB) but "
            f"only {avail / gib:.2f} GiB is available. Use fewer players, a smaller chunk_size, "
            "fewer samples per call, or more devices."
        )


def _check_output(model: Model, x, input_shape, num_samples):
    """Shape inference of one forward pass (no computation) validates the model's output."""
    # a Model is frozen, so the output shape of its parameters is found once per instance and
    # input: repeated calls skip even the flattening of the parameters (~12 µs of nnx State on
    # CPU); the value function's own check still runs on every call
    known = model.__dict__.setdefault("_output_shapes", {})
    out_shape = known.get((tuple(input_shape), jnp.dtype(x.dtype)))
    if out_shape is None:
        out_shape = _infer_output_shape(model, x, input_shape)
        known[(tuple(input_shape), jnp.dtype(x.dtype))] = out_shape
    output = model.output
    if hasattr(output, "check"):
        output.check(out_shape, num_samples)


def _infer_output_shape(model: Model, x, input_shape) -> tuple[int, ...]:
    params = model.params
    if model.num_stacked:
        params = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape[1:], p.dtype), params)
    leaves, treedef = jax.tree.flatten(params)
    key = (
        model.apply,
        treedef,
        tuple(map(_shape_and_dtype, leaves)),
        tuple(input_shape),
        jnp.dtype(x.dtype),
        type(model.output),
        getattr(model.output, "fn", None),
    )
    try:
        out_shape = _OUTPUT_SHAPES.get(key)
    except TypeError:  # unhashable apply or output function: no caching
        key, out_shape = None, None
    if out_shape is None:
        out_shape = _output_shape(params, model, input_shape, x.dtype)
        if key is not None and len(_OUTPUT_SHAPES) < 256:
            _OUTPUT_SHAPES[key] = out_shape
    return out_shape


_OUTPUT_SHAPES = cache_dict("evaluate.output_shapes")  # per-input output shape (at most 256)


def _shape_and_dtype(leaf) -> tuple:
    # arrays answer from their attributes (jnp.result_type costs ~4 µs a leaf, and evaluate
    # runs this on every call); Python scalars and lists take the general route
    if isinstance(leaf, jax.Array | np.ndarray):
        return leaf.shape, leaf.dtype
    return tuple(jnp.shape(leaf)), jnp.result_type(leaf)


@cached("evaluate.players_fit", maxsize=256)
def _check_players_fit(players: Players, input_shape: tuple[int, ...]) -> None:
    """Raise if the players do not fit one input of ``input_shape`` (a fit is remembered: a
    repeated call costs a dictionary lookup; a misfit raises every time)."""
    players.element_map(input_shape)


def _output_shape(params, model: Model, input_shape, dtype):
    """Per-input output shape of ``model.apply`` by shape inference (cached by the caller, so
    repeated calls with new checkpoints or samples cost nothing)."""
    apply, custom = model.apply, getattr(model.output, "fn", None)
    probe = jax.ShapeDtypeStruct((2, *input_shape), dtype)  # 2: a batch axis, not a constant
    try:
        out = jax.eval_shape(apply, params, probe)
    except Exception as err:
        raise ValueError(
            f"the model cannot be applied to a batch of inputs of shape (C, *{input_shape}): "
            f"{type(err).__name__}: {err}. The apply function receives a batch of masked inputs."
        ) from err
    if not hasattr(out, "shape") or not out.shape or out.shape[0] != 2:
        raise ValueError(
            "the model must return one output per masked input, shape (C, ...); got "
            f"{getattr(out, 'shape', type(out).__name__)} for C=2 masked inputs. The apply "
            "function receives a batch; do not reduce or index its first axis."
        )
    if jnp.issubdtype(out.dtype, jnp.complexfloating):
        raise TypeError(
            f"the model returns complex outputs ({out.dtype}); values must be real. Return the "
            "real logits, or pass output=<callable> mapping one output to a real scalar."
        )
    if custom is not None:
        res = jax.eval_shape(custom, jax.ShapeDtypeStruct(out.shape[1:], out.dtype))
        if getattr(res, "shape", None) == () and jnp.issubdtype(res.dtype, jnp.complexfloating):
            raise TypeError(
                f"the output function returns a complex value ({res.dtype}); it must return a "
                "real scalar per masked input, e.g. jnp.abs(z) or z.real."
            )
        if getattr(res, "shape", None) != ():
            raise ValueError(
                f"the output function must return a scalar per masked input, got shape "
                f"{getattr(res, 'shape', None)} from an output of shape {out.shape[1:]}"
            )
    return tuple(out.shape[1:])


def _raise_if_not_finite(v, n, note: str = ""):
    finite = np.asarray(jnp.isfinite(v))
    bad = np.argwhere(~finite)
    first = [(tuple(int(i) for i in idx[:-1]), int(idx[-1])) for idx in bad[:4]]
    shown = ", ".join(
        f"T={t} players {coalition_players(t, n)}" + (f" (item {lead})" if lead else "")
        for lead, t in first
    )
    raise FloatingPointError(
        f"the model's value is NaN or infinite on {len(bad)} of {finite.size} masked inputs, "
        f"e.g. {shown}. Check the mask value (masked inputs may be out of the model's domain) or "
        "the value function (probabilities of exactly 0 or 1 give infinite log-odds)." + note
    )
