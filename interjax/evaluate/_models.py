"""Model adapters: a :class:`Model` is a static apply function plus parameters as data.

Following Flax's own pattern, an NNX module is split once into ``graphdef, state``: the graphdef
is static (hashable), the state is data, so a new checkpoint of the same architecture reuses the
compiled sweep. A Linen ``apply`` function is static and its variables are data; a plain
``fn(params, x)`` likewise.

The apply function is called on a batch of masked inputs, shape ``(C, *input_shape)``, and must
return per-input outputs ``(C, ...)`` (for classifiers, logits ``(C, K)``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from interjax._core import stack_leaves
from interjax.evaluate._values import ValueFn, as_value_fn

__all__ = [
    "INFERENCE_SWITCHES",
    "Model",
    "from_fn",
    "from_linen",
    "from_nnx",
    "inference_kwargs",
    "linen_inference",
    "stack_models",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Model:
    """A model ready for :func:`interjax.evaluate`.

    Attributes:
      apply: static ``apply(params, x_batch) -> outputs``; its hash and equality decide reuse of
        the compiled sweep.
      params: parameter pytree (data). With ``num_stacked = P > 0`` every leaf carries a leading
        axis of size P (several checkpoints or models evaluated in one compiled program).
      output: value function (see :mod:`interjax.evaluate._values`).
      num_stacked: 0 for one parameter set, else the size of the stacked leading axis.

    Build one with :func:`from_nnx`, :func:`from_linen` or :func:`from_fn`; ``apply`` maps a
    batch of masked inputs ``(C, *input_shape)`` to outputs ``(C, ...)`` (docs/method.md §1).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> m = ij.from_fn(lambda p, x: x @ p, jnp.ones((2, 2)), output=ij.logit(target=0))
      >>> type(m).__name__, m.num_stacked, m.params.shape
      ('Model', 0, (2, 2))
      >>> m2 = m.with_params(2 * jnp.ones((2, 2)))  # same apply: reuses the compiled sweep
      >>> ij.evaluate(m2, jnp.array([1.0, 3.0]), ij.Players.features(2)).tolist()
      [0.0, 2.0, 6.0, 8.0]
    """

    apply: Callable = dataclasses.field(metadata={"static": True})
    params: Any
    output: Any
    num_stacked: int = dataclasses.field(default=0, metadata={"static": True})

    def with_params(self, params) -> Model:
        """The same model (same compiled program) with other parameters, e.g. a checkpoint."""
        return dataclasses.replace(self, params=params)

    def with_output(self, output: ValueFn) -> Model:
        """The same model reading another value, e.g. ``log_odds(target=3)``."""
        return dataclasses.replace(self, output=as_value_fn(output))


# Arguments and attributes that switch a layer between training and inference, and their value
# in inference mode: Flax's Dropout (``deterministic``) and BatchNorm (``use_running_average``),
# and the names researchers give the switch of a whole model.
INFERENCE_SWITCHES = {
    "train": False,
    "training": False,
    "is_training": False,
    "deterministic": True,
    "use_running_average": True,
    "inference": True,
}


def inference_kwargs(fn: Callable, *, train: bool = False) -> dict[str, bool]:
    """Keyword arguments that put ``fn`` in inference (or, ``train=True``, training) mode.

    The rule: every parameter of ``fn`` named in :data:`INFERENCE_SWITCHES` (``train``,
    ``training``, ``is_training``, ``deterministic``, ``use_running_average``, ``inference``)
    gets its inference value (``train=False``, ``deterministic=True``, ...), or the opposite when
    ``train=True``. Other parameters are left alone.

    Example:
      >>> from interjax.evaluate import inference_kwargs
      >>> def call(x, train: bool = True, deterministic=None): ...
      >>> inference_kwargs(call), inference_kwargs(call, train=True)
      ({'train': False, 'deterministic': True}, {'train': True, 'deterministic': False})
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins, C functions: no switch to set
        return {}
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {
        name: value != train
        for name, value in INFERENCE_SWITCHES.items()
        if name in params and params[name].kind in kinds
    }


@dataclasses.dataclass(frozen=True)
class _NnxApply:
    graphdef: Any
    method: str | None
    kwargs: tuple = ()  # inference switches of the called method, as (name, value) pairs

    def __hash__(self):
        # the sweep's compile cache and shape cache hash this on every call: hashing an NNX
        # graphdef walks the whole graph (~0.2 ms), so compute it once
        try:
            return self.__dict__["_hash"]
        except KeyError:
            h = hash((self.graphdef, self.method, self.kwargs))
            object.__setattr__(self, "_hash", h)
            return h

    def __call__(self, state, x):
        from flax import nnx

        module = nnx.merge(self.graphdef, state)
        fn = module if self.method is None else getattr(module, self.method)
        return fn(x, **dict(self.kwargs))


