"""Players: which input elements each of the n players owns (docs/method.md §1).

A :class:`Players` holds an integer *membership* array: for every element of the part of the
input it covers, the id of the player that owns it, or ``-1`` for background. Background elements
are kept at their value in every masked input (``background="keep"``, default) or replaced by the
mask value in every one (``background="mask"``).

How membership lines up with one (unbatched) input ``x`` of shape ``s``:

* ``features``: ids index the last axis of ``x``; features that are no player are background.
* ``patches`` / ``segments``: the membership covers the leading axes of ``x`` (``(H, W)`` of an
  ``(H, W)`` or ``(H, W, C)`` image; channels share their pixel's player), or, if ``x`` is the
  flattened input, every element of ``x`` in row-major order.
* ``tokens``: ids index the first axis of ``x``: the positions of a sequence of token ids
  ``(L,)`` (masked with a mask id), or of an ``(L, D)`` array of token embeddings (masked at the
  embedding level).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["Players"]

Background = Literal["keep", "mask"]
PLAYER_KINDS = ("features", "patches", "segments", "tokens")


def _int(value, name: str, low: int = 0) -> int:
    """A size or index argument: an int (not a bool, not a float) ``>= low``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def _no_bools(values, name: str) -> None:
    """Refuse bools among listed ids: NumPy would read ``[0, True]`` as ``[0, 1]``."""
    if isinstance(values, list | tuple) and any(isinstance(v, bool | np.bool_) for v in values):
        raise TypeError(f"{name} must be integer indices, not bools; got {list(values)[:5]}")


