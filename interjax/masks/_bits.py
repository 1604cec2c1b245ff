"""Bitmask helpers for coalitions.

A coalition ``T ⊆ N = {0, …, n-1}`` is the integer ``Σ_{i∈T} 2^i``: bit ``i`` set means player
``i`` is kept (docs/method.md §1). Index 0 is ∅ and index ``2**n - 1`` is N. Every array over
coalitions in interjax uses this order. The lab's published research code uses the opposite bit
order (player 0 is the most significant bit); :func:`to_msb_order` and :func:`from_msb_order`
convert, and :func:`graded_order` gives a size-graded view. That order is never stored.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import num_players_of

__all__ = [
    "coalition_index",
    "coalition_players",
    "coalition_sizes",
    "from_msb_order",
    "graded_order",
    "num_players_of",
    "orders",
    "to_msb_order",
]


_MAX_PLAYERS = 30  # as Players: 2**30 coalitions, int32 coalition ids


def _player_count(n, name: str = "n") -> int:
    """``n`` as an int in ``[0, 30]``, or a clear error."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name} (the number of players) must be an int, got {type(n).__name__}")
    if not 0 <= n <= _MAX_PLAYERS:
        raise ValueError(
            f"{name} (the number of players) must be in [0, {_MAX_PLAYERS}], got {n}: "
            f"2**{n} coalitions{' do not exist' if n < 0 else ' are beyond exact interactions'}."
        )
    return int(n)


def _player_id(p, what: str) -> int:
    """One player id (or coalition index): a non-negative int."""
    if isinstance(p, bool | np.bool_):
        raise TypeError(f"{what} must be non-negative ints, got the bool {p!r}")
    try:
        i = operator.index(p)
    except TypeError:
        raise TypeError(f"{what} must be non-negative ints, got {type(p).__name__} {p!r}") from None
    if i < 0:
        raise ValueError(f"{what} must be non-negative ints, got {i}")
    return i


def orders(n: int) -> np.ndarray:
    """``|S|`` (the order) for every coalition index ``S`` in bitmask order (docs/method.md §1, §3).

    Args:
      n: number of players.

    Returns:
      ``(2**n,)`` int64 array, ``orders(n)[S] = popcount(S)``, computed on the host.

    Example:
      >>> import interjax as ij
      >>> ij.orders(3).tolist()
      [0, 1, 1, 2, 1, 2, 2, 3]
    """
    n = _player_count(n)
    idx = np.arange(2**n, dtype=np.int64)
    counts = np.zeros(2**n, dtype=np.int64)
    for i in range(n):
        counts += (idx >> i) & 1
    return counts


def coalition_sizes(n: int, dtype=jnp.int32) -> jnp.ndarray:
    """``|S|`` for every coalition, computed on device (``population_count`` of an iota).

    Use this inside jitted code instead of :func:`orders`: a host array of 2**n entries would be
    baked into the program as a constant and slow compilation down (19 s at n = 24 on a GPU).

    Example:
      >>> coalition_sizes(2).tolist()
      [0, 1, 1, 2]
    """
    return jax.lax.population_count(jnp.arange(2**n, dtype=jnp.int32)).astype(dtype)


def graded_order(n: int) -> np.ndarray:
    """Permutation listing coalitions by size, then by bitmask index: ``v[graded_order(n)]``.

    Example:
        >>> graded_order(2).tolist()
        [0, 1, 2, 3]
        >>> graded_order(3).tolist()
        [0, 1, 2, 4, 3, 5, 6, 7]
    """
    n = _player_count(n)
    return np.lexsort((np.arange(2**n), orders(n)))


def coalition_index(players) -> int:
    """Bitmask index of a set of player ids: ``T = Σ_{i∈T} 2^i`` (docs/method.md §1).

    Args:
      players: iterable of int player ids.

    Returns:
      int index into any ``(..., 2**n)`` array over coalitions.

    Example:
      >>> import interjax as ij
      >>> ij.coalition_index({0, 2}), ij.coalition_index([]), ij.coalition_index(range(3))
      (5, 0, 7)
    """
    if isinstance(players, str | bytes) or not hasattr(players, "__iter__"):
        raise TypeError(
            f"players must be an iterable of player ids, e.g. [0, 2] or {{1}}; got "
            f"{type(players).__name__} {players!r}"
        )
    index = 0
    for p in players:
        index |= 1 << _player_id(p, "player ids")
    return index


def coalition_players(index: int, n: int | None = None) -> tuple[int, ...]:
    """Player ids in coalition ``index`` (the set bits), the inverse of :func:`coalition_index`.

    Args:
      index: int coalition index.
      n: number of players; bits at or above ``n`` are ignored (default: all set bits).

    Returns:
      tuple of int player ids, increasing.

    Example:
      >>> import interjax as ij
      >>> ij.coalition_players(5), ij.coalition_players(0), ij.coalition_players(7, n=2)
      ((0, 2), (), (0, 1))
    """
    index = _player_id(index, "coalition indices")
    width = index.bit_length() if n is None else _player_count(n)
    return tuple(i for i in range(width) if index >> i & 1)


def _reverse_bits(v: jnp.ndarray) -> jnp.ndarray:
    if v.ndim == 0:
        raise ValueError(
            "expected an array over coalitions of shape (..., 2**n) to reorder, got a scalar"
        )
    n = num_players_of(v.shape[-1])
    lead = v.shape[:-1]
    cube = v.reshape((*lead, *(2,) * n))
    k = len(lead)
    perm = (*range(k), *reversed(range(k, k + n)))
    return cube.transpose(perm).reshape(v.shape)


def to_msb_order(v: jnp.ndarray) -> jnp.ndarray:
    """Reorder ``(..., 2**n)`` from interjax's bitmask order to player-0-is-MSB order.

    ``out[rev_n(T)] = v[T]``, where ``rev_n`` reverses the ``n`` bits of ``T`` (docs/method.md §1).
    This is the order of the lab's research code. The map is an involution, so
    :func:`from_msb_order` is the same permutation. Leading axes are kept.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> ij.to_msb_order(jnp.arange(8)).tolist()  # player 0 = bit 2 after reordering
      [0, 4, 2, 6, 1, 5, 3, 7]
    """
    return _reverse_bits(jnp.asarray(v))


def from_msb_order(v: jnp.ndarray) -> jnp.ndarray:
    """Reorder ``(..., 2**n)`` from player-0-is-MSB order into interjax's bitmask order.

    The inverse of :func:`to_msb_order` (and the same bit-reversal permutation); use it on value
    or interaction vectors from the lab's research code (docs/method.md §1). Leading axes are kept.

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> v = jnp.array([[0.0, 1.0, 2.0, 3.0]])  # (1, 2**2), entry 1 = {player 1} in MSB order
      >>> ij.from_msb_order(v).tolist()
      [[0.0, 2.0, 1.0, 3.0]]
      >>> ij.from_msb_order(ij.to_msb_order(v)).tolist()
      [[0.0, 1.0, 2.0, 3.0]]
    """
    return _reverse_bits(jnp.asarray(v))
