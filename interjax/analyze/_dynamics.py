"""Dynamics over training: the three phases, the loss gap and the removal experiment
(He et al. 2025, arXiv:2505.06993; docs/method.md §5).

The paper reads the three phases off figures. interjax detects them with the following stated
rule on curves over checkpoints, each smoothed by a centred moving average of ``window``
checkpoints (edges padded with the nearest value):

* ``GS(t)``, ``NG(t)``: generalizable and non-generalizable salient strength (means over
  samples), and ``H(t) = GS / (GS + NG)``, the generalization power.

Phase 1 (noisy, non-generalizable interactions are discarded and simple generalizable ones
learned, so ``H`` rises) ends at the first local maximum of ``H`` that is followed by a fall of at
least ``rise`` (default 10%) of ``H``'s range: boundary ``b1``. Phase 3 (mostly non-generalizable
interactions are learned) starts at the first checkpoint ``b2 ≥ b1`` from which ``NG`` grows at
least ``dominance`` (default 2) times as fast as ``GS`` for ``persist`` (default 2) consecutive
intervals. Phase 2 lies in between (it may be short). Absolute strengths are not compared across
checkpoints for phase 1 because they grow with the size of the network's outputs. If ``H`` never
rises and falls, or ``NG`` never comes to dominate the growth, the detector says so
(``found=False`` with the reason) instead of inventing boundaries; the smoothed curves and the
criteria are returned with the boundaries, so a reader can check them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from interjax._core import check_int, check_real

__all__ = ["LossGap", "Phases", "detect_phases", "loss_gap", "removal_experiment", "smooth"]


def _curve(y, name: str, length: int | None = None) -> np.ndarray:
    """A ``(T,)`` curve over checkpoints as float64; its length must match the others'."""
    try:
        a = np.asarray(y, np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numbers over checkpoints, (T,): {err}") from None
    if a.ndim != 1:
        raise ValueError(
            f"{name} must be one number per checkpoint, shape (T,), got shape {a.shape}"
            + ("; sum over kinds and orders first" if a.ndim > 1 else "")
        )
    if length is not None and len(a) != length:
        raise ValueError(
            f"{name} has {len(a)} entries but steps has {length}: pass one per checkpoint"
        )
    return a


def _steps(steps) -> tuple[int, ...]:
    a = np.asarray(steps)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise ValueError(
            f"steps must be the checkpoints' training steps, ints of shape (T,), got "
            f"{a.dtype} of shape {a.shape}"
        )
    return tuple(int(s) for s in a)


def smooth(y, window: int = 3) -> np.ndarray:
    """Centred moving average over ``window`` points, edges padded with the end values.

        s_t = (1/w) Σ_{j=0}^{w-1} y_{clip(t - ⌊w/2⌋ + j, 0, T-1)}

    (with ``w = window``); the curves of the phase detector (docs/method.md §5) are smoothed so.

    Args:
      y: ``(T,)`` values over checkpoints.
      window: ``w``; ``≤ 1`` (or fewer than 3 points) returns a copy of ``y``.

    Returns:
      ``(T,)`` float64.

    Example:
      >>> from interjax.analyze import smooth
      >>> smooth([0.0, 3.0, 0.0, 3.0], window=3).tolist()
      [1.0, 1.0, 2.0, 2.0]
    """
    y = _curve(y, "y")
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise TypeError(f"window must be an int (checkpoints averaged), got {window!r}")
    if window <= 1 or len(y) < 3:
        return y.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, y[0]), y, np.full(window - 1 - half, y[-1])])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


@dataclasses.dataclass(frozen=True)
class Phases:
    """Result of :func:`detect_phases` (indices into the checkpoint list, and their steps).

    Attributes:
      found: whether all three phases were found; ``reason`` says why not.
      end_of_phase1, start_of_phase3: checkpoint indices ``b1``, ``b2`` (or ``None``);
        :attr:`boundary_steps` gives their training steps.
      steps: ``(T,)`` training steps.
      power_smoothed, nongeneralizable_smoothed, generalizable_smoothed: ``(T,)`` the smoothed
        curves ``H``, ``NG`` and ``GS`` the rule was applied to (the evidence).
      window, rise, dominance, persist: the rule's parameters; :meth:`as_dict` also states the
        rule in words (docs/method.md §5).

    Example:
      >>> from interjax.analyze import detect_phases
      >>> ph = detect_phases([0, 10, 20], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
      >>> ph.found, ph.reason, ph.boundary_steps
      (False, 'only 3 checkpoints: need at least 4', (None, None))
      >>> ph.as_dict()["rule"][:40]
      'phase 1 ends at the first local maximum '
    """

    found: bool
    reason: str
    end_of_phase1: int | None
    start_of_phase3: int | None
    steps: tuple[int, ...]
    power_smoothed: tuple[float, ...]
    nongeneralizable_smoothed: tuple[float, ...]
    generalizable_smoothed: tuple[float, ...]
    window: int
    rise: float
    dominance: float
    persist: int

    @property
    def boundary_steps(self) -> tuple[int | None, int | None]:
        def at(i):
            return None if i is None else self.steps[i]

        return at(self.end_of_phase1), at(self.start_of_phase3)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["boundary_steps"] = list(self.boundary_steps)
        d["rule"] = (
            f"phase 1 ends at the first local maximum of the smoothed generalization power H "
            f"followed by a fall of >= {self.rise:.0%} of its range; phase 3 starts at the first "
            f"later checkpoint from which the non-generalizable strength grows >= "
            f"{self.dominance:g}x as fast as the generalizable strength for {self.persist} "
            f"consecutive intervals (moving average over {self.window} checkpoints)"
        )
        return d


