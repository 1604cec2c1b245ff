"""Strict numerics for the whole suite: float64 everywhere numbers are checked (STYLE.md)."""

import jax

jax.config.update("jax_enable_x64", True)