def from_nnx(module, output: ValueFn, *, method: str | None = None) -> Model:
    """Wrap a Flax NNX module, always evaluated in inference mode.

    Every masked input must be evaluated on its own, so the model is read in inference mode: a
    copy of ``module`` is switched with ``.eval()`` (Dropout off, BatchNorm on its running
    statistics), and a ``train``/``deterministic``-style argument of the called method is set by
    :func:`inference_kwargs`. ``module`` itself is not changed, so a module in training mode (as
    ``nnx.merge`` or a training loop leaves it) can be passed as it is.

    Args:
      module: an ``nnx.Module`` called on a batch ``(C, *input_shape)``.
      output: value function, e.g. ``ij.log_odds(target=y)``.
      method: name of the method to call instead of ``__call__`` (e.g. a transformer's
        ``"from_embeddings"`` for token players masked at the embedding level).

    Example:
      >>> import interjax as ij
      >>> from flax import nnx
      >>> rngs = nnx.Rngs(0)
      >>> net = nnx.Sequential(nnx.Linear(4, 2, rngs=rngs), nnx.Dropout(0.5, rngs=rngs))
      >>> m = ij.from_nnx(net, output=ij.log_odds(target=1))  # dropout off in m, net unchanged
      >>> m.num_stacked, net.layers[1].deterministic
      (0, False)
    """
    from flax import nnx

    if not isinstance(module, nnx.Module):
        raise TypeError(f"from_nnx expects a flax.nnx.Module, got {type(module).__name__}")
    if method is not None and not callable(getattr(module, method, None)):
        raise AttributeError(f"{type(module).__name__} has no method {method!r}")
    copy = nnx.merge(*nnx.split(module))  # new module objects, the same arrays
    copy.eval()
    fn = copy if method is None else getattr(copy, method)
    kwargs = tuple(sorted(inference_kwargs(fn).items()))
    graphdef, state = nnx.split(copy)
    return Model(_NnxApply(graphdef, method, kwargs), state, as_value_fn(output))


@dataclasses.dataclass(frozen=True)
class _LinenApply:
    apply_fn: Callable
    kwargs: tuple = ()  # inference switches, as (name, value) pairs

    def __hash__(self):
        try:
            return hash((self.apply_fn, self.kwargs))
        except TypeError:  # a module with unhashable attributes (e.g. Sequential's list)
            return hash((id(getattr(self.apply_fn, "__self__", self.apply_fn)), self.kwargs))

    def __call__(self, variables, x):
        return self.apply_fn(variables, x, **dict(self.kwargs))


def linen_inference(module, *, train: bool = False):
    """``(module', kwargs)``: a Linen module and call arguments for inference (or training).

    Linen has no global mode: a model takes a switch as a call argument (``__call__(self, x,
    train: bool)``, the Flax guides' pattern) or as an attribute (``CNN(train=False)``). Call
    arguments named in :data:`INFERENCE_SWITCHES` get their inference value, and so do module
    attributes of those names (the module is cloned with them), so ``module'.apply(variables,
    x, **kwargs)`` never updates batch statistics or drops units.

    Example:
      >>> import flax.linen as nn
      >>> from interjax.evaluate import linen_inference
      >>> class Net(nn.Module):
      ...     dropout: float = 0.1
      ...     deterministic: bool = False
      ...     @nn.compact
      ...     def __call__(self, x, train: bool = True):
      ...         return nn.Dense(2)(x)
      >>> module, kwargs = linen_inference(Net())
      >>> module.deterministic, kwargs
      (True, {'train': False})
    """
    fields = {f.name for f in dataclasses.fields(module)}
    attrs = {name: value != train for name, value in INFERENCE_SWITCHES.items() if name in fields}
    if attrs:
        module = module.clone(**attrs)
    return module, inference_kwargs(module.__call__, train=train)


def from_linen(apply_fn: Callable, variables, output: ValueFn) -> Model:
    """Wrap a Flax Linen model with its variables, evaluated in inference mode.

    ``apply_fn`` is a Linen module, its bound ``module.apply`` (e.g. a ``TrainState``'s
    ``apply_fn``), or any ``apply_fn(variables, x)``. For a module or its ``apply``, the
    inference switches (``train=False``, ``deterministic=True``, ...; :func:`linen_inference`)
    are set, as call arguments or module attributes, so BatchNorm reads its running statistics
    and Dropout is off; any other callable is called as it is.

    Args:
      apply_fn: a Linen module, ``module.apply``, or ``apply_fn(variables, x_batch)`` mapping a
        batch ``(C, *input_shape)`` to outputs ``(C, ...)``.
      variables: the Linen variable dict (``{"params": ..., "batch_stats": ...}``; data: a new
        checkpoint reuses the compiled sweep).
      output: value function, e.g. ``ij.log_odds(target=y)`` (docs/method.md §1).

    Returns:
      :class:`Model`.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> import flax.linen as nn
      >>> net = nn.Dense(2, use_bias=False)
      >>> variables = {"params": {"kernel": jnp.array([[0.0, 1.0], [0.0, 2.0]])}}
      >>> m = ij.from_linen(net.apply, variables, output=ij.log_odds(target=1))
      >>> ij.evaluate(m, jnp.array([1.0, 1.0]), ij.Players.features(2)).tolist()
      [0.0, 1.0, 2.0, 3.0]
    """
    import flax.linen as nn

    if not callable(apply_fn):
        raise TypeError("from_linen expects a Linen module, module.apply or apply_fn")
    module = apply_fn if isinstance(apply_fn, nn.Module) else getattr(apply_fn, "__self__", None)
    if isinstance(module, nn.Module) and (
        apply_fn is module or getattr(apply_fn, "__func__", None) is type(module).apply
    ):
        module, kwargs = linen_inference(module)
        return Model(
            _LinenApply(module.apply, tuple(sorted(kwargs.items()))),
            variables,
            as_value_fn(output),
        )
    return Model(_LinenApply(apply_fn), variables, as_value_fn(output))


