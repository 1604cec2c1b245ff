"""Checks of :func:`interjax.evaluate`'s arguments, made before any model evaluation.

Static properties (types, dtypes, shapes) are checked for every call. Values (NaN, inf) are
checked here only for host arrays (NumPy, lists), which costs no device work; for device arrays
the sweep's own finite flag catches them, and :func:`diagnose_nonfinite` then says whether the
input or the mask value carried them. NaN and inf are reported in the one format of
:func:`interjax._core.refuse_nonfinite`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from interjax._core import nonfinite_message, refuse_nonfinite

__all__ = [
    "check_batched",
    "check_input",
    "check_mesh",
    "diagnose_nonfinite",
    "refuse_nonfinite_host",
]


def _real_dtype_or_raise(dtype, name: str) -> None:
    dtype = np.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"{name} is complex ({dtype}); masked inputs must be real. Pass the real and "
            "imaginary parts as separate features (or channels)."
        )
    if not (jnp.issubdtype(dtype, jnp.number) or dtype == np.bool_):
        raise TypeError(
            f"{name} must be an array of numbers (the model's input), got dtype {dtype}; convert "
            "it first, e.g. np.asarray(x, dtype=np.float32)."
        )


def refuse_nonfinite_host(arr, name: str, what_to_do: str) -> None:
    """Raise a ValueError if the host array ``arr`` of floats holds NaN or inf (device arrays
    and ``None`` pass: the sweep's own finite flag catches those)."""
    if isinstance(arr, jax.Array) or arr is None:
        return
    a = np.asarray(arr)
    if jnp.issubdtype(a.dtype, jnp.floating):
        refuse_nonfinite(a, name, what_to_do)


def check_input(x, check_finite: bool):
    """``x`` as an array of real numbers; a host ``x`` with NaN or inf is refused when
    ``check_finite`` (its elements would reach the model in the masked inputs)."""
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"x must be an array of numbers (the model's input), got {type(x).__name__}: {err}"
            ) from None
    _real_dtype_or_raise(x.dtype, "x")
    if check_finite:
        refuse_nonfinite_host(
            x,
            "x",
            "masked inputs keep these elements, so the model's values would be NaN. Replace "
            "them (e.g. np.nan_to_num) or, if the model handles them, pass check_finite=False.",
        )
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


def check_batched(batched, x) -> None:
    """``batched`` is None or a bool; a batch needs a leading axis of at least one input."""
    if batched is not None and not isinstance(batched, bool | np.bool_):
        raise TypeError(f"batched must be True, False or None (infer), got {batched!r}")
    if batched and x.ndim == 0:
        raise ValueError(
            "batched=True needs x of shape (B, *input_shape), got a scalar; pass batched=False "
            "for one input"
        )
    if batched and x.shape[0] == 0:
        raise ValueError(
            f"x of shape {tuple(x.shape)} is an empty batch: there is nothing to evaluate; pass "
            "at least one input"
        )


def check_mesh(mesh):
    """``mesh`` is ``"auto"``, ``None`` or a one-axis :class:`jax.sharding.Mesh`."""
    if mesh is None or (isinstance(mesh, str) and mesh == "auto"):
        return
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be 'auto' (every device), None (one device) or a jax.sharding.Mesh with "
            f"one axis, got {mesh!r}"
        )
    if len(mesh.axis_names) != 1:
        raise ValueError(
            f"mesh must have exactly one axis (the masks are split along it), got axes "
            f"{mesh.axis_names}; build one with Mesh(np.array(jax.devices()), ('masks',))"
        )


def diagnose_nonfinite(x, mask_value) -> str:
    """On the error path only (values already not finite): say whether ``x`` or the mask value
    hold NaN or inf themselves. Costs a transfer, but only when evaluate is raising anyway."""
    notes = []
    for name, arr in (("x", x), ("The mask value", mask_value)):
        if arr is None:
            continue
        a = np.asarray(arr)
        if jnp.issubdtype(a.dtype, jnp.floating):
            note = nonfinite_message(a, name, "the masked inputs carry them.")
            if note:
                notes.append(" " + note)
    return "".join(notes)