def detect_phases(
    steps,
    nongeneralizable,
    generalizable,
    *,
    window: int = 3,
    rise: float = 0.1,
    dominance: float = 2.0,
    persist: int = 2,
) -> Phases:
    """Detect the three phases from per-checkpoint strengths (see the module docstring).

    With ``GS``, ``NG`` smoothed by :func:`smooth` and ``H = GS / (GS + NG)``: phase 1 ends at
    the first local maximum ``b1`` of ``H`` followed by a fall ``≥ rise · (max H - min H)``;
    phase 3 starts at the first ``b2 ≥ b1`` from which ``ΔNG > 0`` and
    ``ΔNG ≥ dominance · max(ΔGS, 0)`` for ``persist`` consecutive intervals (He et al. 2025,
    arXiv:2505.06993; docs/method.md §5).

    Args:
      steps: ``(T,)`` training steps of the checkpoints (T ≥ 4 for a result).
      nongeneralizable, generalizable: ``(T,)`` salient strengths ``NG``, ``GS`` (means over
        samples, e.g. from :func:`generalization_profile` summed over kinds and orders).
      window, rise, dominance, persist: the rule's parameters.

    Returns:
      :class:`Phases`, with the smoothed ``(T,)`` curves as evidence.

    Example:
      >>> from interjax.analyze import detect_phases
      >>> steps = [0, 100, 200, 300, 400, 500, 600, 700]
      >>> gs = [1.0, 2.0, 3.0, 4.0, 5.0, 5.5, 6.0, 6.5]
      >>> ng = [3.0, 2.0, 1.0, 1.5, 2.5, 5.0, 8.0, 11.0]
      >>> ph = detect_phases(steps, ng, gs, window=1)
      >>> ph.found, ph.boundary_steps
      (True, (200, 400))
      >>> [round(h, 2) for h in ph.power_smoothed][:4]
      [0.25, 0.5, 0.75, 0.73]
    """
    steps = _steps(steps)
    ng_raw = _curve(nongeneralizable, "nongeneralizable", len(steps))
    gs_raw = _curve(generalizable, "generalizable", len(steps))
    window = check_int("window", window, what="checkpoints in the moving average, e.g. 3")
    rise = check_real("rise", rise, low=0.0, high=1.0, what="a share of H's range, e.g. 0.1")
    dominance = check_real("dominance", dominance, low=0.0, what="a growth ratio, e.g. 2")
    persist = check_int("persist", persist, what="consecutive intervals, e.g. 2")
    ng, gs = smooth(ng_raw, window), smooth(gs_raw, window)
    total = ng + gs
    h = np.where(total > 0, gs / np.where(total > 0, total, 1.0), 0.0)
    common = dict(
        steps=steps,
        power_smoothed=tuple(map(float, h)),
        nongeneralizable_smoothed=tuple(map(float, ng)),
        generalizable_smoothed=tuple(map(float, gs)),
        window=window,
        rise=rise,
        dominance=dominance,
        persist=persist,
    )
    if len(steps) < 4:
        return Phases(
            False, f"only {len(steps)} checkpoints: need at least 4", None, None, **common
        )
    bad = np.flatnonzero(~(np.isfinite(ng_raw) & np.isfinite(gs_raw)))
    if bad.size:
        return Phases(
            False,
            f"the strengths are NaN or infinite at checkpoints {bad[:5].tolist()} (steps "
            f"{[steps[i] for i in bad[:5]]}): no phases can be read off",
            None,
            None,
            **common,
        )
    span = float(h.max() - h.min())
    b1 = None
    for i in range(1, len(h) - 1):
        if (
            h[i] >= h[i - 1]
            and h[i] >= h[i + 1]
            and span > 0
            and h[i] - h[: i + 1].min() >= rise * span
            and h[i] - h[i + 1 :].min() >= rise * span
        ):
            b1 = i
            break
    if b1 is None:
        trend = "only rises" if h[-1] >= h.max() - rise * span else "never rises before falling"
        return Phases(
            False, f"no phase-1 boundary: the generalization power {trend}", None, None, **common
        )
    d_ng, d_gs = np.diff(ng), np.diff(gs)
    dominant = (d_ng > 0) & (d_ng >= dominance * np.maximum(d_gs, 0.0))
    b2 = None
    for i in range(b1, len(dominant) - persist + 1):
        if dominant[i : i + persist].all():
            b2 = i
            break
    if b2 is None:
        return Phases(
            False,
            "the generalization power peaks, but the non-generalizable "
            f"strength never grows {dominance:g}x as fast as the generalizable one "
            "afterwards (no phase 3)",
            b1,
            None,
            **common,
        )
    return Phases(True, "three phases found", b1, b2, **common)


