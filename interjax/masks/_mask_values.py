"""Mask values: what replaces the elements of absent players (docs/method.md §1).

A mask value is any array that broadcasts to one input: ``0.0`` (zeros, the default), the mean
over a reference set (:func:`mean_mask_value`), a user array, or for text a mask embedding of
shape ``(D,)`` that broadcasts over the ``(L, D)`` embedded sequence (:func:`token_mask_value`).
``mean_baseline``, ``token_baseline`` and ``check_baseline`` are their former names, kept as
aliases for one release ("baseline" now names only the baseline models of docs/method.md §4).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = [
    "check_baseline",
    "check_mask_value",
    "mean_baseline",
    "mean_mask_value",
    "token_baseline",
    "token_mask_value",
]


def mean_mask_value(reference, axis: int = 0) -> jnp.ndarray:
    """Mean of a reference set over its sample axis, ``b = mean_k x_k``, as the mask value.

    Example:
      >>> import interjax as ij
      >>> ij.mean_mask_value(np.array([[0.0, 2.0], [2.0, 4.0]])).tolist()
      [1.0, 3.0]
    """
    ref = jnp.asarray(reference)
    if ref.ndim and not -ref.ndim <= axis < ref.ndim:
        raise ValueError(f"axis {axis} is out of range for a reference set of shape {ref.shape}")
    if ref.ndim == 0 or ref.shape[axis] == 0:
        raise ValueError(f"mean_mask_value needs a non-empty reference set, got shape {ref.shape}")
    return ref.mean(axis=axis)


def token_mask_value(embedding_table, token_id: int) -> jnp.ndarray:
    """The embedding row of a mask or pad token, ``b = E[token_id]``, to mask token players.

    Args:
      embedding_table: ``(vocab, D)`` embedding matrix.
      token_id: row to take, in ``[0, vocab)``.

    Returns:
      ``(D,)`` mask value that broadcasts over an ``(L, D)`` embedded sequence (docs/method.md §1).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> ij.token_mask_value(jnp.arange(6.0).reshape(3, 2), token_id=2).tolist()
      [4.0, 5.0]
    """
    table = jnp.asarray(embedding_table)
    if table.ndim != 2:
        raise ValueError(f"embedding_table must be (vocab, D), got shape {table.shape}")
    if isinstance(token_id, bool) or not isinstance(token_id, int | np.integer):
        raise TypeError(f"token_id must be an int row of the table, got {token_id!r}")
    if not 0 <= token_id < table.shape[0]:
        raise ValueError(f"token_id {token_id} out of range for a vocabulary of {table.shape[0]}")
    return table[token_id]


def check_mask_value(mask_value, input_shape: tuple[int, ...], dtype, batch: int | None = None):
    """Validate a mask value for inputs of ``input_shape`` and ``dtype``.

    ``None`` means zeros. A mask value broadcasts to one input; with a batch of ``B`` inputs it
    may also have shape ``(B, *input_shape)`` (one mask value per input). Returns
    ``(b, per_sample)``: the mask value as an array of ``dtype`` and whether it is per input.

    Example:
      >>> import numpy as np
      >>> b, per_sample = check_mask_value(np.zeros((2, 3)), (3,), np.float32, batch=2)
      >>> b.shape, per_sample
      ((2, 3), True)
    """
    if mask_value is None:
        return np.zeros((), dtype), False  # host scalar: no device work per call
    b = mask_value if hasattr(mask_value, "dtype") else np.asarray(mask_value)
    if not (np.issubdtype(b.dtype, np.number) or b.dtype == jnp.bfloat16) or np.issubdtype(
        b.dtype, np.complexfloating
    ):
        raise TypeError(f"the mask value must be a real number array, got dtype {b.dtype}")
    if not jnp.can_cast(b.dtype, dtype, casting="same_kind"):
        raise TypeError(
            f"the mask value has dtype {b.dtype} but the input has dtype {jnp.dtype(dtype)}; a "
            "float mask value cannot replace integer inputs. Mask a float representation "
            "(embeddings, one-hot) or cast the input."
        )
    shape = tuple(b.shape)
    if batch is not None and shape == (batch, *input_shape) and len(shape) > 0:
        return jnp.asarray(b, dtype), True
    try:
        ok = np.broadcast_shapes(shape, input_shape) == tuple(input_shape)
    except ValueError:
        ok = False
    if not ok:
        per = f" or {(batch, *input_shape)} (one per input)" if batch is not None else ""
        raise ValueError(
            f"mask value of shape {shape} does not broadcast to one input of shape "
            f"{tuple(input_shape)}; expected a shape that broadcasts to it{per}."
        )
    return jnp.asarray(b, dtype), False


def mean_baseline(reference, axis: int = 0) -> jnp.ndarray:
    """Alias of :func:`mean_mask_value` (its former name, kept for one release).

    Example:
      >>> import interjax as ij
      >>> ij.mean_baseline(np.array([[0.0, 2.0], [2.0, 4.0]])).tolist()
      [1.0, 3.0]
    """
    return mean_mask_value(reference, axis)


def token_baseline(embedding_table, token_id: int) -> jnp.ndarray:
    """Alias of :func:`token_mask_value` (its former name, kept for one release).

    Example:
      >>> import interjax as ij, jax.numpy as jnp
      >>> ij.token_baseline(jnp.arange(6.0).reshape(3, 2), token_id=2).tolist()
      [4.0, 5.0]
    """
    return token_mask_value(embedding_table, token_id)


def check_baseline(baseline, input_shape: tuple[int, ...], dtype, batch: int | None = None):
    """Alias of :func:`check_mask_value` (its former name, kept for one release).

    Example:
      >>> import numpy as np
      >>> check_baseline(None, (3,), np.float32)[1]
      False
    """
    return check_mask_value(baseline, input_shape, dtype, batch)
