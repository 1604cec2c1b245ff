"""Model adapters, value functions and the compiled masked sweep (METHOD.md §1)."""

from interjax.evaluate._models import Model, from_fn, from_linen, from_nnx, stack_models
from interjax.evaluate._sweep import default_chunk_size, evaluate, mask_inputs, memory_estimate
from interjax.evaluate._values import (
    CustomValue,
    Logit,
    LogOdds,
    Probability,
    as_value_fn,
    log_odds,
    logit,
    probability,
)

__all__ = [
    "CustomValue",
    "LogOdds",
    "Logit",
    "Model",
    "Probability",
    "as_value_fn",
    "default_chunk_size",
    "evaluate",
    "from_fn",
    "from_linen",
    "from_nnx",
    "log_odds",
    "logit",
    "mask_inputs",
    "memory_estimate",
    "probability",
    "stack_models",
]
