"""Exact interactions and indices by fast O(n·2^n) transforms (docs/method.md §2)."""

from interjax.transform._indices import (
    banzhaf_values,
    pairwise_shapley_interactions,
    shapley_values,
)
from interjax.transform._mobius import (
    and_interactions,
    and_inverse,
    matching_error,
    noise_floor,
    or_interactions,
    or_inverse,
    reconstruct,
    work_dtype,
)

harsanyi_dividends = and_interactions

__all__ = [
    "and_interactions",
    "and_inverse",
    "banzhaf_values",
    "harsanyi_dividends",
    "matching_error",
    "noise_floor",
    "or_interactions",
    "or_inverse",
    "pairwise_shapley_interactions",
    "reconstruct",
    "shapley_values",
    "work_dtype",
]
