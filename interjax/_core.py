"""The internal layer every subpackage may import: shared checks and the one butterfly kernel.

Private to interjax (no stability promise); nothing here imports another interjax module, so
``masks``, ``evaluate``, ``transform``, ``solve`` and ``analyze`` can all use it without reaching
into each other's private names.

- :func:`check_real`, :func:`check_int`: numeric options, checked before any work. Each raises
  naming the option, the value it got, the range it expects and, where it helps, an example: a
  :class:`TypeError` for something that is no number (or a float where a count is expected), a
  :class:`ValueError` for a number out of range (negative, NaN, infinite).
- :func:`refuse_nonfinite`: the one message for NaN or infinite entries of an array.
- :func:`num_players_of`: ``n`` from an array length ``2**n``.
- :func:`butterfly`: the ``n`` passes over ``(..., 2**n)`` behind every fast transform.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "butterfly",
    "check_int",
    "check_real",
    "num_players_of",
    "refuse_nonfinite",
]


def _is_real_scalar(value) -> bool:
    """A Python or NumPy real number, or a concrete 0-d real array (not a bool, not a tracer)."""
    if isinstance(value, bool | np.bool_) or isinstance(value, jax.core.Tracer):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return True
    if isinstance(value, np.ndarray | jax.Array) and value.ndim == 0:
        return bool(
            jnp.issubdtype(value.dtype, jnp.integer) or jnp.issubdtype(value.dtype, jnp.floating)
        )
    return False


def _range_text(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "",
) -> float:
    """``value`` as a float if it is a finite real number in the range, else raise.

    Example:
      >>> check_real("tol", 1e-3, low=0.0, low_open=True)
      0.001
      >>> check_real("q_ratio", -1.0, low=0.0, what="an error allowance, e.g. 0.02")
      Traceback (most recent call last):
      ...
      ValueError: q_ratio must be a finite number >= 0 (an error allowance, e.g. 0.02), got -1.0
    """
    if not _is_real_scalar(value):
        raise TypeError(
            f"{name} must be a real number{f' ({what})' if what else ''}, got "
            f"{type(value).__name__} {value!r}"
        )
    x = float(value)
    ok = np.isfinite(x)
    if low is not None:
        ok = ok and (x > low if low_open else x >= low)
    if high is not None:
        ok = ok and (x < high if high_open else x <= high)
    if not ok:
        rng = _range_text(low, high, low_open, high_open)
        raise ValueError(
            f"{name} must be a finite number{' ' + rng if rng else ''}"
            f"{f' ({what})' if what else ''}, got {value!r}"
        )
    return x


def check_int(name: str, value, *, low: int = 1, what: str = "") -> int:
    """``value`` as an int if it is an integer (not a bool) ``>= low``, else raise.

    Example:
      >>> check_int("max_iters", 100)
      100
      >>> check_int("max_iters", 0)
      Traceback (most recent call last):
      ...
      ValueError: max_iters must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{name} must be an int >= {low}{f' ({what})' if what else ''}, got "
            f"{type(value).__name__} {value!r}"
        )
    if value < low:
        raise ValueError(
            f"{name} must be an int >= {low}{f' ({what})' if what else ''}, got {value}"
        )
    return int(value)


def num_players_of(length: int) -> int:
    """Return ``n`` such that ``length == 2**n``, or raise a ValueError that says what to do.

    Example:
      >>> num_players_of(1024)
      10
    """
    length = int(length)
    if length < 1 or length & (length - 1):
        raise ValueError(
            f"an array over coalitions must have length 2**n (one entry per subset of n players, "
            f"in bitmask order); got length {length}. Pass the full value vector from "
            "ij.evaluate, or pad/trim it to a power of two."
        )
    return length.bit_length() - 1


def refuse_nonfinite(arr, name: str, what_to_do: str = "") -> None:
    """Raise a ValueError naming the count and the first (up to 3) NaN or infinite entries of
    ``arr`` (a host check); ``what_to_do`` ends the message.

    Example:
      >>> refuse_nonfinite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "v", "drop that sample.")
      Traceback (most recent call last):
      ...
      ValueError: v has 1 NaN or infinite entries of 4 (first at index (1, 0)); drop that sample.
    """
    bad = ~np.isfinite(np.asarray(arr))
    if not bad.any():
        return
    first = ", ".join(str(tuple(int(j) for j in i)) for i in np.argwhere(bad)[:3])
    raise ValueError(
        f"{name} has {int(bad.sum())} NaN or infinite entries of {bad.size} (first at index "
        f"{first}){'; ' + what_to_do if what_to_do else '.'}"
    )


def butterfly(v: jax.Array, n: int, combine) -> jax.Array:
    """Apply ``(lo, hi) <- combine(lo, hi)`` over every player axis of ``(..., 2**n)``.

    Pass ``i`` views ``v`` as ``(..., 2**(n-1-i), 2, 2**i)``, so ``[..., 0, :]`` holds the
    coalitions without player ``i`` and ``[..., 1, :]`` the same coalitions with it. Rebuilding
    the pair with ``stack`` lets XLA fuse each pass into one loop (3-5x faster on CPU than an
    indexed update, and bit-identical). O(n 2^n) work. Subset sums are
    ``combine = lambda lo, hi: (lo, hi + lo)``, the Möbius transform ``(lo, hi - lo)``, superset
    sums ``(lo + hi, hi)``.

    Example:
      Subset sums of ones over n = 2 players count each coalition's subsets:

      >>> import jax.numpy as jnp
      >>> butterfly(jnp.ones(4), 2, lambda lo, hi: (lo, hi + lo)).tolist()
      [1.0, 2.0, 2.0, 4.0]
    """
    lead = v.shape[:-1]
    for i in range(n):
        w = v.reshape(*lead, 2 ** (n - 1 - i), 2, 2**i)
        lo, hi = combine(w[..., 0, :], w[..., 1, :])
        v = jnp.stack([lo, hi], axis=-2).reshape(*lead, 2**n)
    return v
