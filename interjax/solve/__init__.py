"""Sparse AND-OR extraction with a certified optimum, and salient interactions (METHOD.md §3)."""

from interjax.solve._fit import fit_and_or, fold_or_into_and
from interjax.solve._result import AndOr
from interjax.solve._salient import KINDS, Salient, salient, salient_mask, strength_by_order
from interjax.solve._shared import fit_shared_and_or

__all__ = [
    "KINDS",
    "AndOr",
    "Salient",
    "fit_and_or",
    "fit_shared_and_or",
    "fold_or_into_and",
    "salient",
    "salient_mask",
    "strength_by_order",
]
