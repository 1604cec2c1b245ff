"""Training without non-generalizable interactions (docs/method.md §6, a reconstruction of
He et al. 2025, arXiv:2505.06993, Eq. 11-12).

The paper's equations are not public; what is known is that an AND-OR model is extracted for
each training sample, its salient interactions are labelled against baseline models trained on
unseen data, and the strength of the non-generalizable ones is penalized while training. The
reconstruction implemented here:

    penalty(θ) = (1/m) Σ_{i≤m} Σ_{(S, kind) ∈ P_i} w_{|S|} · |I_kind(S | x_i; θ)|

with ``I_and = Möbius(v_and)``, ``I_or = OR-transform(v_or)`` of ``v_and = (v_θ+q)/2 + γ``,
``v_or = (v_θ+q)/2 - γ`` (then the fit's fold of ∅/singleton OR terms into AND), ``v_θ`` the
log-odds of the label on the 2**n masked inputs of ``x_i`` under the parameters being trained,
``(γ, q)`` of the last refresh held fixed (no gradient through the solver), ``P_i`` the
interactions labelled non-generalizable (``G = 0``) at the last refresh and ``w`` per-order
weights (default 1). :func:`refresh_penalty` recomputes ``(γ, q, P)`` every R steps in one
sweep and one batched solve; :func:`penalty` is pure JAX, called inside the user's jitted step.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import check_int, check_real, num_players_of
from interjax.analyze import AnalysisSettings, generalization_labels, generalization_profile
from interjax.evaluate import (
    LogOdds,
    Model,
    evaluate,
    from_nnx,
    log_odds,
    mask_inputs,
    stack_models,
)
from interjax.masks import Players, coalition_sizes
from interjax.solve import (
    PDHG,
    SGD,
    HiGHS,
    check_fit_settings,
    fit_and_or,
    fold_or_into_and,
    salient_mask,
)
from interjax.transform import and_interactions, or_interactions

__all__ = [
    "PenaltyConfig",
    "PenaltyState",
    "penalty",
    "penalty_memory",
    "refresh_penalty",
]

SCOPES = ("salient", "all")


@dataclasses.dataclass(frozen=True)
class PenaltyConfig:
    """Settings of the penalty on non-generalizable interactions, checked when made.

    ``loss = task_loss + lam · penalty(model, state)``; the state is refreshed every
    ``refresh_every`` steps on ``num_samples`` samples of the batch (docs/method.md §6; He et al.
    2025, arXiv:2505.06993).

    Attributes:
      lam: weight λ ≥ 0 of the penalty (choose it on a validation split).
      num_samples: m, samples of a batch whose interactions are penalized (each costs 2**n
        forwards and their backward pass per step).
      refresh_every: R ≥ 1, steps between two refreshes of labels, γ and q (:meth:`due`).
      scope: ``"salient"`` (default) penalizes the target's salient interactions that no
        baseline shares (G = 0); ``"all"`` penalizes every non-empty (S, kind) that no baseline
        has salient, salient for the target or not.
      order_weights: ``None`` (all 1) or n+1 weights ``w_k ≥ 0``, one per order ``|S| = k``.
      settings: the fits and labels (:class:`interjax.analyze.AnalysisSettings`: ``q_ratio``,
        salient ``ratio``, ``same_sign``, the solver's ``tol`` and ``max_iters``).
      solver: the refresh's solver object (:class:`interjax.PDHG`, :class:`interjax.SGD`,
        :class:`interjax.HiGHS`); ``None``: ``settings.solver`` (PDHG at ``settings.tol``).
      memory_budget: bytes the penalty's m × 2**n forwards and backward may take
        (:func:`penalty_memory`); ``None``: half of the device's free memory.

    Example:
      >>> import interjax as ij
      >>> cfg = ij.train.PenaltyConfig(lam=0.1, num_samples=4, refresh_every=25)
      >>> cfg.due(0), cfg.due(10), cfg.due(50)
      (True, False, True)
      >>> ij.train.PenaltyConfig(lam=-1.0)
      Traceback (most recent call last):
      ...
      ValueError: lam must be a finite number >= 0 (the weight of the penalty in the loss, e.g. 0.1), got -1.0
    """  # noqa: E501

    lam: float = 0.1
    num_samples: int = 8
    refresh_every: int = 50
    scope: str = "salient"
    order_weights: tuple[float, ...] | None = None
    settings: AnalysisSettings = dataclasses.field(default_factory=AnalysisSettings)
    memory_budget: int | None = None
    solver: PDHG | SGD | HiGHS | None = None

    def __post_init__(self):
        check_real("lam", self.lam, low=0.0, what="the weight of the penalty in the loss, e.g. 0.1")
        check_int("num_samples", self.num_samples, what="m, samples of a batch penalized, e.g. 8")
        check_int("refresh_every", self.refresh_every, what="R, steps between refreshes, e.g. 50")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.order_weights is not None:
            w = tuple(
                check_real(f"order_weights[{k}]", x, low=0.0, what="a weight per order |S|")
                for k, x in enumerate(self.order_weights)
            )
            object.__setattr__(self, "order_weights", w)
        if not isinstance(self.settings, AnalysisSettings):
            raise TypeError(
                "settings must be an interjax.analyze.AnalysisSettings, got "
                f"{type(self.settings).__name__}"
            )
        if self.memory_budget is not None:
            check_int("memory_budget", self.memory_budget, what="bytes, e.g. 2**30")
        if self.solver is not None:
            check_fit_settings(self.settings.q_ratio, solver=self.solver)

    def due(self, step: int) -> bool:
        """Whether ``step`` is a refresh step: ``step % refresh_every == 0``."""
        return int(step) % self.refresh_every == 0


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PenaltyState:
    """What :func:`penalty` needs between two refreshes: a pytree (a jitted step taking it as
    an argument compiles once; a refresh gives new arrays of the same shapes).

    Shapes, for m samples, ``N = 2**n`` coalitions, kind axis AND = 0, OR = 1:

    Attributes:
      x: ``(m, *input_shape)`` the penalized samples; targets: ``(m,)`` their labels (the value
        is the log-odds of the label, as in the analysis).
      mask_value: the value of masked elements (a scalar, one input, or ``(m, *input_shape)``).
      gamma, q: ``(m, N)`` the AND-OR split of the last refresh (held fixed).
      penalized: ``(m, 2, N)`` bool, the interactions whose strength is penalized (G = 0).
      order_weights: ``(n+1,)`` weight of each order.
      interactions, salient, generalizable: ``(m, 2, N)`` the target's fits and labels at the
        refresh (for logging: :attr:`power`, :attr:`nongeneralizable_strength`).
      sample_ids: ``(m,)`` ids of the samples (the caller's, or their rows in the batch).
      players: static :class:`interjax.Players`; fold: static, the fit's fold.

    Example:
      >>> import interjax as ij
      >>> [f.name for f in __import__("dataclasses").fields(ij.train.PenaltyState)][:4]
      ['x', 'targets', 'mask_value', 'gamma']
    """

    x: jax.Array
    targets: jax.Array
    mask_value: jax.Array
    gamma: jax.Array
    q: jax.Array
    penalized: jax.Array
    order_weights: jax.Array
    interactions: jax.Array
    salient: jax.Array
    generalizable: jax.Array
    sample_ids: jax.Array
    players: Players = dataclasses.field(metadata={"static": True})
    fold: str = dataclasses.field(default="singletons", metadata={"static": True})

    @property
    def power(self) -> jax.Array:
        """Generalization power ``H = Σ_{Ω,G=1}|I| / Σ_Ω|I|`` of the m samples at the refresh."""
        return generalization_profile(
            self.interactions, self.salient, self.generalizable, sample_axis=0
        ).power

    @property
    def nongeneralizable_strength(self) -> jax.Array:
        """Mean over the m samples of ``Σ_{Ω,G=0}|I|`` at the refresh."""
        mask = self.salient & ~self.generalizable
        return jnp.where(mask, jnp.abs(self.interactions), 0.0).sum((-2, -1)).mean()


def _as_model(model) -> Model:
    """An :class:`interjax.Model` of one parameter set (NNX modules through ``from_nnx``)."""
    if isinstance(model, Model):
        if model.num_stacked:
            raise ValueError(
                "the model is stacked (several parameter sets); pass the one being trained"
            )
        return model
    try:
        from flax import nnx
    except ImportError:  # pragma: no cover - flax is a dependency
        nnx = None
    if nnx is not None and isinstance(model, nnx.Module):
        return from_nnx(model, output=log_odds(target=0))
    raise TypeError(
        "model must be a flax.nnx.Module or an interjax Model (ij.from_fn / ij.from_linen), got "
        f"{type(model).__name__}"
    )


def _masked_values(model: Model, state: PenaltyState) -> jax.Array:
    """``(m, 2**n)`` log-odds of each sample's label on its 2**n masked inputs, as
    :func:`interjax.evaluate` computes them (the refresh uses it), but as one batch of m · 2**n
    inputs through ``model.apply``: differentiating evaluate's chunk loop (``lax.map``) ran
    about 10x slower on CPU (a CNN on digits, n = 8, m = 8: 0.60 s against 0.057 s per step).
    """
    players, x, b = state.players, state.x, state.mask_value
    n = players.n
    ids = jnp.arange(2**n, dtype=jnp.int32)
    emap = players.element_map(tuple(x.shape[1:]))
    keep = players.background == "keep"
    per_sample = b.ndim == x.ndim
    masked = jax.vmap(
        lambda xi, bi: mask_inputs(ids, xi, bi, emap, n, keep),
        in_axes=(0, 0 if per_sample else None),
    )(x, b)  # (m, 2**n, *input_shape)
    out = model.apply(model.params, masked.reshape(-1, *masked.shape[2:]))
    out = out.reshape(*masked.shape[:2], *out.shape[1:])
    v = jax.vmap(lambda o, t: jax.vmap(LogOdds(target=t))(o))(out, state.targets)
    return v.astype(jax.dtypes.canonicalize_dtype(jnp.float64))


def penalty(model, state: PenaltyState) -> jax.Array:
    """The mean strength of the interactions labelled non-generalizable, differentiable in the
    model's parameters (docs/method.md §6, a reconstruction of He et al. 2025,
    arXiv:2505.06993, Eq. 11-12):

        penalty = (1/m) Σ_i Σ_{(S,kind) penalized} w_{|S|} |I_kind(S | x_i)|,
        I_and = Möbius((v+q)/2 + γ),  I_or = OR((v+q)/2 - γ),  (γ, q) = stop_gradient(state)

    with ``v`` ``(m, 2**n)`` the current model's log-odds on the masked samples (one sweep of
    :func:`interjax.evaluate`'s masks, one batch through the model, gradients flow through
    it) and the fit's fold of ∅/singleton OR
    terms into AND. Pure JAX: call it inside an ``nnx.jit``/``jax.jit`` training step, e.g.
    ``task + cfg.lam * ij.train.penalty(model, state)`` under ``nnx.value_and_grad``; with a
    pure ``fn(params, x)`` pass ``ij.from_fn(fn, params, output=...)`` built from the traced
    params. Costs m · 2**n forwards and their backward pass.

    Args:
      model: the model being trained: a ``flax.nnx.Module`` (read in inference mode, as the
        refresh read it) or an :class:`interjax.Model`.
      state: :class:`PenaltyState` from :func:`refresh_penalty`.

    Returns:
      A scalar (the dtype of the values: float64 with x64 on, else float32).

    Example:
      >>> import jax, jax.numpy as jnp, interjax as ij
      >>> fn = lambda w, x: jnp.stack([jnp.zeros(len(x)), x[:, 0] * x[:, 1] * w], -1)
      >>> model = ij.from_fn(fn, jnp.asarray(2.0), output=ij.log_odds(target=1))
      >>> x, y = jnp.ones((1, 2)), jnp.array([1])
      >>> base = ij.from_fn(fn, jnp.asarray(0.0), output=ij.log_odds(target=1))  # learns nothing
      >>> exact = ij.analyze.AnalysisSettings(q_ratio=0.0)  # no error allowance q
      >>> cfg = ij.train.PenaltyConfig(num_samples=1, settings=exact, solver=ij.HiGHS())
      >>> state = ij.train.refresh_penalty(model, x, y, [base], ij.Players.features(2), config=cfg)
      >>> state.penalized[0].astype(int).tolist()  # AND {0, 1} is salient, no baseline shares it
      [[0, 0, 0, 1], [0, 0, 0, 0]]
      >>> round(float(ij.train.penalty(model, state)), 4)  # |I_and({0, 1})| = 2 (log-odds)
      2.0
      >>> grad = jax.grad(lambda w: ij.train.penalty(model.with_params(w), state))
      >>> round(float(grad(2.0)), 4)  # γ held fixed: half of a change of v goes to the AND part
      0.5
    """
    if not isinstance(state, PenaltyState):
        raise TypeError(
            "state must be the PenaltyState of ij.train.refresh_penalty, got "
            f"{type(state).__name__}"
        )
    return _penalty(_as_model(model), state)


@jax.jit
def _penalty(model: Model, state: PenaltyState) -> jax.Array:
    """:func:`penalty` as one program (inlined into a caller's jit; eagerly, one compilation
    instead of one per operation)."""
    n = state.players.n
    v = _masked_values(model, state)
    gamma = jax.lax.stop_gradient(state.gamma).astype(v.dtype)
    half = (v + jax.lax.stop_gradient(state.q).astype(v.dtype)) / 2
    and_, or_ = fold_or_into_and(
        and_interactions(half + gamma), or_interactions(half - gamma), state.fold
    )
    weights = state.order_weights.astype(v.dtype)[coalition_sizes(n)]
    strength = jnp.abs(jnp.stack([and_, or_], axis=-2)) * weights
    return jnp.where(state.penalized, strength, 0.0).sum((-2, -1)).mean()


def _intermediate_bytes(jaxpr) -> int:
    """Bytes of every value a jaxpr computes (nested jaxprs included): what a backward pass may
    keep."""
    total = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            shape = getattr(var.aval, "shape", None)
            if shape is not None:
                total += math.prod(shape) * np.dtype(var.aval.dtype).itemsize
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    total += _intermediate_bytes(inner)
    return total


def penalty_memory(model, x, players: Players, num_samples: int) -> dict:
    """Bytes one penalized step needs for the m × 2**n masked inputs, their activations (kept
    for the backward pass) and the value and interaction arrays; estimated by tracing the
    model (no compilation, no computation).

        per input = input bytes (and its cotangent) + Δ activations (traced at batch 2 minus 1)
        total = m · 2**n · per input + m · 2**n · 8 bytes · 8 (values, transforms, cotangents)

    Args:
      model: a ``flax.nnx.Module`` or :class:`interjax.Model`; x: ``(B, *input_shape)`` a batch
        (only its shape and dtype are read); players: :class:`interjax.Players`;
      num_samples: m.

    Returns:
      ``{"per_input": ..., "inputs": m·2**n, "total": ...}`` in bytes.

    Example:
      >>> import jax.numpy as jnp, interjax as ij
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.ones((4, 2)), output=ij.logit(0))
      >>> mem = ij.train.penalty_memory(model, jnp.ones((8, 4)), ij.Players.features(4), 2)
      >>> mem["inputs"], mem["total"] > mem["inputs"] * 4 * 4
      (32, True)
    """
    model = _as_model(model)
    shape, dtype = tuple(np.shape(x)[1:]), jnp.result_type(x)

    def traced(batch):
        probe = jax.ShapeDtypeStruct((batch, *shape), dtype)
        return _intermediate_bytes(jax.make_jaxpr(model.apply)(model.params, probe).jaxpr)

    per_input = max(traced(2) - traced(1), 0) + 2 * math.prod(shape) * np.dtype(dtype).itemsize
    inputs = num_samples * 2**players.n
    return {"per_input": per_input, "inputs": inputs, "total": inputs * (per_input + 64)}


def _free_bytes() -> int:
    """Free memory of the default device (host memory for CPU)."""
    stats = {}
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # CPU backends may not implement memory_stats
        pass
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _baseline_params(target: Model, baselines) -> list:
    """The parameters of each baseline, refused (naming it and the leaves that differ) when it
    is not of the target's architecture."""
    if isinstance(baselines, Model | str | bytes) or not isinstance(baselines, Sequence):
        raise TypeError("baselines must be a list of the K baseline models (NNX modules or Models)")
    if not len(baselines):
        raise ValueError("need at least one baseline model (trained on data the target never saw)")
    params = []
    for k, base in enumerate(baselines):
        if not isinstance(base, Model):
            try:
                base = _as_model(base)  # an NNX module
            except TypeError:
                base = target.with_params(base)  # a parameter pytree of the target's apply
        if base.apply != target.apply:
            raise ValueError(
                f"baseline {k} is of another architecture than the model (its apply function "
                "or NNX graph differs); baselines must be the model's architecture trained on "
                "data the target never saw"
            )
        leaves, tree = jax.tree.flatten(target.params)
        b_leaves, b_tree = jax.tree.flatten(base.params)
        diff = (
            [f"tree {b_tree} vs {tree}"]
            if b_tree != tree
            else [
                f"leaf {i}: {tuple(np.shape(b))} vs {tuple(np.shape(a))}"
                for i, (a, b) in enumerate(zip(leaves, b_leaves, strict=True))
                if np.shape(a) != np.shape(b)
            ]
        )
        if diff:
            raise ValueError(
                f"baseline {k} is of another architecture than the model ({'; '.join(diff[:3])}"
                "); baselines must be the model's architecture trained on unseen data"
            )
        params.append(base.params)
    return params


