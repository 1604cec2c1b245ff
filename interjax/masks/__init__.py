"""Players, baselines and coalition bitmasks (METHOD.md §1)."""

from interjax.masks._baselines import check_baseline, mean_baseline, token_baseline
from interjax.masks._bits import (
    coalition_index,
    coalition_players,
    coalition_sizes,
    from_msb_order,
    graded_order,
    keep_bits,
    num_players_of,
    orders,
    to_msb_order,
)
from interjax.masks._players import Players

__all__ = [
    "Players",
    "check_baseline",
    "coalition_index",
    "coalition_players",
    "coalition_sizes",
    "from_msb_order",
    "graded_order",
    "keep_bits",
    "mean_baseline",
    "num_players_of",
    "orders",
    "to_msb_order",
    "token_baseline",
]
