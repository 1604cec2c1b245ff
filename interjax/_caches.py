"""Every cache interjax keeps, in one place, with its key, and :func:`clear_caches`.

interjax caches things that depend only on static settings, so that repeated calls reuse a
compiled program instead of building a new one:

- ``evaluate.output_shapes``, key (architecture, input shape and dtype, value function): a
  model's output shape by shape inference (at most 256 entries);
- ``evaluate.players_fit``, key (players, input shape): that the players fit such an input
  (at most 256 entries, least recently used dropped first);
- ``evaluate.plans``, key (players, input shape and dtype, target shape, number of models,
  chunk size, batched, mesh, with the types of the last two): what :func:`interjax.evaluate`
  decided from them for the default mask value, its checks passed (at most 256 entries);
- ``solve.operators``, key ``n``: the fast AND/OR operators of the solver;
- ``solve.step_size``, key (``n``, problem kind, shapes): the PDHG step (power iteration);
- ``solve.default_sgd``, key (learning rate, steps): the lab's SGD optax transformation;
- ``data.adamw``, key (learning rate, weight decay): one optax AdamW per setting;
- ``data.linen_steps``, key (Linen module, call arguments, mutable collections, optimizer): the
  jitted training step of :func:`interjax.data.train_linen_classifier`;
- ``cli.summed_loss``, key the Linen ``apply`` function: the jitted summed cross-entropy.

All are bounded by the number of distinct settings a process uses. JAX's own compilation
caches are not touched (``jax.clear_caches()`` clears those).

Example:
  >>> from interjax import clear_caches
  >>> clear_caches()
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["cache_dict", "cached", "clear_caches"]

_CACHES: dict[str, Callable[[], None]] = {}  # name -> the function that empties it


def cached(name: str, maxsize: int | None = None):
    """``functools.lru_cache(maxsize)`` (unbounded by default) that registers the cache under
    ``name`` for :func:`clear_caches`.

    Example:
      >>> @cached("example.square")
      ... def square(x):
      ...     return x * x
      >>> square(3), square.cache_info().currsize
      (9, 1)
      >>> clear_caches(); square.cache_info().currsize
      0
    """

    def wrap(fn):
        fn = functools.lru_cache(maxsize=maxsize)(fn)
        _CACHES[name] = fn.cache_clear
        return fn

    return wrap


def cache_dict(name: str) -> dict:
    """A dict registered under ``name`` for :func:`clear_caches` (for values computed from
    arguments that are not themselves the key).

    Example:
      >>> steps = cache_dict("example.steps")
      >>> steps[("n", 3)] = 0.5
      >>> clear_caches(); len(steps)
      0
    """
    store: dict = {}
    _CACHES[name] = store.clear
    return store


def clear_caches() -> None:
    """Empty every interjax cache (listed in this module's docstring); the next call rebuilds
    what it needs.

    Example:
      >>> import interjax as ij
      >>> ij.solve.fit_and_or is ij.fit_and_or  # any work fills the caches ...
      True
      >>> ij.clear_caches()  # ... and this empties them
    """
    for clear in _CACHES.values():
        clear()