@dataclasses.dataclass(frozen=True)
class LossGap:
    """How the train-test loss gap relates to the non-generalizable strength over training.

    Attributes:
      gap: ``(T,)`` ``test loss - train loss`` per checkpoint.
      correlation: Pearson correlation over checkpoints of the gap with the non-generalizable
        strength (nan if either is constant).
      onset_index, onset_step: first checkpoint (index, step) where the gap reaches
        ``onset_fraction`` of its maximum, or ``None`` (docs/method.md §5).
      onset_fraction: that fraction.

    Example:
      >>> from interjax.analyze import loss_gap
      >>> lg = loss_gap([0, 10, 20], [0.7, 0.5, 0.2], [0.7, 0.7, 0.6], [0.0, 0.5, 2.0])
      >>> [round(g, 2) for g in lg.gap], lg.onset_step, round(lg.correlation, 2)
      ([0.0, 0.2, 0.4], 10, 0.96)
    """

    gap: tuple[float, ...]
    correlation: float  # Pearson, over checkpoints, gap vs non-generalizable strength
    onset_index: int | None  # first checkpoint where the gap exceeds onset_fraction of its max
    onset_step: int | None
    onset_fraction: float


def loss_gap(
    steps, train_loss, test_loss, nongeneralizable, *, onset_fraction: float = 0.25
) -> LossGap:
    """Gap ``test - train`` per checkpoint, its correlation with the non-generalizable strength,
    and its onset (first checkpoint where it exceeds ``onset_fraction`` of its maximum).

        gap_t = L_test(t) - L_train(t),  ρ = Pearson_t(gap_t, NG_t),
        onset = min{t : gap_t ≥ onset_fraction · max_t gap_t}

    (He et al. 2025, arXiv:2505.06993; docs/method.md §5: the onset is compared with the end of
    phase 1).

    Args:
      steps, train_loss, test_loss, nongeneralizable: ``(T,)`` each, per checkpoint.
      onset_fraction: the onset threshold relative to the largest gap.

    Returns:
      :class:`LossGap`.

    Example:
      >>> from interjax.analyze import loss_gap
      >>> train, test = [1.0, 0.5, 0.3, 0.1], [1.0, 0.8, 0.8, 0.9]
      >>> lg = loss_gap([0, 10, 20, 30], train, test, [0.0, 1.0, 2.0, 3.0])
      >>> lg.onset_index, lg.onset_step, round(lg.correlation, 3)
      (1, 10, 0.997)
    """
    steps = _steps(steps)
    if not steps:
        raise ValueError("loss_gap needs at least one checkpoint; steps is empty")
    train = _curve(train_loss, "train_loss", len(steps))
    test = _curve(test_loss, "test_loss", len(steps))
    ng = _curve(nongeneralizable, "nongeneralizable", len(steps))
    onset_fraction = check_real(
        "onset_fraction", onset_fraction, low=0.0, high=1.0, low_open=True, what="e.g. 0.25"
    )
    gap = test - train
    corr = float(np.corrcoef(gap, ng)[0, 1]) if gap.std() > 0 and ng.std() > 0 else float("nan")
    onset = None
    if gap.max() > 0:
        above = np.flatnonzero(gap >= onset_fraction * gap.max())
        onset = int(above[0]) if above.size else None
    return LossGap(
        tuple(map(float, gap)),
        corr,
        onset,
        None if onset is None else steps[onset],
        onset_fraction,
    )


def removal_experiment(v_full, nongeneralizable_sum):
    """Cross-entropy before and after removing the non-generalizable interactions.

    On the unmasked input every interaction is active, so removing the non-generalizable salient
    ones gives ``ṽ(x) = v(x) - Σ_{(S,kind)∈Ω, G=0} I_kind(S|x)``; with ``v`` the log-odds of the
    true class, ``p̃_y = sigmoid(ṽ)`` and the loss is ``-log p̃_y = softplus(-ṽ)``.

    Args:
      v_full: ``(...)`` log-odds of the true class on the full inputs.
      nongeneralizable_sum: ``(...)`` sum of the non-generalizable salient interactions.

    Returns:
      ``(loss_before, loss_after)``, same shape, elementwise (float64).

    Example:
      >>> from interjax.analyze import removal_experiment
      >>> before, after = removal_experiment([2.0, 0.5], [1.5, -1.0])
      >>> before.round(3).tolist(), after.round(3).tolist()
      ([0.127, 0.474], [0.474, 0.201])
    """
    v = np.asarray(v_full, np.float64)
    removed = np.asarray(nongeneralizable_sum, np.float64)
    try:
        fits = np.broadcast_shapes(removed.shape, v.shape) == v.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"nongeneralizable_sum of shape {removed.shape} does not fit v_full of shape "
            f"{v.shape}: pass one sum per full-input value (same shape)"
        )
    v_removed = v - removed
    return np.logaddexp(0.0, -v), np.logaddexp(0.0, -v_removed)
