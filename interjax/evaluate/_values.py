"""Value functions: the scalar v(x_T) read from the model output on one masked input.

Each value function maps the output of the model on ONE masked input (for a classifier, the
logits of shape ``(K,)``) to a scalar. They are pytrees whose ``target`` is data, so one compiled
sweep serves every target class; with a batch of inputs ``target`` may be an int array of shape
``(B,)``. A plain Python callable ``f(output) -> scalar`` is accepted wherever a value function is.

Binary classifiers with a single output logit ``z`` (``K = 1``) are read as ``p(y=1) = sigmoid(z)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "CustomValue",
    "LogOdds",
    "Logit",
    "Probability",
    "ValueFn",
    "as_value_fn",
    "log_odds",
    "logit",
    "probability",
]


@dataclasses.dataclass(frozen=True)
class _Targeted:
    target: Any
    minus_empty: bool = dataclasses.field(default=False, metadata={"static": True})

    def check(self, output_shape: tuple[int, ...], batch: int | None) -> None:
        """Raise before any work if the target does not fit an output of ``output_shape``."""
        if len(output_shape) != 1:
            raise ValueError(
                f"{type(self).__name__} reads class logits of shape (K,) per input, but the model "
                f"returns shape {output_shape} per input. Pass output=<callable> to read another "
                "output."
            )
        k = max(output_shape[0], 2)
        if isinstance(self.target, jax.core.Tracer) or self.__dict__.get("_fits") == (k, batch):
            return
        t = np.asarray(self.target)  # a device target costs a transfer: checked once (below)
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"target must be an integer class index, got dtype {t.dtype}")
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != batch):
            raise ValueError(
                f"target must be a class index or one per input (shape ({batch},)); got shape "
                f"{t.shape}"
            )
        if t.size and (t.min() < 0 or t.max() >= k):
            raise ValueError(f"target class {t.tolist()} out of range: the model has {k} classes")
        immutable = isinstance(self.target, jax.Array | int | np.integer) or (
            isinstance(self.target, np.ndarray) and not self.target.flags.writeable
        )
        if immutable:  # the same target fits the same output again: remember it
            object.__setattr__(self, "_fits", (k, batch))


def _signed_logit(logits, target):
    """A one-logit binary classifier outputs ``z = log p1/p0``: class 1 reads ``z``, class 0
    ``-z`` (its logit, and its log-odds)."""
    return logits[0] * jnp.where(target == 1, 1.0, -1.0).astype(logits.dtype)


def _others(logits, target):
    """``logsumexp`` of the logits of every class but ``target``."""
    k = jnp.arange(logits.shape[-1])
    return jax.nn.logsumexp(jnp.where(k == target, -jnp.inf, logits))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LogOdds(_Targeted):
    """``v = log p_y / (1 - p_y) = logit_y - logsumexp_{k≠y} logit_k`` (stable form).

    The default value of docs/method.md §1 (He et al. 2025, arXiv:2505.06993); build it with
    :func:`log_odds`. Maps logits ``(K,)`` of one input to a scalar; for a one-logit binary model
    (``K = 1``) class 1 reads ``z`` and class 0 ``-z``.

    Attributes:
      target: class index ``y``, an int or an int array ``(B,)`` (one per input of a batch).
      minus_empty: subtract the value on the empty mask, ``v(T) - v(∅)`` (static).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> f = ij.log_odds(target=0)
      >>> type(f).__name__, round(float(f(jnp.array([2.0, 0.0, 0.0]))), 6)  # 2 - log 2
      ('LogOdds', 1.306853)
      >>> float(ij.LogOdds(0)(jnp.array([1.5])))  # one logit z: class 0 reads -z
      -1.5
    """

    def __call__(self, logits):
        if logits.shape[-1] == 1:
            return _signed_logit(logits, self.target)
        return jnp.take(logits, self.target) - _others(logits, self.target)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Logit(_Targeted):
    """``v = logit_y`` (for a one-logit binary model, ``±z``); docs/method.md §1 option.

    Build it with :func:`logit`. Maps logits ``(K,)`` of one input to a scalar. Attributes
    ``target`` and ``minus_empty`` as in :class:`LogOdds`.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> f = ij.logit(target=1)
      >>> type(f).__name__, float(f(jnp.array([2.0, -1.0])))
      ('Logit', -1.0)
    """

    def __call__(self, logits):
        if logits.shape[-1] == 1:
            return _signed_logit(logits, self.target)
        return jnp.take(logits, self.target)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Probability(_Targeted):
    """``v = p_y = softmax(logits)_y`` (``sigmoid(±z)`` for a one-logit binary model).

    A docs/method.md §1 option; build it with :func:`probability`. Maps logits ``(K,)`` of one input
    to a scalar in ``[0, 1]``. Attributes ``target`` and ``minus_empty`` as in :class:`LogOdds`.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> f = ij.probability(target=0)
      >>> type(f).__name__, round(float(f(jnp.array([0.0, 0.0]))), 6)
      ('Probability', 0.5)
    """

    def __call__(self, logits):
        if logits.shape[-1] == 1:
            return jax.nn.sigmoid(_signed_logit(logits, self.target))
        own = jnp.take(logits, self.target)
        return jnp.exp(own - jnp.logaddexp(own, _others(logits, self.target)))


def _as_target(target):
    """Targets stay on the host (checked there without a transfer) unless traced: a read-only
    copy, so the check of a call can be remembered for the next."""
    if isinstance(target, jax.core.Tracer):
        return target
    t = np.array(target)
    t.setflags(write=False)
    if not np.issubdtype(t.dtype, np.integer) or t.ndim > 1:
        raise TypeError(
            f"target must be an integer class index or an int array (B,) of them (one per "
            f"input), got {t.dtype} of shape {t.shape}: {t.ravel()[:5].tolist()}"
        )
    return t


def log_odds(target, *, minus_empty: bool = False) -> LogOdds:
    """Log-odds of class ``target``: ``v(x_T) = log p_y(x_T) / (1 - p_y(x_T))`` (docs/method.md §1).

    This is the default value of the paper (He et al. 2025, arXiv:2505.06993) and of the lab's
    earlier work. With ``minus_empty=True`` the value on the empty mask is subtracted,
    ``v(T) - v(∅)``.

    Example:
      >>> float(log_odds(0)(jnp.array([2.0, 0.0])))  # log(e^2 / e^0)
      2.0
    """
    return LogOdds(_as_target(target), minus_empty)


def logit(target, *, minus_empty: bool = False) -> Logit:
    """The raw logit of class ``target``: ``v(x_T) = logit_y(x_T)`` (docs/method.md §1 option).

    Args:
      target: class index, an int or an int array ``(B,)`` (one per input of a batch).
      minus_empty: subtract the value on the empty mask, ``v(T) - v(∅)``.

    Returns:
      :class:`Logit`, mapping logits ``(K,)`` of one input to a scalar (``±z`` for ``K = 1``).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> float(ij.logit(2)(jnp.array([0.5, 1.0, 3.0])))
      3.0
      >>> float(ij.logit(0)(jnp.array([1.5])))  # one-logit binary model: class 0 reads -z
      -1.5
    """
    return Logit(_as_target(target), minus_empty)


def probability(target, *, minus_empty: bool = False) -> Probability:
    """The softmax probability of class ``target``: ``v(x_T) = p_y(x_T)`` (docs/method.md §1).

    Args:
      target: class index, an int or an int array ``(B,)`` (one per input of a batch).
      minus_empty: subtract the value on the empty mask, ``v(T) - v(∅)``.

    Returns:
      :class:`Probability`, mapping logits ``(K,)`` of one input to a scalar
      (``sigmoid(±z)`` for ``K = 1``).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> round(float(ij.probability(1)(jnp.array([0.0, jnp.log(3.0)]))), 6)  # 3 / (1 + 3)
      0.75
      >>> float(ij.probability(1)(jnp.array([0.0])))  # one logit z: sigmoid(z)
      0.5
    """
    return Probability(_as_target(target), minus_empty)


ValueFn = LogOdds | Logit | Probability | Callable[[Any], Any]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CustomValue:
    """A user function ``fn(output_of_one_input) -> scalar``, held static (hash by identity).

    Example:
      >>> import jax.numpy as jnp
      >>> float(CustomValue(lambda o: o[1] - o[0])(jnp.array([1.0, 3.0])))
      2.0
    """

    fn: Callable = dataclasses.field(metadata={"static": True})

    def __call__(self, output):
        return self.fn(output)


def as_value_fn(output) -> LogOdds | Logit | Probability | CustomValue:
    """Return ``output`` as a value-function pytree; wrap a plain callable in CustomValue.

    Example:
      >>> type(as_value_fn(lambda o: o.sum())).__name__, type(as_value_fn(logit(0))).__name__
      ('CustomValue', 'Logit')
    """
    if isinstance(output, _Targeted | CustomValue):
        return output
    if callable(output):
        return CustomValue(output)
    raise TypeError(
        f"output must be a value function (ij.log_odds, ij.logit, ij.probability) or a callable "
        f"mapping one model output to a scalar; got {type(output).__name__}"
    )
