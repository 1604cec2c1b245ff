"""Model adapters, value functions and the compiled masked sweep (docs/method.md §1)."""

from interjax.evaluate._models import (
    INFERENCE_SWITCHES,
    Model,
    from_fn,
    from_linen,
    from_nnx,
    inference_kwargs,
    linen_inference,
    stack_models,
)
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
    "INFERENCE_SWITCHES",
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
    "inference_kwargs",
    "linen_inference",
    "log_odds",
    "logit",
    "mask_inputs",
    "memory_estimate",
    "probability",
    "stack_models",
]
