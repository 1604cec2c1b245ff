"""Players, mask values and coalition bitmasks (docs/method.md §1).

Two names for two things. The **mask value** is what an absent player's elements are replaced
by in a masked input ``x_T``: ``ij.evaluate(model, x, players, mask_value=b)``, built with
:func:`mean_mask_value` or :func:`token_mask_value` and checked by :func:`check_mask_value`.
A **baseline** is only ever a baseline *model*, one trained on data the target never saw, whose
salient interactions decide which of the target's generalize (docs/method.md §4). The
former names of the mask-value helpers (``mean_baseline``, ``token_baseline``,
``check_baseline``) and ``evaluate``'s ``baseline=`` keyword remain as aliases.

Example:
  >>> import interjax as ij, numpy as np
  >>> ij.masks.mean_mask_value(np.array([[0.0, 2.0], [2.0, 4.0]])).tolist()
  [1.0, 3.0]
"""

from interjax.masks._bits import (
    coalition_index,
    coalition_players,
    coalition_sizes,
    from_msb_order,
    graded_order,
    num_players_of,
    orders,
    to_msb_order,
)
from interjax.masks._mask_values import (
    check_baseline,
    check_mask_value,
    mean_baseline,
    mean_mask_value,
    token_baseline,
    token_mask_value,
)
from interjax.masks._players import Players

__all__ = [
    "Players",
    "check_baseline",
    "check_mask_value",
    "coalition_index",
    "coalition_players",
    "coalition_sizes",
    "from_msb_order",
    "graded_order",
    "mean_baseline",
    "mean_mask_value",
    "num_players_of",
    "orders",
    "to_msb_order",
    "token_baseline",
    "token_mask_value",
]