def _int_ids(values, name: str) -> np.ndarray:
    """A 1-D list of integer ids (indices), refusing floats, strings, bools and nested lists."""
    _no_bools(values, name)
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = np.asarray(values, dtype=object)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be integer indices, got {arr.dtype} values {arr.ravel()[:5].tolist()}"
        )
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty flat list of ints, got shape {arr.shape}")
    return arr.astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class Players:
    """The n players ``N = {0, …, n-1}`` of an explanation and the input elements each owns.

    A coalition ``T ⊆ N`` keeps its players' elements and masks the others (docs/method.md §1).

    Build one with :meth:`features`, :meth:`patches`, :meth:`segments` or :meth:`tokens`.
    Instances are immutable and hashable, so they can be static arguments of ``jax.jit``.

    Attributes:
      membership: int32 array, player id per covered element, ``-1`` for background.
      n: number of players; player ids are ``0 … n-1``.
      kind: ``"features"``, ``"patches"``, ``"segments"`` or ``"tokens"``.
      background: ``"keep"`` (background elements keep their value) or ``"mask"``.
      names: optional player names, used by reports.

    Example:
      >>> import interjax as ij
      >>> p = ij.Players.features(3, names=["age", "income", "height"])
      >>> p.n, p.kind, p.background, p.membership.tolist()
      (3, 'features', 'keep', [0, 1, 2])
      >>> p.element_map((5,)).tolist()  # features 3 and 4 of a 5-feature input: background
      [0, 1, 2, -1, -1]
    """

    membership: np.ndarray
    n: int
    kind: str
    background: Background = "keep"
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        m = np.asarray(self.membership)
        if not np.issubdtype(m.dtype, np.integer):
            raise TypeError(f"player membership must be integers, got dtype {m.dtype}")
        m = m.astype(np.int32)
        m.setflags(write=False)
        object.__setattr__(self, "membership", m)
        if self.background not in ("keep", "mask"):
            raise ValueError(f"background must be 'keep' or 'mask', got {self.background!r}")
        if self.kind not in PLAYER_KINDS:
            raise ValueError(f"kind must be one of {PLAYER_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "n", _int(self.n, "n (the number of players)"))
        if self.n < 1:
            raise ValueError(f"need at least one player, got n={self.n}")
        if self.n > 30:
            raise ValueError(
                f"n={self.n} players means 2**{self.n} masked inputs per sample, beyond what "
                "exact interactions can afford (and beyond int32 coalition ids). Group input "
                "elements into fewer players (Players.segments or larger patches)."
            )
        if m.size and (m.min() < -1 or m.max() >= self.n):
            bad = np.unique(m[(m < -1) | (m >= self.n)])[:5].tolist()
            raise ValueError(
                f"player ids must lie in [0, {self.n}) or be -1 for background; found {bad}."
            )
        present = np.unique(m[m >= 0])
        if present.size != self.n:
            missing = sorted(set(range(self.n)) - set(present.tolist()))[:5]
            raise ValueError(
                f"players {missing} own no input element; every player must cover at least one "
                "element. Renumber the players 0..n-1 without gaps."
            )
        if self.names is not None and len(self.names) != self.n:
            raise ValueError(f"got {len(self.names)} names for {self.n} players")

    # -- identity (hashable so that Players can be a static jit argument) ---------------------
    def _key(self):
        return (
            self.membership.shape,
            self.membership.tobytes(),
            self.n,
            self.kind,
            self.background,
        )

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return isinstance(other, Players) and self._key() == other._key()

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def features(
        cls,
        players: int | Sequence[int],
        *,
        num_features: int | None = None,
        background: Background = "keep",
        names: Sequence[str] | None = None,
    ) -> Players:
        """One player per tabular feature (last axis of the input).

        Args:
          players: ``n`` (features ``0 … n-1`` are the players) or the feature indices, in
            player order.
          num_features: length of the feature axis; if omitted it is taken from the input at
            evaluation time, and features beyond the players are background.
          background: what happens to features that are no player.
          names: optional player names.

        Example:
          >>> Players.features(3).n
          3
          >>> Players.features([4, 0], num_features=5).membership.tolist()
          [1, -1, -1, -1, 0]
        """
        if isinstance(players, int | np.integer) and not isinstance(players, bool | np.bool_):
            idx = np.arange(players)
        else:
            _no_bools(players, "players (the feature indices)")
            idx = np.asarray(players)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                "players must be a positive int or a non-empty list of feature indices, got "
                f"{players!r}"
            )
        if len(set(idx.tolist())) != idx.size:
            dup = sorted({int(i) for i in idx if (idx == i).sum() > 1})
            raise ValueError(f"feature indices overlap: {dup} appear in more than one player")
        if idx.min() < 0:
            raise ValueError(f"feature indices must be >= 0, got {idx.min()}")
        size = int(idx.max()) + 1 if num_features is None else _int(num_features, "num_features", 1)
        if idx.max() >= size:
            raise ValueError(f"feature index {int(idx.max())} is out of range for {size} features")
        m = np.full(size, -1, np.int32)
        m[idx] = np.arange(idx.size)
        return cls(m, int(idx.size), "features", background, _names(names))

    @classmethod
    def patches(
        cls,
        image_shape: tuple[int, int],
        patch_size: int | tuple[int, int],
        *,
        select: Sequence[int] | None = None,
        background: Background = "keep",
        names: Sequence[str] | None = None,
    ) -> Players:
        """Square or rectangular image patches on a regular grid.

        Patches are numbered row-major on the ``ceil(H/ph) × ceil(W/pw)`` grid (edge patches may
        be smaller). With ``select``, only those patches are players (player ``i`` is patch
        ``select[i]``) and the rest of the image is background.

        Example:
          >>> p = Players.patches((4, 4), 2)
          >>> p.n, p.membership.tolist()[0]
          (4, [0, 0, 1, 1])
        """
        shape = tuple(image_shape) if isinstance(image_shape, tuple | list) else (image_shape,)
        if len(shape) != 2:
            raise ValueError(
                f"image_shape must be (H, W), got {image_shape!r}; channels share their "
                "pixel's player, so pass the first two axes of an (H, W, C) image."
            )
        H, W = (_int(s, "image_shape") for s in shape)
        if isinstance(patch_size, tuple | list):
            if len(patch_size) != 2:
                raise ValueError(f"patch_size must be an int or (ph, pw), got {patch_size!r}")
            ph, pw = (_int(s, "patch_size") for s in patch_size)
        else:
            ph = pw = _int(patch_size, "patch_size")
        if min(H, W, ph, pw) < 1:
            raise ValueError(
                f"image_shape and patch_size must be positive, got {image_shape}, {patch_size}"
            )
        gh, gw = math.ceil(H / ph), math.ceil(W / pw)
        grid = (np.arange(H)[:, None] // ph) * gw + (np.arange(W)[None, :] // pw)
        if select is None:
            return cls(grid.astype(np.int32), gh * gw, "patches", background, _names(names))
        sel = _int_ids(select, "select (the patch ids)")
        if sel.min() < 0 or sel.max() >= gh * gw:
            raise ValueError(
                f"patch ids must lie in [0, {gh * gw}) for a {gh}x{gw} grid; got {sel.tolist()}"
            )
        if len(set(sel.tolist())) != sel.size:
            raise ValueError(f"select lists a patch more than once: {sel.tolist()}")
        lookup = np.full(gh * gw, -1, np.int32)
        lookup[sel] = np.arange(sel.size)
        return cls(lookup[grid], int(sel.size), "patches", background, _names(names))

    @classmethod
    def grid(
        cls,
        image_shape: tuple[int, int],
        rows: int,
        cols: int,
        *,
        background: Background = "keep",
        names: Sequence[str] | None = None,
    ) -> Players:
        """An ``rows × cols`` grid of equal patches of an ``(H, W)`` or ``(H, W, C)`` image.

        Player ``r · cols + c`` owns the pixels of grid cell ``(r, c)`` (row-major), every
        channel of them; each patch is ``H/rows × W/cols`` pixels. The grid must divide the
        image exactly (use :meth:`patches` for edge patches of another size).

        Example:
          >>> p = Players.grid((4, 6), 2, 3)
          >>> p.n, p.membership.tolist()[0], p.membership.tolist()[2]
          (6, [0, 0, 1, 1, 2, 2], [3, 3, 4, 4, 5, 5])
        """
        shape = tuple(image_shape) if isinstance(image_shape, tuple | list) else (image_shape,)
        if len(shape) != 2:
            raise ValueError(
                f"image_shape must be (H, W), got {image_shape!r}; channels share their "
                "pixel's player, so pass the first two axes of an (H, W, C) image."
            )
        H, W = (_int(s, "image_shape", 1) for s in shape)
        rows, cols = _int(rows, "rows", 1), _int(cols, "cols", 1)
        if H % rows or W % cols:
            raise ValueError(
                f"a {rows}x{cols} grid does not divide a {H}x{W} image into equal patches; "
                f"choose rows dividing {H} ({_divisors(H)}) and cols dividing {W} "
                f"({_divisors(W)})."
            )
        return cls.patches((H, W), (H // rows, W // cols), background=background, names=names)

    @classmethod
    def segments(
        cls,
        segment_map=None,
        *,
        groups: Sequence[Sequence[int]] | None = None,
        shape: tuple[int, ...] | int | None = None,
        background: Background = "keep",
        names: Sequence[str] | None = None,
    ) -> Players:
        """Any map from input elements to players.

        Pass either ``segment_map`` (an int array, player id per element, ``-1`` for background;
        ids must be ``0 … n-1``) or ``groups`` (player ``i`` owns the flat element indices
        ``groups[i]`` of an input of the given ``shape``).

        Example:
          >>> Players.segments([[0, 0, 1], [-1, 1, 1]]).n
          2
          >>> Players.segments(groups=[[0, 2], [1]], shape=4).membership.tolist()
          [0, 1, 0, -1]
        """
        if (segment_map is None) == (groups is None):
            raise ValueError("pass exactly one of segment_map or groups")
        if segment_map is not None:
            m = np.asarray(segment_map)
            if not np.issubdtype(m.dtype, np.integer):
                raise TypeError(
                    f"segment_map must hold integer player ids (-1 for background), got dtype "
                    f"{m.dtype}; e.g. np.asarray(segments, dtype=int)."
                )
            if not (m >= 0).any():
                raise ValueError(
                    f"segment_map of shape {m.shape} holds no player id >= 0; number the "
                    "players 0..n-1 (and the background -1)."
                )
            n = int(m.max()) + 1
            return cls(m, n, "segments", background, _names(names))
        if shape is None:
            raise ValueError(
                "groups needs the input shape: Players.segments(groups=..., shape=...)"
            )
        if not isinstance(shape, int | np.integer | tuple | list):
            raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}")
        shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
        shape = tuple(_int(d, "shape", 1) for d in shape)
        if not len(groups):
            raise ValueError("groups is empty: give at least one group of element indices")
        m = np.full(int(np.prod(shape)), -1, np.int32)
        for pid, group in enumerate(groups):
            _no_bools(group, f"group {pid}")
            try:
                g = np.asarray(group)
            except ValueError:
                raise TypeError(
                    f"group {pid} must be a flat list of element indices, got {group!r}"
                ) from None
            if g.size == 0:
                raise ValueError(
                    f"group {pid} is empty: every player must own at least one element index"
                )
            if not np.issubdtype(g.dtype, np.integer):
                raise TypeError(
                    f"group {pid} must list integer flat element indices, got {g.dtype} "
                    f"{g.ravel()[:5].tolist()}"
                )
            g = g.astype(np.int64).reshape(-1)
            if g.min() < 0 or g.max() >= m.size:
                raise ValueError(
                    f"group {pid} has element index out of range [0, {m.size}): {g.tolist()}"
                )
            taken = g[m[g] >= 0]
            if taken.size or len(set(g.tolist())) != g.size:
                clash = taken[:5].tolist() or g.tolist()
                raise ValueError(
                    f"groups overlap: element(s) {clash} belong to more than one player"
                )
            m[g] = pid
        return cls(m.reshape(shape), len(groups), "segments", background, _names(names))

    @classmethod
    def tokens(
        cls,
        seq_len: int,
        *,
        positions: Sequence[int] | None = None,
        background: Background = "keep",
        names: Sequence[str] | None = None,
    ) -> Players:
        """One player per token position of a sequence of length ``L``.

        The input is either the token ids, shape ``(L,)`` (integer; ``(B, L)`` for a batch),
        masked by replacing a token's id by a mask id (``mask_value=MASK_ID``); or the embedded
        sequence ``(L, D)``, masked by replacing a token's whole embedding row by a mask
        embedding (e.g. :func:`interjax.token_mask_value`), for a model that starts from
        embeddings. Over several checkpoints or models, use ids: each model embeds them with
        its own embedding table, while a pre-embedded sequence holds one model's embeddings.

        Example:
          >>> Players.tokens(5, positions=[1, 3]).membership.tolist()
          [-1, 0, -1, 1, -1]
        """
        seq_len = _int(seq_len, "seq_len", 1)
        pos = np.arange(seq_len) if positions is None else _int_ids(positions, "positions")
        if pos.min() < 0 or pos.max() >= seq_len:
            raise ValueError(f"token positions must lie in [0, {seq_len}); got {pos.tolist()}")
        if len(set(pos.tolist())) != pos.size:
            raise ValueError(f"token positions repeat: {pos.tolist()}")
        m = np.full(seq_len, -1, np.int32)
        m[pos] = np.arange(pos.size)
        return cls(m, int(pos.size), "tokens", background, _names(names))

    # -- alignment with an input -------------------------------------------------------------
    def element_map(self, input_shape: tuple[int, ...]) -> np.ndarray:
        """Player id per element of one input of ``input_shape``, broadcastable to it.

        Raises a ValueError, before any work, if the players do not fit the input.
        """
        s = tuple(int(d) for d in input_shape)
        m = self.membership
        size = int(np.prod(s)) if s else 1
        if self.n > size:
            raise ValueError(
                f"{self.n} players but the input has only {size} elements (shape {s}); "
                "use at most one player per input element."
            )
        if self.kind == "features":
            if not s:
                raise ValueError("Players.features needs inputs with a feature axis; got a scalar")
            d = s[-1]
            if m.size > d:
                raise ValueError(
                    f"players refer to feature {int(np.flatnonzero(m >= 0).max())} but the "
                    f"input's last axis has {d} features (input shape {s})."
                )
            full = np.full(d, -1, np.int32)
            full[: m.size] = m
            return full
        if self.kind == "tokens":
            if not s or s[0] != m.size:
                raise ValueError(
                    f"Players.tokens({m.size}) expects token ids of shape (L={m.size},) or "
                    f"embeddings (L={m.size}, D); got input shape {s}."
                )
            return m.reshape(m.shape + (1,) * (len(s) - 1))
        if s[: m.ndim] == m.shape:
            return m.reshape(m.shape + (1,) * (len(s) - m.ndim))
        if m.size == size:
            return m.reshape(s)
        raise ValueError(
            f"players of shape {m.shape} do not fit an input of shape {s}: the membership must "
            "cover the input's leading axes or all of its elements in row-major order."
        )


def _divisors(k: int) -> str:
    return ", ".join(str(d) for d in range(1, k + 1) if k % d == 0)


def _names(names):
    return None if names is None else tuple(str(x) for x in names)
