"""Training without non-generalizable interactions (docs/method.md §6): a penalty a researcher
adds to their own NNX or optax training step, and its periodic refresh.

A reconstruction of He et al. 2025 (arXiv:2505.06993), Eq. 11-12, whose equations are not
public: ``loss = task_loss + lam * penalty(model, state)``, with ``state =
refresh_penalty(model, x_batch, y_batch, baselines, players, config=cfg)`` every
``cfg.refresh_every`` steps.
"""

from interjax.train._penalty import (
    PenaltyConfig,
    PenaltyState,
    penalty,
    penalty_memory,
    refresh_penalty,
)

__all__ = ["PenaltyConfig", "PenaltyState", "penalty", "penalty_memory", "refresh_penalty"]
