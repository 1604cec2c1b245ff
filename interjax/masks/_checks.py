"""Checks of numeric options shared by the subpackages (tolerances, ratios, counts).

Each raises before any work, naming the option, the value it got, the range it expects and, where
it helps, an example: a :class:`TypeError` for something that is no number (or a float where a
count is expected), a :class:`ValueError` for a number out of range (negative, NaN, infinite).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_int", "check_real"]


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
