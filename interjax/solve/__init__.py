"""Sparse AND-OR extraction with a certified optimum, and salient interactions (docs/method.md §3).

A fit takes a frozen solver object (:class:`PDHG` by default, :class:`SGD`, :class:`HiGHS`) and
returns an :class:`AndOr` whose ``status`` says, per fit, why it stopped (:class:`FitStatus`).
"""

from interjax.solve._fit import check_fit_settings, fit_and_or, fold_or_into_and
from interjax.solve._result import AndOr, FitStatus
from interjax.solve._salient import (
    KINDS,
    Salient,
    check_salient_rule,
    salient,
    salient_mask,
    strength_by_order,
)
from interjax.solve._shared import fit_shared_and_or
from interjax.solve._solvers import PDHG, SGD, HiGHS

__all__ = [
    "KINDS",
    "PDHG",
    "SGD",
    "AndOr",
    "FitStatus",
    "HiGHS",
    "Salient",
    "check_fit_settings",
    "check_salient_rule",
    "fit_and_or",
    "fit_shared_and_or",
    "fold_or_into_and",
    "salient",
    "salient_mask",
    "strength_by_order",
]