def from_fn(fn: Callable, params, output: ValueFn) -> Model:
    """Wrap any pure ``fn(params, x_batch) -> outputs``; pass the same ``fn`` to reuse compiles.

    Args:
      fn: maps ``params`` and a batch ``(C, *input_shape)`` to outputs ``(C, ...)`` (logits
        ``(C, K)`` for the class value functions). Static: its hash keys the compile cache.
      params: any parameter pytree (data).
      output: value function, e.g. ``ij.log_odds(target=y)``, or any ``f(output) -> scalar``
        (docs/method.md §1).

    Returns:
      :class:`Model`.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> m = ij.from_fn(lambda p, x: x @ p, jnp.eye(2), output=ij.logit(target=1))
      >>> ij.evaluate(m, jnp.array([3.0, 5.0]), ij.Players.features(2)).tolist()
      [0.0, 0.0, 5.0, 5.0]
    """
    if not callable(fn):
        raise TypeError("from_fn expects a callable fn(params, x)")
    return Model(fn, params, as_value_fn(output))


def stack_models(models: Sequence[Model] | Model, params_list: Sequence[Any] | None = None):
    """Stack several parameter sets of one architecture on a leading axis.

    ``stack_models([m1, m2, m3])`` or ``stack_models(m, [p1, p2, p3])``; evaluating the result
    gives values of shape ``(P, 2**n)`` (or ``(P, B, 2**n)``) from one compiled program, e.g.
    the checkpoints of a target or the K baselines of docs/method.md §4. Every leaf of the stacked
    params gets a leading axis of size ``P``; all sets must share one tree structure.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> m = ij.from_fn(lambda p, x: x @ p, jnp.eye(2), output=ij.logit(target=1))
      >>> s = ij.stack_models(m, [jnp.eye(2), 2 * jnp.eye(2)])
      >>> s.num_stacked, s.params.shape
      (2, (2, 2, 2))
      >>> ij.evaluate(s, jnp.array([3.0, 5.0]), ij.Players.features(2)).tolist()
      [[0.0, 0.0, 5.0, 5.0], [0.0, 0.0, 10.0, 10.0]]
    """
    if isinstance(models, Model):
        if not params_list:
            raise ValueError("stack_models(model, params_list) needs a non-empty params_list")
        base, plist = models, list(params_list)
    else:
        models = list(models)
        if not models:
            raise ValueError("stack_models needs at least one model")
        base, plist = models[0], [m.params for m in models]
        for m in models[1:]:
            if m.apply != base.apply:
                raise ValueError("all stacked models must share one architecture (equal apply)")
    if base.num_stacked:
        raise ValueError("the model is already stacked")
    structs = [jax.tree.structure(p) for p in plist]
    for i, s in enumerate(structs[1:], 1):
        if s != structs[0]:
            raise ValueError(f"parameter set {i} has another tree structure than set 0")
    _check_leaf_shapes(plist)
    params = stack_leaves(plist)
    return dataclasses.replace(base, params=params, num_stacked=len(plist))


def _check_leaf_shapes(plist) -> None:
    """Every parameter set must have set 0's leaf shapes and dtype kinds; name the leaves that
    differ (a checkpoint of another architecture, say) before anything is stacked."""
    first = jax.tree_util.tree_leaves_with_path(plist[0])
    for i, params in enumerate(plist[1:], 1):
        bad = [
            f"{jax.tree_util.keystr(path) or 'params'}: {tuple(jnp.shape(a))} in set 0, "
            f"{tuple(jnp.shape(b))} in set {i}"
            for (path, a), b in zip(first, jax.tree.leaves(params), strict=True)
            if jnp.shape(a) != jnp.shape(b)
        ]
        if bad:
            raise ValueError(
                f"parameter set {i} does not match set 0 ({len(bad)} leaves differ: "
                f"{'; '.join(bad[:5])}); stacked models must share one architecture."
            )
