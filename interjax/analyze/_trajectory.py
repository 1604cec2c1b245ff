"""The analysis of a training run: every checkpoint and every baseline model on the same
samples, through one compiled sweep and one batched solve (docs/method.md §4-5).

Values of all checkpoints (stacked parameters) and all analysed samples come from a single call
of :func:`interjax.evaluate`; the AND-OR fits of all (checkpoint, sample) pairs from a single
batched :func:`interjax.fit_and_or`; nothing loops in Python per mask or per sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from interjax._core import check_int, num_players_of
from interjax.analyze._generalization import generalization_labels
from interjax.evaluate import Model, evaluate, log_odds, stack_models
from interjax.masks import Players
from interjax.solve import PDHG, check_fit_settings, check_salient_rule, fit_and_or, salient_mask

__all__ = [
    "AnalysisSettings",
    "ModelFits",
    "Trajectory",
    "check_samples",
    "check_token_inputs",
    "fit_models",
    "fit_salient",
    "label_fits",
    "trajectory",
]


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """The settings that decide an analysis's numbers: the one set of defaults, used by
    :func:`trajectory`, ``interjax analyze`` and ``interjax demo`` alike (docs/method.md,
    "Defaults of the analysis").

    Attributes:
      q_ratio: error allowance of each AND-OR fit, relative to ``|v(N) - v(∅)|`` (0.02, the
        lab's code).
      ratio: salient threshold, ``|I| ≥ ratio · max |I|`` (0.05, the paper).
      same_sign: a baseline model must also agree on the interaction's sign (off, as the paper).
      tol: certified relative gap at which each fit stops: 1e-2, not the 1e-3 of a single
        :func:`interjax.fit_and_or` call. The analysis needs the salient sets, which a 1% gap
        leaves essentially unchanged, while some fits need many more iterations for 1e-3 (one
        baseline fit of the demo's breast-cancer run needed over 50k).
      max_iters: iteration cap of each fit (20 000); the largest gap reached is reported.
      iterate_dtype: dtype of the solver's iterations, ``None`` for that of the values.
      order_weight: the solver's order weight (:class:`interjax.PDHG`): ``None`` (default)
        probes the weight of n and 1.0 on each fit; a float runs that weight alone, which
        saves the probe's extra iterations where the kind of values is known (the weight of n,
        1.2 up to n = 10 and 1.25 beyond, for network values; 1.0 for noise-like ones). It
        changes the iterations, not the optimum, but where the optimum is not unique it can
        change which optimal split a fit returns, so it is part of a run's settings.
      group_size: checkpoints per stage of a resumable run (one sweep and one batched solve
        each); does not change the numbers.

    Example:
      >>> from interjax.analyze import AnalysisSettings
      >>> s = AnalysisSettings(tol=1e-3)
      >>> s.tol, s.max_iters, s.as_dict()["precision"] in ("float32", "float64")
      (0.001, 20000, True)
    """

    q_ratio: float = 0.02
    ratio: float = 0.05
    same_sign: bool = False
    tol: float = 1e-2
    max_iters: int = 20_000
    iterate_dtype: str | None = None
    order_weight: float | None = None
    group_size: int = 10

    def __post_init__(self):
        check_fit_settings(self.q_ratio, solver=self.solver)  # tol, max_iters and dtype too
        check_salient_rule(ratio=self.ratio)
        check_int("group_size", self.group_size, what="checkpoints per stage, e.g. 10")
        solver = self.solver
        object.__setattr__(self, "iterate_dtype", solver.iterate_dtype)
        object.__setattr__(self, "order_weight", solver.order_weight)

    @property
    def solver(self) -> PDHG:
        """The certified solver of every fit:
        ``PDHG(tol, max_iters, iterate_dtype, order_weight)``."""
        return PDHG(
            tol=self.tol,
            max_iters=self.max_iters,
            iterate_dtype=self.iterate_dtype,
            order_weight=self.order_weight,
        )

    def as_dict(self) -> dict:
        """The settings as JSON, with the precision of the transforms (``float64`` when JAX's
        x64 mode is on, else ``float32``): what a resumed run must not mix. The order weight
        appears only when one is set, so runs begun before it was a setting (all of them
        probing) keep their fingerprint and resume."""
        settings = {
            **dataclasses.asdict(self),
            "iterate_dtype": str(self.iterate_dtype),
            "precision": str(jax.dtypes.canonicalize_dtype(np.float64)),
        }
        if self.order_weight is None:
            del settings["order_weight"]
        return settings


@dataclasses.dataclass(frozen=True)
class ModelFits:
    """Values, AND-OR interactions, salient masks and certified gaps of M models on B samples.

    Shapes: ``values`` ``(M, B, N)``, ``interactions`` and ``salient`` ``(M, B, 2, N)`` (AND at
    index 0, OR at 1 of the kind axis), ``relative_gap`` ``(M, B)``; ``N = 2**n``. From
    :func:`fit_models`.

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import ModelFits
      >>> z = np.zeros((1, 2, 8))
      >>> fits = ModelFits(z, np.zeros((1, 2, 2, 8)), np.zeros((1, 2, 2, 8), bool), z[..., 0])
      >>> sorted(fits.arrays())
      ['interactions', 'relative_gap', 'salient', 'values']
    """

    values: np.ndarray
    interactions: np.ndarray
    salient: np.ndarray
    relative_gap: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def concatenate(cls, parts: Sequence[ModelFits]) -> ModelFits:
        """The fits of several groups of models, one after the other on the model axis."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in _FIELDS))


_FIELDS = dataclasses.fields(ModelFits)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Interactions of the target at every checkpoint and of every baseline, on B samples.

    Shapes: T checkpoints, K baselines, B samples, N = 2**n coalitions; interactions are
    ``(..., 2, N)`` with AND at index 0 and OR at index 1 of the kind axis. ``generalizable`` is
    the label ``G`` of docs/method.md §4 (He et al. 2025, arXiv:2505.06993); :meth:`arrays` gives
    every array field by name (for ``arrays.npz``).

    Example:
      T = 2 checkpoints of a linear model on n = 3 features, K = 1 baseline, B = 2 samples:

      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> bases = [jnp.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> traj = trajectory(
      ...     model, ckpts, bases, x, y, ij.Players.features(3), steps=[0, 10], is_test=[0, 1]
      ... )
      >>> traj.interactions.shape, traj.baseline_salient.shape, traj.relative_gap.shape
      ((2, 2, 2, 8), (1, 2, 2, 8), (2, 2))
      >>> sorted(traj.arrays())[:3]
      ['baseline_interactions', 'baseline_relative_gap', 'baseline_salient']
    """

    steps: np.ndarray  # (T,)
    is_test: np.ndarray  # (B,) True for held-out samples
    targets: np.ndarray  # (B,)
    values: np.ndarray  # (T, B, N) target values v
    interactions: np.ndarray  # (T, B, 2, N)
    salient: np.ndarray  # (T, B, 2, N)
    generalizable: np.ndarray  # (T, B, 2, N)
    baseline_interactions: np.ndarray  # (K, B, 2, N)
    baseline_salient: np.ndarray  # (K, B, 2, N)
    relative_gap: np.ndarray  # (T, B) certified gap of each target fit
    baseline_relative_gap: np.ndarray  # (K, B)
    settings: dict

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "settings"
        }


def fit_salient(v, q_ratio, tol, max_iters, ratio, iterate_dtype=None, order_weight=None):
    """Batched AND-OR fits of ``v`` as host arrays: interactions ``(..., 2, N)`` (AND, OR),
    salient mask ``(..., 2, N)`` and certified relative gap ``(...)``.

    ``v = v_and + v_or`` split by :func:`interjax.fit_and_or` (docs/method.md §3), then stacked as
    ``[I_and, I_or]`` on the kind axis and thresholded by :func:`interjax.salient_mask`
    (``|I| ≥ ratio · max |I|``, docs/method.md §4).

    Args:
      v: ``(..., N)`` values, ``N = 2**n``.
      q_ratio: as in :func:`interjax.fit_and_or`; tol, max_iters, iterate_dtype,
        order_weight: the :class:`interjax.PDHG` solver's.
      ratio: the salient threshold relative to the strongest interaction.

    Returns:
      ``(interactions, salient, relative_gap)`` NumPy arrays of shapes ``(..., 2, N)``,
      ``(..., 2, N)`` and ``(...)``.

    Example:
      Values with AND {0, 1} = 2 and OR {1, 2} = 1 (n = 3), batched over 3 models × 2 samples:

      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import fit_salient
      >>> v = ij.reconstruct(jnp.zeros(8).at[3].set(2.0), jnp.zeros(8).at[6].set(1.0))
      >>> v = jnp.broadcast_to(v, (3, 2, 8))
      >>> inter, sal, gap = fit_salient(v, q_ratio=0.0, tol=1e-3, max_iters=50_000, ratio=0.05)
      >>> inter.shape, sal.shape, gap.shape, bool((gap <= 1e-3).all())
      ((3, 2, 2, 8), (3, 2, 2, 8), (3, 2), True)
      >>> np.flatnonzero(sal[0, 0, 0]).tolist(), np.flatnonzero(sal[0, 0, 1]).tolist()
      ([3], [6])
    """
    solver = PDHG(
        tol=tol, max_iters=max_iters, iterate_dtype=iterate_dtype, order_weight=order_weight
    )
    return _fit_salient(v, q_ratio, solver, ratio)


def _fit_salient(v, q_ratio, solver: PDHG, ratio):
    """:func:`fit_salient` with the solver given whole (the analysis passes
    ``AnalysisSettings.solver``, its one definition of the solver)."""
    check_salient_rule(ratio=ratio)  # before the fit, not after it
    fit = fit_and_or(v, q_ratio=q_ratio, solver=solver)
    inter = jnp.stack([fit.and_, fit.or_], axis=-2)
    return (
        np.asarray(inter),
        np.asarray(salient_mask(fit, ratio=ratio)),
        np.asarray(fit.relative_gap),
    )


def check_token_inputs(players: Players, x, *, shared_embedding: bool = False) -> None:
    """Refuse token players on pre-embedded inputs across several models.

    Over a run every checkpoint and every baseline model embeds tokens with its own embedding
    table, so embedded inputs ``(B, L, D)`` computed with one model are wrong inputs for all
    the others (the values drift by whole log-odds at early checkpoints). The recipe: pass the
    token ids ``(B, L)`` with ``baseline=MASK_ID`` to a model that embeds them, so each model
    embeds the masked sequence itself. ``shared_embedding=True`` states that every model uses
    the same frozen embedding, which makes embedded inputs valid.

    Example:
      >>> import numpy as np, interjax as ij
      >>> from interjax.analyze import check_token_inputs
      >>> check_token_inputs(ij.Players.tokens(4), np.zeros((2, 4), np.int32))  # ids: fine
      >>> try:
      ...     check_token_inputs(ij.Players.tokens(4), np.zeros((2, 4, 8), np.float32))
      ... except ValueError as err:
      ...     print(str(err)[:60])
      token players on embedded inputs of shape (2, 4, 8): every c
    """
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype
    if players.kind != "tokens" or jnp.issubdtype(dtype, jnp.integer) or shared_embedding:
        return
    raise ValueError(
        f"token players on embedded inputs of shape {tuple(np.shape(x))}: every checkpoint "
        "and baseline model embeds tokens with its own table, so inputs embedded by one model "
        "are wrong for the others. Pass the token ids (B, L) with baseline=<mask token id> and "
        "a model that embeds them (each model then embeds the masked sequence itself), or "
        "shared_embedding=True if all models share one frozen embedding."
    )


def fit_models(
    model: Model,
    param_groups: Sequence[Sequence[Any]],
    x,
    y,
    players: Players,
    *,
    mask_value=None,
    settings: AnalysisSettings = AnalysisSettings(),
    chunk_size: int | None = None,
) -> list[ModelFits]:
    """Evaluate and fit groups of models of one architecture on the same samples: the one
    implementation of the analysis's evaluation and fits.

    Each group is one stacked sweep of :func:`interjax.evaluate` (the value is the log-odds of
    each sample's label ``y``); the fits of all groups are one batched
    :func:`interjax.fit_and_or` (the solver's lanes stay busy), thresholded by ``settings.ratio``
    (:func:`fit_salient`).

    Args:
      model: the architecture (its parameters are replaced by each parameter set).
      param_groups: groups of parameter sets, e.g. ``[checkpoint_params, baseline_params]``.
      x, y: ``(B, ...)`` samples and ``(B,)`` integer labels.
      players, mask_value, chunk_size: as in :func:`interjax.evaluate`.
      settings: :class:`AnalysisSettings`.

    Returns:
      One :class:`ModelFits` per group, ``(M_g, B, ...)``.

    Example:
      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import fit_models
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> w = jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
      >>> x, y = jnp.ones((2, 3)), np.array([0, 1])
      >>> a, b = fit_models(model, [[w, 2 * w], [w]], x, y, ij.Players.features(3))
      >>> a.values.shape, a.interactions.shape, b.relative_gap.shape
      ((2, 2, 8), (2, 2, 2, 8), (1, 2))
    """
    out = log_odds(target=np.asarray(y))
    values = [
        np.asarray(
            evaluate(
                stack_models(model.with_output(out), list(group)),
                x,
                players,
                mask_value=mask_value,
                chunk_size=chunk_size,
                batched=True,
            )
        )
        for group in param_groups
    ]
    inter, sal, gap = _fit_salient(
        np.concatenate(values), settings.q_ratio, settings.solver, settings.ratio
    )
    cuts = np.cumsum([len(v) for v in values])[:-1]
    return [
        ModelFits(v, *parts)
        for v, *parts in zip(values, *(np.split(a, cuts) for a in (inter, sal, gap)), strict=True)
    ]


def label_fits(
    checkpoints: ModelFits,
    baselines: ModelFits,
    *,
    steps: Sequence[int],
    targets,
    is_test=None,
    settings: AnalysisSettings = AnalysisSettings(),
) -> Trajectory:
    """A :class:`Trajectory` from the fits of T checkpoints and K baseline models on the same
    B samples: the label ``G`` of each salient interaction (:func:`generalization_labels`).

    Example:
      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import fit_models, label_fits
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> w = jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
      >>> x, y = jnp.ones((2, 3)), np.array([0, 1])
      >>> ckpt, base = fit_models(model, [[w], [w]], x, y, ij.Players.features(3))
      >>> traj = label_fits(ckpt, base, steps=[10], targets=y)
      >>> bool((traj.generalizable == traj.salient).all())  # the same model: all generalize
      True
    """
    gen = np.asarray(
        generalization_labels(
            checkpoints.salient,
            baselines.salient[:, None],
            same_sign=settings.same_sign,
            target_values=checkpoints.interactions,
            baseline_values=baselines.interactions[:, None],
        )
    )
    targets = np.asarray(targets)
    return Trajectory(
        steps=np.asarray(steps),
        is_test=np.zeros(len(targets), bool) if is_test is None else np.asarray(is_test, bool),
        targets=targets,
        values=checkpoints.values,
        interactions=checkpoints.interactions,
        salient=checkpoints.salient,
        generalizable=gen,
        baseline_interactions=baselines.interactions,
        baseline_salient=baselines.salient,
        relative_gap=checkpoints.relative_gap,
        baseline_relative_gap=baselines.relative_gap,
        settings={
            **settings.as_dict(),
            "n": num_players_of(checkpoints.values.shape[-1]),
            "num_baselines": len(baselines.values),
        },
    )


def check_samples(x, y, is_test=None) -> np.ndarray:
    """Refuse, before any work, samples ``x`` ``(B, ...)``, labels ``y`` ``(B,)`` (integers)
    and ``is_test`` ``(B,)`` that do not describe the same B samples; returns ``y``.

    Example:
      >>> import numpy as np
      >>> from interjax.analyze import check_samples
      >>> check_samples(np.zeros((2, 3)), np.array([0, 1])).tolist()
      [0, 1]
    """
    y = np.asarray(y)
    x_shape = np.shape(x)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must be the samples' integer labels, shape (B,), got {y.dtype} of shape {y.shape}"
        )
    if len(x_shape) < 1 or x_shape[0] != len(y):
        raise ValueError(
            f"x of shape {x_shape} and y of shape {y.shape} must hold the same B samples: x is "
            "(B, ...) and y (B,)"
        )
    if is_test is not None and np.shape(is_test) != y.shape:
        raise ValueError(
            f"is_test of shape {np.shape(is_test)} must mark each of the {len(y)} samples, "
            f"shape ({len(y)},)"
        )
    return y


def trajectory(
    model: Model,
    checkpoint_params: Sequence[Any],
    baseline_params: Sequence[Any],
    x,
    y,
    players: Players,
    *,
    steps: Sequence[int],
    is_test=None,
    mask_value=None,
    baseline=None,
    settings: AnalysisSettings | None = None,
    chunk_size: int | None = None,
    shared_embedding: bool = False,
    **overrides,
) -> Trajectory:
    """Values, AND-OR fits, salient sets and generalization labels over a training run.

    :func:`fit_models` of the checkpoints and the baseline models (one sweep per group, one
    batched solve), then :func:`label_fits`; the resumable run of ``interjax analyze`` calls
    the same two functions per group of checkpoints.

    Args:
      model: the target's architecture (from :func:`interjax.from_nnx` & co.); its parameters
        are replaced by each checkpoint's. The value is the log-odds of each sample's label.
      checkpoint_params: the target's parameters at each step (e.g. from
        :meth:`interjax.checkpoints.CheckpointSource.restore_many`).
      baseline_params: the K baseline models' parameters (same architecture).
      x, y: ``(B, ...)`` analysed samples and their labels; ``is_test`` marks held-out ones.
      players, mask_value: as in :func:`interjax.evaluate` (``baseline=`` is the old name of
        ``mask_value``).
      settings: :class:`AnalysisSettings` (default ``AnalysisSettings()``); keyword
        ``overrides`` (``q_ratio=``, ``ratio=``, ``same_sign=``, ``tol=``, ``max_iters=``,
        ``iterate_dtype=``, ``order_weight=``) replace single fields.
      steps: ``(T,)`` training step of each checkpoint; chunk_size: as in
        :func:`interjax.evaluate`.
      shared_embedding: with token players, ``x`` may be embedded inputs only if every model
        shares one frozen embedding (:func:`check_token_inputs`); otherwise pass token ids
        with ``mask_value`` the mask token's id.

    Returns:
      :class:`Trajectory` with values ``(T, B, N)``, interactions, salient masks and labels
      ``G`` ``(T, B, 2, N)``, the baselines' ``(K, B, 2, N)`` (He et al. 2025,
      arXiv:2505.06993; docs/method.md §4).

    Example:
      A linear model on n = 3 features at T = 2 checkpoints, K = 1 baseline, B = 2 samples. At
      step 10 sample 0 has the salient AND interactions {0} (index 1) and {1} (index 2); only
      {0} is also salient for the baseline, so only it is generalizable:

      >>> import jax.numpy as jnp, numpy as np, interjax as ij
      >>> from interjax.analyze import trajectory
      >>> model = ij.from_fn(lambda w, x: x @ w, jnp.zeros((3, 2)), output=ij.log_odds(1))
      >>> ckpts = [jnp.zeros((3, 2)), jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])]
      >>> bases = [jnp.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])]
      >>> x, y = jnp.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]]), np.array([1, 0])
      >>> traj = trajectory(
      ...     model, ckpts, bases, x, y, ij.Players.features(3), steps=[0, 10], is_test=[0, 1]
      ... )
      >>> traj.values.shape, traj.generalizable.shape
      ((2, 2, 8), (2, 2, 2, 8))
      >>> np.flatnonzero(traj.salient[1, 0, 0]).tolist()
      [1, 2]
      >>> np.flatnonzero(traj.generalizable[1, 0, 0]).tolist()
      [1]
    """
    settings = dataclasses.replace(settings or AnalysisSettings(), **overrides)
    mask_value = _one_mask_value(mask_value, baseline)
    y = check_samples(x, y, is_test)
    if not len(checkpoint_params):
        raise ValueError("checkpoint_params is empty: pass the target's parameters per step")
    if len(checkpoint_params) != len(steps):
        raise ValueError(f"{len(checkpoint_params)} parameter sets for {len(steps)} steps")
    if not baseline_params:
        raise ValueError("need at least one baseline model to label generalizable interactions")
    check_token_inputs(players, x, shared_embedding=shared_embedding)
    checkpoints, baselines = fit_models(
        model,
        [checkpoint_params, baseline_params],
        x,
        y,
        players,
        mask_value=mask_value,
        settings=settings,
        chunk_size=chunk_size,
    )
    return label_fits(
        checkpoints, baselines, steps=steps, targets=y, is_test=is_test, settings=settings
    )


def _one_mask_value(mask_value, baseline):
    """``mask_value``, or ``baseline`` (its old name); both given is an error."""
    if mask_value is not None and baseline is not None:
        raise TypeError(
            "pass the value of absent players once: mask_value= (baseline= is its alias)"
        )
    return baseline if mask_value is None else mask_value
