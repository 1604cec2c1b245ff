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
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from interjax.evaluate._values import ValueFn, as_value_fn

__all__ = ["Model", "from_fn", "from_linen", "from_nnx", "stack_models"]


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
    batch of masked inputs ``(C, *input_shape)`` to outputs ``(C, ...)`` (METHOD.md §1).

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


@dataclasses.dataclass(frozen=True)
class _NnxApply:
    graphdef: Any
    method: str | None

    def __hash__(self):
        # the sweep's compile cache and shape cache hash this on every call: hashing an NNX
        # graphdef walks the whole graph (~0.2 ms), so compute it once
        try:
            return self.__dict__["_hash"]
        except KeyError:
            h = hash((self.graphdef, self.method))
            object.__setattr__(self, "_hash", h)
            return h

    def __call__(self, state, x):
        from flax import nnx

        module = nnx.merge(self.graphdef, state)
        fn = module if self.method is None else getattr(module, self.method)
        return fn(x)


def from_nnx(module, output: ValueFn, *, method: str | None = None) -> Model:
    """Wrap a Flax NNX module. Call ``module.eval()`` first if it has dropout or batch norm.

    Args:
      module: an ``nnx.Module`` called on a batch ``(C, *input_shape)``.
      output: value function, e.g. ``ij.log_odds(target=y)``.
      method: name of the method to call instead of ``__call__`` (e.g. a transformer's
        ``"from_embeddings"`` for token players masked at the embedding level).

    Example:
      >>> import interjax as ij
      >>> from flax import nnx
      >>> net = nnx.Linear(4, 2, rngs=nnx.Rngs(0))
      >>> m = ij.from_nnx(net, output=ij.log_odds(target=1))
      >>> m.num_stacked
      0
    """
    from flax import nnx

    if not isinstance(module, nnx.Module):
        raise TypeError(f"from_nnx expects a flax.nnx.Module, got {type(module).__name__}")
    if method is not None and not callable(getattr(module, method, None)):
        raise AttributeError(f"{type(module).__name__} has no method {method!r}")
    graphdef, state = nnx.split(module)
    return Model(_NnxApply(graphdef, method), state, as_value_fn(output))


@dataclasses.dataclass(frozen=True)
class _LinenApply:
    apply_fn: Callable

    def __call__(self, variables, x):
        return self.apply_fn(variables, x)


def from_linen(apply_fn: Callable, variables, output: ValueFn) -> Model:
    """Wrap a Flax Linen ``apply_fn(variables, x)`` (e.g. ``module.apply``) with its variables.

    Args:
      apply_fn: maps ``variables`` and a batch ``(C, *input_shape)`` to outputs ``(C, ...)``.
      variables: the Linen variable dict (data: a new checkpoint reuses the compiled sweep).
      output: value function, e.g. ``ij.log_odds(target=y)`` (METHOD.md §1).

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
    if not callable(apply_fn):
        raise TypeError("from_linen expects apply_fn, e.g. module.apply")
    return Model(_LinenApply(apply_fn), variables, as_value_fn(output))


def from_fn(fn: Callable, params, output: ValueFn) -> Model:
    """Wrap any pure ``fn(params, x_batch) -> outputs``; pass the same ``fn`` to reuse compiles.

    Args:
      fn: maps ``params`` and a batch ``(C, *input_shape)`` to outputs ``(C, ...)`` (logits
        ``(C, K)`` for the class value functions). Static: its hash keys the compile cache.
      params: any parameter pytree (data).
      output: value function, e.g. ``ij.log_odds(target=y)``, or any ``f(output) -> scalar``
        (METHOD.md §1).

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
    the checkpoints of a target or the K baselines of METHOD.md §4. Every leaf of the stacked
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
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *plist)
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
