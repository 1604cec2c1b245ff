"""The internal layer every subpackage may import: shared checks and the one butterfly kernel.

Private to interjax (no stability promise); nothing here imports another interjax module, so
``masks``, ``evaluate``, ``transform``, ``solve`` and ``analyze`` can all use it without reaching
into each other's private names.

- :func:`check_real`, :func:`check_int`: numeric options, checked before any work. Each raises
  naming the option, the value it got, the range it expects and, where it helps, an example: a
  :class:`TypeError` for something that is no number (or a float where a count is expected), a
  :class:`ValueError` for a number out of range (negative, NaN, infinite).
- :func:`refuse_nonfinite`: the one message for NaN or infinite entries of an array
  (:func:`nonfinite_message` gives it without raising).
- :func:`num_players_of`: ``n`` from an array length ``2**n``.
- :func:`butterfly`: the ``n`` passes over ``(..., 2**n)`` behind every fast transform, and the
  unchecked kernels built on it (:func:`mobius`, :func:`subset_sums_raw`, :func:`or_transform`...).
- :func:`check_values`, :func:`check_same_coalitions`: arrays over coalitions, before any work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "butterfly",
    "check_int",
    "check_real",
    "check_same_coalitions",
    "check_values",
    "mobius",
    "nonfinite_message",
    "num_players_of",
    "or_inverse_transform",
    "or_transform",
    "refuse_nonfinite",
    "refuse_nonfinite_values",
    "stack_leaves",
    "subset_sums_raw",
    "superset_sums_raw",
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


def nonfinite_message(arr, name: str, what_to_do: str = "", *, coalitions: bool = False):
    """The message of :func:`refuse_nonfinite` for ``arr``, or ``None`` if it is all finite.

    Example:
      >>> nonfinite_message(np.array([1.0, np.inf]), "x", "replace them.")
      'x has 1 NaN or infinite entries of 2 (first at (1,)); replace them.'
      >>> nonfinite_message(np.ones(2), "x") is None
      True
    """
    bad = ~np.isfinite(np.asarray(arr))
    if not bad.any():
        return None

    def where(i):
        if not coalitions:
            return str(tuple(int(j) for j in i))
        item = f" (item {tuple(int(j) for j in i[:-1])})" if len(i) > 1 else ""
        return f"T={int(i[-1])}{item}"

    first = ", ".join(where(i) for i in np.argwhere(bad)[:3])
    return (
        f"{name} has {int(bad.sum())} NaN or infinite entries of {bad.size} (first at {first})"
        f"{'; ' + what_to_do if what_to_do else '.'}"
    )


def refuse_nonfinite(arr, name: str, what_to_do: str = "", *, coalitions: bool = False) -> None:
    """Raise a ValueError naming the count and the first (up to 3) NaN or infinite entries of
    ``arr`` (a host check); ``what_to_do`` ends the message. With ``coalitions``, the last axis
    is read as coalitions ``T`` in bitmask order and the leading ones as the batch item.

    Example:
      >>> refuse_nonfinite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "v", "drop that sample.")
      Traceback (most recent call last):
      ...
      ValueError: v has 1 NaN or infinite entries of 4 (first at (1, 0)); drop that sample.
      >>> refuse_nonfinite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "v", coalitions=True)
      Traceback (most recent call last):
      ...
      ValueError: v has 1 NaN or infinite entries of 4 (first at T=0 (item (1,))).
    """
    message = nonfinite_message(arr, name, what_to_do, coalitions=coalitions)
    if message is not None:
        raise ValueError(message)


@jax.jit
def stack_leaves(trees):
    """Pytrees of one structure stacked leaf by leaf on a new leading axis, as one compiled
    program (eagerly, each leaf shape compiled its own stack: 15 programs for an MLP with
    three baselines, 0.34 s of the analysis benchmark's first call on the 2-core CPU)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


# players a butterfly pass takes at once (see :func:`butterfly`); 1 is the textbook pass, which
# benchmarks/bench_butterfly.py sets to time the two side by side
PLAYERS_PER_PASS = 2


def butterfly(v: jax.Array, n: int, combine, players_per_pass: int | None = None) -> jax.Array:
    """Apply ``(lo, hi) <- combine(lo, hi)`` over every player axis of ``(..., 2**n)``.

    Player ``i`` pairs the coalitions without it with the same coalitions with it: viewing
    ``v`` as ``(..., 2**(n-1-i), 2, 2**i)``, ``[..., 0, :]`` and ``[..., 1, :]``. A pass takes
    ``k = players_per_pass`` players at once (default ``PLAYERS_PER_PASS``, read when traced):
    it views ``v`` as ``(..., 2**(n-k-i), 2**k, 2**i)``, combines the ``2**k`` slices over
    players ``i, …, i+k-1`` in that order, and rebuilds the block with nested ``stack``, which
    XLA fuses into one loop (3-5x faster on CPU than an indexed update). These are the
    operations of one player a pass, in the same order, so a lone transform gives the same
    numbers bit for bit (inside a larger program XLA may fuse them differently: the solver's
    objectives moved by up to 3e-13 relative), with the vector read and written once per ``k``
    players instead of once per player. O(n 2^n) work. Subset sums are ``combine = lambda lo,
    hi: (lo, hi + lo)``, the Möbius transform ``(lo, hi - lo)``, superset sums ``(lo + hi,
    hi)``.

    On the 2-core CPU (``benchmarks/bench_butterfly.py``) ``k = 2`` took 1.2-1.6x less time
    than ``k = 1`` for a Möbius transform or a Gram rotation of ``(2, 2**n)`` at n = 12-16, and
    made the certified solver's fits 5% (n = 10) and 20% (n = 12) cheaper in CPU time, n = 14
    within the noise; ``k = 3`` was faster still for a lone Möbius transform from n = 14 but
    slower for the rotations, and its solve program compiled about 1 s longer in scratch runs.

    Example:
      Subset sums of ones over n = 2 players count each coalition's subsets:

      >>> import jax.numpy as jnp
      >>> butterfly(jnp.ones(4), 2, lambda lo, hi: (lo, hi + lo)).tolist()
      [1.0, 2.0, 2.0, 4.0]
    """
    per_pass = PLAYERS_PER_PASS if players_per_pass is None else players_per_pass
    lead = v.shape[:-1]
    i = 0
    while i < n:
        k = min(per_pass, n - i)
        block = v.reshape(*lead, 2 ** (n - k - i), 2**k, 2**i)
        parts = [block[..., b, :] for b in range(2**k)]  # bit j of b: player i + j is in
        for j in range(k):
            for b in range(2**k):
                if not b >> j & 1:
                    parts[b], parts[b | 1 << j] = combine(parts[b], parts[b | 1 << j])
        for j in range(k):  # stack the pairs that differ in player i + j on the axis of j
            parts = [jnp.stack(parts[m : m + 2], axis=-2 - j) for m in range(0, len(parts), 2)]
        v = parts[0].reshape(*lead, 2**n)
        i += k
    return v


def mobius(v: jax.Array, n: int) -> jax.Array:
    """AND interactions (Möbius transform) ``I(S) = Σ_{T⊆S} (-1)^{|S|-|T|} v(T)``, unchecked."""
    return butterfly(v, n, lambda lo, hi: (lo, hi - lo))


def subset_sums_raw(w: jax.Array, n: int) -> jax.Array:
    """``out(S) = Σ_{T⊆S} w(T)`` (the inverse of :func:`mobius`), unchecked."""
    return butterfly(w, n, lambda lo, hi: (lo, hi + lo))


def superset_sums_raw(w: jax.Array, n: int) -> jax.Array:
    """``out(S) = Σ_{T⊇S} w(T)``, unchecked."""
    return butterfly(w, n, lambda lo, hi: (lo + hi, hi))


def or_transform(v: jax.Array, n: int) -> jax.Array:
    """OR interactions in the dtype of ``v``, unchecked: ``I(∅) = v(∅)`` and
    ``I(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} v(N∖T)`` for ``S ≠ ∅``."""
    m = mobius(jnp.flip(v, axis=-1), n)  # Möbius of u(T) = v(N∖T)
    return (0.0 - m).at[..., 0].set(v[..., 0])  # 0 - m, not -m: no negative zeros


def or_inverse_transform(I: jax.Array, n: int) -> jax.Array:
    """Inverse of :func:`or_transform` in the dtype of ``I``, unchecked."""
    m = (-I).at[..., 0].set(I.sum(axis=-1))  # Möbius of u at ∅ is u(∅) = v(N)
    return jnp.flip(subset_sums_raw(m, n), axis=-1)


def check_values(v, name: str = "v"):
    """Refuse, before any work, what no transform can take; return ``v`` as an array.

    ``v`` must be a real array (bool, int or float; tracers pass untouched) of shape
    ``(..., 2**n)``; host arrays (NumPy, lists) must also be finite. Device arrays are returned
    as they are: the transforms check their values in their own program.
    """
    if isinstance(v, jax.core.Tracer | jax.Array):
        arr = v
    else:
        try:
            arr = np.asarray(v)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be an array of real numbers of shape (..., 2**n), got "
                f"{type(v).__name__} ({err})"
            ) from None
    dtype = np.dtype(arr.dtype)
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(
            f"{name} is complex ({dtype}); interactions are defined for real values. Pass the "
            f"real part ({name}.real) or a real value function."
        )
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_ or dtype == jnp.bfloat16):
        raise TypeError(
            f"{name} must hold real numbers (bool, int or float), got dtype {dtype}; pass the "
            "values from ij.evaluate or a numeric array of shape (..., 2**n)."
        )
    if arr.ndim == 0:
        raise ValueError(
            f"expected an array over coalitions of shape (..., 2**n) for {name}, got a scalar"
        )
    num_players_of(arr.shape[-1])
    if isinstance(arr, np.ndarray) and np.issubdtype(dtype, np.floating):
        refuse_nonfinite_values(arr, name)
    return arr


def refuse_nonfinite_values(arr, name: str) -> None:
    """:func:`refuse_nonfinite` for values and interactions, with what to do about them."""
    refuse_nonfinite(
        arr,
        name,
        "interactions of non-finite values are meaningless. Find where they come from "
        "(ij.evaluate raises on them unless check_finite=False) or drop those samples.",
        coalitions=True,
    )


def check_same_coalitions(arrays, names) -> None:
    """Arrays over coalitions given together must share ``2**n`` and broadcast their leading
    axes (static shapes only)."""
    arrays = [a for a in arrays if a is not None]
    shapes = [tuple(np.shape(a)) for a in arrays]
    if len({s[-1] for s in shapes}) > 1:
        listed = ", ".join(f"{nm} {s}" for nm, s in zip(names, shapes, strict=False))
        raise ValueError(
            f"the arrays over coalitions must share one length 2**n (one n): got {listed}. "
            "Pass the interactions and values of the same players."
        )
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(f"{nm} {s}" for nm, s in zip(names, shapes, strict=False))
        raise ValueError(
            f"the leading (batch) axes do not broadcast together: {listed}; pass arrays of "
            "the same batch shape, or a single (2**n,) vector to share."
        ) from None