def _check_order_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n + 1)
    if len(weights) != n + 1:
        raise ValueError(
            f"order_weights has {len(weights)} entries but n = {n} players need n + 1 = {n + 1} "
            "(one per order |S| = 0 … n)"
        )
    return np.asarray(weights, float)


@functools.partial(jax.jit, static_argnames=("ratio", "same_sign", "scope"))
def _labels(fit, *, ratio: float, same_sign: bool, scope: str):
    """Interactions ``(K+1, m, 2, N)``, salient masks, the model's labels G and the penalized
    mask of a fit of the model (row 0) and K baselines (one program, not one per operation)."""
    inter = jnp.stack([fit.and_, fit.or_], axis=-2)
    sal = salient_mask(fit, ratio=ratio)
    kwargs = {"same_sign": same_sign, "target_values": inter[0], "baseline_values": inter[1:]}
    gen = generalization_labels(sal[0], sal[1:], **kwargs)
    if scope == "salient":
        return inter, sal, gen, sal[0] & ~gen
    # every non-empty (S, kind) that no baseline has salient (of the same sign)
    shared = generalization_labels(jnp.ones_like(sal[0]), sal[1:], **kwargs)
    n = num_players_of(inter.shape[-1])
    return inter, sal, gen, ~shared & (coalition_sizes(n) > 0)


