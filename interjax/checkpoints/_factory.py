"""What a user's model factory builds, without allocating parameters: NNX or Linen.

``factory()`` (or ``factory(seed=...)``) returns either an ``nnx.Module`` or an unbound
``flax.linen.Module``. :func:`describe_factory` traces it: an NNX module through
``nnx.eval_shape`` (its graph definition and an abstract ``State``), a Linen module through
``jax.eval_shape(module.init, key, example_input)`` in inference mode (its abstract variable
collections: ``params``, ``batch_stats``, ...). Nothing is computed and no parameter is
allocated.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = ["FactoryModel", "call_factory", "describe_factory"]


def call_factory(factory: Callable, seed: int | None = None):
    """``factory(seed=seed)`` when it takes a ``seed`` argument (and one is given), else
    ``factory()``.

    Example:
      >>> from interjax.checkpoints import call_factory
      >>> call_factory(lambda seed=0: seed, 7), call_factory(lambda: "no seed", 7)
      (7, 'no seed')
    """
    try:
        takes_seed = "seed" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_seed = False
    return factory(seed=seed) if takes_seed and seed is not None else factory()


@dataclasses.dataclass(frozen=True)
class FactoryModel:
    """An abstract model from a factory.

    Attributes:
      kind: ``"nnx"`` or ``"linen"``.
      abstract: the variables as ``jax.ShapeDtypeStruct`` leaves: an NNX ``State`` (every
        variable, RNG state included) or a Linen variable dict (``{"params": ..., ...}``).
      graphdef: the NNX graph definition (``None`` for Linen).
      module: the unbound Linen module (``None`` for NNX).

    Example:
      >>> import jax, numpy as np
      >>> from flax import nnx
      >>> import interjax as ij
      >>> from interjax.checkpoints import describe_factory
      >>> described = describe_factory(lambda: nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
      >>> variables = jax.tree.map(lambda s: np.ones(s.shape, s.dtype), described.abstract)
      >>> model = described.model(variables, ij.logit(target=0))
      >>> model.apply(model.params, np.ones((1, 2), np.float32)).tolist()
      [[3.0, 3.0]]
    """

    kind: str
    abstract: Any
    graphdef: Any = None
    module: Any = None

    def model(self, variables, output):
        """An :class:`interjax.Model` of these variables, evaluated in inference mode
        (:func:`interjax.from_nnx`, :func:`interjax.from_linen`)."""
        from interjax.evaluate import from_linen, from_nnx

        if self.kind == "nnx":
            from flax import nnx

            return from_nnx(nnx.merge(self.graphdef, variables), output)
        return from_linen(self.module, variables, output)


def describe_factory(factory: Callable, example_input=None, *, name: str = "the model factory"):
    """Trace ``factory`` and return a :class:`FactoryModel` (no parameters allocated).

    Args:
      factory: ``() -> nnx.Module | linen.Module`` (a ``seed`` argument is allowed).
      example_input: one batch of inputs ``(1, *input_shape)`` (an array or a
        ``jax.ShapeDtypeStruct`` with the data's dtype); needed for a Linen module, whose
        variables' shapes come from ``module.init`` on it.
      name: how messages name the factory (e.g. ``"--model train:make_model"``).

    Example:
      >>> import jax, numpy as np, flax.linen as linen
      >>> from flax import nnx
      >>> from interjax.checkpoints import describe_factory
      >>> describe_factory(lambda: nnx.Linear(3, 2, rngs=nnx.Rngs(0))).kind
      'nnx'
      >>> lin = describe_factory(lambda: linen.Dense(2), np.zeros((1, 3), np.float32))
      >>> lin.kind, lin.abstract["params"]["kernel"].shape
      ('linen', (3, 2))
    """
    import flax.linen as linen
    from flax import nnx

    from interjax.evaluate import linen_inference

    try:
        abstract_module = nnx.eval_shape(lambda: call_factory(factory))
    except TypeError as err:  # returned a non-JAX value: a Linen module, or something else
        try:
            abstract_module = call_factory(factory)  # a Linen module costs nothing to build
        except Exception:
            raise err from None
    if isinstance(abstract_module, nnx.Module):
        graphdef, state = nnx.split(abstract_module)
        return FactoryModel("nnx", state, graphdef=graphdef)
    if not isinstance(abstract_module, linen.Module):
        raise TypeError(
            f"{name} must return a flax.nnx.Module or a flax.linen.Module, got "
            f"{type(abstract_module).__name__}; return the model itself (not its apply "
            "function, variables or a TrainState)."
        )
    module = abstract_module
    if example_input is None:
        raise ValueError(
            f"{name} returns a Linen module ({type(module).__name__}); its variables' shapes "
            "come from module.init on an example input: pass example_input (one batch of "
            "inputs, shape (1, *input_shape))."
        )
    probe = (
        jax.ShapeDtypeStruct(np.shape(example_input), np.asarray(example_input).dtype)
        if (not isinstance(example_input, jax.ShapeDtypeStruct))
        else example_input
    )
    eval_module, kwargs = linen_inference(module)
    key = jax.random.key(0)
    try:
        variables = jax.eval_shape(
            lambda x: eval_module.init({"params": key, "dropout": key}, x, **kwargs), probe
        )
    except Exception as err:
        raise ValueError(
            f"{name} builds a Linen {type(module).__name__} whose init cannot take inputs of "
            f"shape {tuple(probe.shape[1:])} ({probe.dtype}) per sample: {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    variables = dict(variables)  # FrozenDict (older Linen) -> dict
    return FactoryModel("linen", variables, module=module)
