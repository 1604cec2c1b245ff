"""``solver=ij.SGD()``: the lab's published optimization, kept to reproduce published numbers.

The research code of Li & Zhang (2023, arXiv:2304.13312) and Chen et al. (2024,
arXiv:2401.16318) minimizes the same L1 objective by gradient descent on ``(γ, q)``: SGD with
momentum 0.9 from ``γ = q = 0``, a learning rate decaying log-linearly to a tenth of its start over
``num_steps``, and ``q`` clipped to ``[-τ, τ]`` after every step. It stops at ``num_steps``, not at
the optimum: :class:`~interjax.solve.AndOr` still reports a lower bound (from the dual of the
final residual signs), so its gap says how far it ended.

Any ``optax.GradientTransformation`` can replace the schedule (``optimizer=``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from interjax._caches import cached
from interjax._core import num_players_of
from interjax.solve._operators import operators

__all__ = ["default_sgd", "sgd_solve"]


@cached("solve.default_sgd")
def default_sgd(learning_rate: float, num_steps: int) -> optax.GradientTransformation:
    """SGD, momentum 0.9, learning rate ``lr · 10^{-t/num_steps}`` (a tenth at the end).

    Cached: the optimizer is a static argument of the compiled solve, so the same settings must
    give the same object, or every call would compile again."""
    schedule = optax.exponential_decay(learning_rate, transition_steps=num_steps, decay_rate=0.1)
    return optax.sgd(schedule, momentum=0.9)


def sgd_solve(v, tau, *, optimizer: optax.GradientTransformation, num_steps: int, transforms=None):
    """Minimize ``‖M(½(v+q)+γ)‖₁ + ‖O(½(v+q)-γ)‖₁`` over ``γ`` and ``|q| ≤ τ``; one sample.

    ``transforms = (M, O)`` replaces the butterflies (default), e.g. by dense matrix products
    to reproduce the lab's formulation (``benchmarks/bench_dense.py``).

    Returns ``(p, r, q, objective_history)`` with ``p = v_and``, ``r = v_or``; the history holds
    the objective at every step (for tests of the schedule).
    """
    if transforms is None:
        op = operators(num_players_of(v.shape[-1]))
        transforms = (op.M, op.O)
    and_transform, or_transform = transforms

    def loss(params):
        gamma, q = params
        h = 0.5 * (v + q)
        return jnp.abs(and_transform(h + gamma)).sum() + jnp.abs(or_transform(h - gamma)).sum()

    params = (jnp.zeros_like(v), jnp.zeros_like(v))
    opt_state = optimizer.init(params)

    def step(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        gamma, q = optax.apply_updates(params, updates)
        return ((gamma, jnp.clip(q, -tau, tau)), opt_state), value

    (params, _), history = jax.lax.scan(step, (params, opt_state), None, length=num_steps)
    gamma, q = params
    h = 0.5 * (v + q)
    return h + gamma, h - gamma, q, history
