"""interjax: exact AND-OR interactions of JAX models and their generalization power.

Implements He, Zhang, Cheng, Zhang, Zhang (2025), *Technical Report: Quantifying and Analyzing
the Generalization Power of a DNN*, arXiv:2505.06993, and the AND-OR interactions of Li & Zhang
(2023, arXiv:2304.13312) and Chen et al. (2024, arXiv:2401.16318).

    >>> import interjax as ij
    >>> sorted(ij.__all__)[:3]
    ['AndOr', 'FitStatus', 'HiGHS']
"""

from interjax import masks, solve, train, transform
from interjax._caches import clear_caches
from interjax._pipeline import analyze_run
from interjax.evaluate import (
    Logit,
    LogOdds,
    Model,
    Probability,
    evaluate,
    from_fn,
    from_linen,
    from_nnx,
    log_odds,
    logit,
    probability,
    stack_models,
)
from interjax.interop import to_shapiq
from interjax.masks import (
    Players,
    coalition_index,
    coalition_players,
    from_msb_order,
    graded_order,
    mean_baseline,
    mean_mask_value,
    orders,
    to_msb_order,
    token_baseline,
    token_mask_value,
)
from interjax.solve import (
    PDHG,
    SGD,
    AndOr,
    FitStatus,
    HiGHS,
    Salient,
    fit_and_or,
    fit_shared_and_or,
    fold_or_into_and,
    salient,
    salient_mask,
    strength_by_order,
)
from interjax.transform import (
    and_interactions,
    and_inverse,
    banzhaf_values,
    harsanyi_dividends,
    matching_error,
    noise_floor,
    or_interactions,
    or_inverse,
    pairwise_shapley_interactions,
    reconstruct,
    shapley_values,
)

__version__ = "0.1.0"

__all__ = [
    "PDHG",
    "SGD",
    "AndOr",
    "FitStatus",
    "HiGHS",
    "LogOdds",
    "Logit",
    "Model",
    "Players",
    "Probability",
    "Salient",
    "analyze_run",
    "and_interactions",
    "and_inverse",
    "banzhaf_values",
    "clear_caches",
    "coalition_index",
    "coalition_players",
    "evaluate",
    "fit_and_or",
    "fit_shared_and_or",
    "fold_or_into_and",
    "from_fn",
    "from_linen",
    "from_msb_order",
    "from_nnx",
    "graded_order",
    "harsanyi_dividends",
    "log_odds",
    "logit",
    "masks",
    "matching_error",
    "mean_baseline",
    "mean_mask_value",
    "noise_floor",
    "or_interactions",
    "or_inverse",
    "orders",
    "pairwise_shapley_interactions",
    "probability",
    "reconstruct",
    "salient",
    "salient_mask",
    "shapley_values",
    "solve",
    "stack_models",
    "strength_by_order",
    "to_msb_order",
    "to_shapiq",
    "token_baseline",
    "token_mask_value",
    "train",
    "transform",
]