def refresh_penalty(
    model,
    x,
    y,
    baselines: Sequence[Any],
    players: Players,
    *,
    config: PenaltyConfig = PenaltyConfig(),
    mask_value=None,
    sample_ids=None,
) -> PenaltyState:
    """Labels, γ and q of the penalized samples, in one sweep and one batched solve: the first
    ``config.num_samples`` rows of the batch ``x`` are evaluated under the model and the K
    baselines (one stacked :func:`interjax.evaluate`), fitted together (one
    :func:`interjax.fit_and_or` of (K+1)·m value vectors), thresholded
    (:func:`interjax.salient_mask`) and labelled
    (:func:`interjax.analyze.generalization_labels`); docs/method.md §4, §6 (He et al. 2025,
    arXiv:2505.06993). Every check runs before any work.

    Args:
      model: the model being trained (``flax.nnx.Module`` or :class:`interjax.Model`).
      x, y: ``(B, *input_shape)`` a training batch and ``(B,)`` its integer labels; B ≥ m.
      baselines: the K baseline models of the model's architecture (NNX modules, Models, or
        parameter pytrees of the model's apply), trained on data the model never saw
        (:func:`interjax.analyze.train_baselines`).
      players: :class:`interjax.Players` of one input.
      config: :class:`PenaltyConfig`.
      mask_value: as in :func:`interjax.evaluate` (a scalar, one input, or one per batch row).
      sample_ids: ``(B,)`` ids of the batch's rows (e.g. their indices in the training set),
        kept in the state; default ``0 … m-1``.

    Returns:
      :class:`PenaltyState`.

    Raises:
      ValueError: m larger than the batch; a baseline of another architecture; labels that do
        not match the batch; order weights of the wrong length. MemoryError: the penalty's
        m × 2**n inputs do not fit ``config.memory_budget`` (:func:`penalty_memory`).

    Example:
      >>> import jax.numpy as jnp, interjax as ij
      >>> fn = lambda w, x: jnp.stack([jnp.zeros(len(x)), x @ w], -1)
      >>> model = ij.from_fn(fn, jnp.array([1.0, 2.0, 0.0]), output=ij.logit(1))
      >>> bases = [jnp.array([1.0, 0.0, 0.0])]  # parameters of the same fn
      >>> x, y = jnp.ones((4, 3)), jnp.ones(4, int)
      >>> cfg = ij.train.PenaltyConfig(num_samples=2, solver=ij.HiGHS())  # default: ij.PDHG
      >>> state = ij.train.refresh_penalty(model, x, y, bases, ij.Players.features(3), config=cfg)
      >>> state.gamma.shape, state.penalized.shape
      ((2, 8), (2, 2, 8))
      >>> [int(i) for i in state.penalized[0, 0].nonzero()[0]]  # {1} (index 2): not shared
      [2]
    """
    if not isinstance(config, PenaltyConfig):
        raise TypeError(f"config must be an ij.train.PenaltyConfig, got {type(config).__name__}")
    if not isinstance(players, Players):
        raise TypeError(f"players must be an ij.Players, got {type(players).__name__}")
    target = _as_model(model)
    shape = np.shape(x)
    m = config.num_samples
    if len(shape) < 1 or shape[0] < m:
        raise ValueError(
            f"num_samples m = {m} is larger than the batch (x of shape {shape}); pass a batch "
            f"of at least {m} samples or lower PenaltyConfig.num_samples"
        )
    y = np.asarray(y)
    if y.shape != (shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must hold the batch's integer labels, shape ({shape[0]},), got {y.dtype} "
            f"of shape {y.shape}"
        )
    base_params = _baseline_params(target, baselines)
    weights = _check_order_weights(config.order_weights, players.n)
    budget = config.memory_budget or _free_bytes() // 2
    need = penalty_memory(target, x, players, m)
    if need["total"] > budget:
        raise MemoryError(
            f"the penalty needs about {need['total'] / 2**30:.2f} GiB per step (m = {m} samples "
            f"× 2**{players.n} masked inputs, {need['per_input']} bytes each with activations "
            f"for the backward pass) but the budget is {budget / 2**30:.2f} GiB. Use fewer "
            "players, fewer samples (num_samples) or a larger memory_budget."
        )
    x_m, y_m = jnp.asarray(x)[:m], y[:m]
    if mask_value is not None and np.shape(mask_value) == shape:
        mask_value = jnp.asarray(mask_value)[:m]  # one mask value per batch row
    ids = np.arange(m) if sample_ids is None else np.asarray(sample_ids)[:m]
    settings = config.settings
    stacked = stack_models(target, [target.params, *base_params])
    out = log_odds(target=y_m)
    v = evaluate(stacked.with_output(out), x_m, players, mask_value=mask_value, batched=True)
    fit = fit_and_or(v, settings.q_ratio, solver=config.solver or settings.solver)
    inter, sal, gen, penalized = _labels(
        fit, ratio=settings.ratio, same_sign=settings.same_sign, scope=config.scope
    )
    b = np.zeros((), np.asarray(x_m).dtype) if mask_value is None else mask_value
    return PenaltyState(
        x=x_m,
        targets=jnp.asarray(y_m),
        mask_value=jnp.asarray(b, x_m.dtype),
        gamma=fit.gamma[0],
        q=fit.q[0],
        penalized=penalized,
        order_weights=jnp.asarray(weights),
        interactions=inter[0],
        salient=sal[0],
        generalizable=gen,
        sample_ids=jnp.asarray(ids),
        players=players,
        fold=fit.fold,
    )
