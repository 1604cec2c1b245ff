"""Generalization labels, the generalization power and the phases, against their definitions
(issue 17, item 4; docs/method.md §4 and §5).

* G: a salient (S, kind) of the target is generalizable iff at least one baseline has the same
  (S, kind) salient on the same sample (with ``same_sign`` also with the same sign of I). The
  oracle loops over every entry and every baseline.
* H = Σ_{salient, G} |I| / Σ_{salient} |I|, NaN when nothing is salient; pooled over samples as a
  ratio of sums. The oracle uses ``fractions.Fraction`` on integer interactions.
* ``detect_phases``: curves planted so that the phase boundaries are known by construction (and
  curves with no phase 3 or no phase-1 peak), plus random curves with exact (dyadic) values
  against the rule as docs/method.md §5 words it.
"""

import math
from fractions import Fraction

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from interjax import analyze

SETTINGS = settings(max_examples=40, deadline=None)


# -- G -------------------------------------------------------------------------------------------


def labels_oracle(target, baselines, same_sign=False, tv=None, bv=None) -> np.ndarray:
    """G by its definition, entry by entry (baselines broadcast over their size-1 axes)."""
    k_count = baselines.shape[0]
    base = np.broadcast_to(baselines, (k_count, *target.shape))
    if same_sign:
        bv = np.broadcast_to(bv, (k_count, *target.shape))
    out = np.zeros(target.shape, bool)
    for idx in np.ndindex(target.shape):
        if not target[idx]:
            continue
        for k in range(k_count):
            shared = base[(k, *idx)]
            if same_sign:
                shared = shared and np.sign(bv[(k, *idx)]) == np.sign(tv[idx])
            if shared:
                out[idx] = True
                break
    return out


@st.composite
def label_inputs(draw):
    """Target masks ``(samples, checkpoints, 2, 2**n) = (2, 3, 2, 2**n)``, K baselines that vary
    over samples only (checkpoint axis of size 1) or over both, and small integer interactions
    (zeros included, so that sign 0 is exercised). Few distinct shapes: each one compiles."""
    n = draw(st.sampled_from([1, 3]))
    k = draw(st.sampled_from([1, 3]))
    shape = (2, 3, 2, 2**n)
    bshape = (k, 2, 1 if draw(st.booleans()) else 3, 2, 2**n)
    dtype = draw(st.sampled_from([np.bool_, np.bool_, np.int8]))  # 0/1 integers are masks too
    target = draw(hnp.arrays(dtype, shape, elements=st.integers(0, 1)))
    baselines = draw(hnp.arrays(dtype, bshape, elements=st.integers(0, 1)))
    tv = draw(hnp.arrays(np.float64, shape, elements=st.integers(-2, 2).map(float)))
    bv = draw(hnp.arrays(np.float64, bshape, elements=st.integers(-2, 2).map(float)))
    return target, baselines, tv, bv


@SETTINGS
@given(inputs=label_inputs(), same_sign=st.booleans())
def test_labels_equal_the_definition(inputs, same_sign):
    target, baselines, tv, bv = inputs
    kwargs = {"same_sign": True, "target_values": tv, "baseline_values": bv} if same_sign else {}
    got = np.asarray(analyze.generalization_labels(target, baselines, **kwargs))
    want = labels_oracle(target.astype(bool), baselines.astype(bool), same_sign, tv, bv)
    assert got.dtype == bool and got.shape == target.shape
    np.testing.assert_array_equal(got, want)
    assert not (got & ~target.astype(bool)).any(), "G only on the target's salient set"


def test_labels_compare_the_same_kind_and_the_same_set():
    """n = 2: the target has AND {0,1}, OR {0}, AND {1}; baseline 1 has OR {0,1} (other kind),
    baseline 2 has AND {0} (other set) and OR {0}; nothing else is shared."""
    target = np.zeros((2, 4), bool)
    target[0, 3] = target[1, 1] = target[0, 2] = True
    b1 = np.zeros((2, 4), bool)
    b1[1, 3] = True
    b2 = np.zeros((2, 4), bool)
    b2[0, 1] = b2[1, 1] = True
    g = np.asarray(analyze.generalization_labels(target, np.stack([b1, b2])))
    assert np.argwhere(g).tolist() == [[1, 1]]
    assert not np.asarray(analyze.generalization_labels(target, b1[None])).any()
    # with same_sign: OR {0} is -1 for the target, +1 for baseline 2, so not generalizable
    tv, bv = np.zeros((2, 4)), np.zeros((2, 2, 4))
    tv[1, 1], bv[1, 1, 1] = -1.0, 1.0
    g = analyze.generalization_labels(
        target, np.stack([b1, b2]), same_sign=True, target_values=tv, baseline_values=bv
    )
    assert not np.asarray(g).any()
    bv[0, 1, 1] = -1.0  # baseline 1 has the sign but not the salient OR {0}: still not
    g = analyze.generalization_labels(
        target, np.stack([b1, b2]), same_sign=True, target_values=tv, baseline_values=bv
    )
    assert not np.asarray(g).any()
    bv[1, 1, 1] = -3.0  # now baseline 2 agrees in sign
    g = analyze.generalization_labels(
        target, np.stack([b1, b2]), same_sign=True, target_values=tv, baseline_values=bv
    )
    assert np.argwhere(np.asarray(g)).tolist() == [[1, 1]]


# -- H -------------------------------------------------------------------------------------------


def power_oracle(values, salient, labels, sample_axis=None) -> np.ndarray:
    """H = Σ_{Ω, G} |I| / Σ_Ω |I| over kinds and sets (and samples), NaN if Σ_Ω |I| = 0."""
    lead = values.shape[:-2]
    pooled = () if sample_axis is None else (sample_axis % values.ndim,)
    out = np.full(tuple(d for i, d in enumerate(lead) if i not in pooled), np.nan)
    for key in np.ndindex(out.shape):
        num = den = Fraction(0)
        for idx in np.ndindex(lead):
            if tuple(x for i, x in enumerate(idx) if i not in pooled) != key:
                continue
            for kind_set in np.ndindex(values.shape[-2:]):
                full = (*idx, *kind_set)
                if salient[full]:
                    m = abs(Fraction(float(values[full])))
                    den += m
                    num += m if labels[full] else 0
        out[key] = math.nan if den == 0 else float(num / den)
    return out


@SETTINGS
@given(inputs=label_inputs(), same_sign=st.booleans(), pooled=st.booleans())
def test_power_equals_the_definition(inputs, same_sign, pooled):
    target, baselines, tv, bv = inputs
    target = target.astype(bool)
    kwargs = {"same_sign": True, "baseline_interactions": bv} if same_sign else {}
    axis = 0 if pooled else None
    h = np.asarray(analyze.generalization_power(tv, target, baselines, sample_axis=axis, **kwargs))
    labels = labels_oracle(target, baselines.astype(bool), same_sign, tv, bv)
    want = power_oracle(tv, target, labels, sample_axis=axis)
    assert h.shape == want.shape
    np.testing.assert_allclose(h, want, rtol=1e-12, equal_nan=True)
    # the profile's H (means over samples: the same ratio) agrees
    prof = analyze.generalization_profile(tv, target, labels, sample_axis=axis)
    np.testing.assert_allclose(prof.power, want, rtol=1e-12, equal_nan=True)


def test_power_by_hand():
    """Two samples, n = 1: sample 0 has AND {0} = 3 (generalizable) and OR {0} = -1 (not);
    sample 1 has only OR {0} = 2, not generalizable. Per sample H = 3/4 and 0; pooled over
    samples a ratio of sums, 3/6 (not the mean of the ratios, 3/8).
    Nothing salient: NaN. A salient interaction with I = 0 adds nothing."""
    values = np.array([[[0.0, 3.0], [0.0, -1.0]], [[0.0, 0.0], [0.0, 2.0]]])
    salient = values != 0
    base = np.zeros((1, 2, 2, 2), bool)
    base[0, 0, 0, 1] = True
    h = analyze.generalization_power(values, salient, base)
    np.testing.assert_allclose(h, [0.75, 0.0])
    assert float(analyze.generalization_power(values, salient, base, sample_axis=0)) == 0.5
    assert np.isnan(analyze.generalization_power(values, np.zeros_like(salient), base)).all()
    zero_salient = salient.copy()
    zero_salient[0, 0, 0] = True  # ∅ with I = 0 marked salient: H unchanged
    np.testing.assert_allclose(analyze.generalization_power(values, zero_salient, base), h)
    jitted = jax.jit(analyze.generalization_power)(values, salient, base)
    np.testing.assert_allclose(jitted, [0.75, 0.0])


# -- phases: planted curves -----------------------------------------------------------------------


def planted(b1: int, b2: int, length: int):
    """GS and NG over ``length`` checkpoints with phase 1 ending at ``b1`` and phase 3 starting
    at ``b2`` (``b2 >= length - 2`` plants no phase 3 for persist = 2):

    * intervals before b1: GS +1, NG −1 (H strictly rises; NG falls, so it does not dominate);
    * intervals from b1 to b2: GS +1, NG +1.5 (H falls; NG grows, but less than 2× GS);
    * intervals from b2 on: GS +0.25, NG +4 (NG grows 16× as fast: dominant).
    """
    gs, ng = [1.0], [1.0 + b1]
    for i in range(length - 1):  # interval i: checkpoint i -> i + 1
        dgs, dng = (1.0, -1.0) if i < b1 else (1.0, 1.5) if i < b2 else (0.25, 4.0)
        gs.append(gs[-1] + dgs)
        ng.append(ng[-1] + dng)
    return np.array(gs), np.array(ng)


PLANTED = [(1, 3, 8), (2, 5, 10), (3, 3, 9), (4, 8, 12), (1, 1, 5), (5, 6, 9)]


@pytest.mark.parametrize(("b1", "b2", "length"), PLANTED)
def test_planted_boundaries_are_found(b1, b2, length):
    gs, ng = planted(b1, b2, length)
    h = gs / (gs + ng)
    # the construction's premises: H strictly up to b1, strictly down after it
    assert (np.diff(h[: b1 + 1]) > 0).all() and (np.diff(h[b1:]) < 0).all()
    steps = [7 * i * i for i in range(length)]  # irregular steps: boundaries are indices
    ph = analyze.detect_phases(steps, ng, gs, window=1)
    assert ph.found, ph.reason
    assert (ph.end_of_phase1, ph.start_of_phase3) == (b1, b2)
    assert ph.boundary_steps == (steps[b1], steps[b2])
    np.testing.assert_allclose(ph.power_smoothed, h, rtol=1e-15)


@pytest.mark.parametrize(("b1", "length"), [(1, 6), (3, 8), (2, 9)])
def test_no_phase_3_is_said_with_the_phase_1_boundary(b1, length):
    gs, ng = planted(b1, length, length)  # NG never grows 2x as fast as GS
    ph = analyze.detect_phases(range(length), ng, gs, window=1)
    assert not ph.found and "no phase 3" in ph.reason
    assert (ph.end_of_phase1, ph.start_of_phase3) == (b1, None)
    # dominance for one interval only (the last): not enough with persist = 2, enough with 1
    gs, ng = planted(b1, length - 2, length)
    ph = analyze.detect_phases(range(length), ng, gs, window=1)
    assert not ph.found and ph.start_of_phase3 is None
    ph = analyze.detect_phases(range(length), ng, gs, window=1, persist=1)
    assert ph.found and (ph.end_of_phase1, ph.start_of_phase3) == (b1, length - 2)


def test_dominance_before_the_peak_does_not_start_phase_3():
    """NG grows 5x as fast as GS at the very start (H falls), then H rises to a peak at index 4
    and falls with NG growing only 1.5x: phase 3 must start at or after b1, so none."""
    gs = np.array([10.0, 10.5, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])
    ng = np.array([1.0, 3.5, 6.0, 4.0, 2.0, 3.5, 5.0, 6.5])
    h = gs / (gs + ng)
    assert np.argmax(h[2:]) + 2 == 4 and h[2] == h[:5].min()
    ph = analyze.detect_phases(range(8), ng, gs, window=1)
    assert ph.end_of_phase1 == 4 and ph.start_of_phase3 is None and not ph.found


@pytest.mark.parametrize(
    ("h", "reason"),
    [
        ([0.1, 0.2, 0.3, 0.5, 0.6, 0.9], "only rises"),
        ([0.9, 0.8, 0.6, 0.5, 0.3, 0.1], "never rises before falling"),
        ([0.5, 0.5, 0.5, 0.5, 0.5], "no phase-1 boundary"),  # flat: no range at all
        ([0.2, 0.25, 0.6, 0.9, 0.86, 0.87, 0.88], "no phase-1 boundary"),  # fall < 10% of range
        ([0.9, 0.8, 0.7, 0.71, 0.2, 0.1], "no phase-1 boundary"),  # rise < 10% of range
    ],
)
def test_no_phase_1_peak(h, reason):
    """H is planted directly: GS = H and NG = 1 − H, so GS + NG = 1."""
    h = np.array(h)
    ph = analyze.detect_phases(range(len(h)), 1.0 - h, h, window=1)
    assert not ph.found and reason in ph.reason
    assert ph.end_of_phase1 is None and ph.start_of_phase3 is None


def test_phase_1_thresholds_are_inclusive():
    """Dyadic H (exact): at index 1, H rises 0.5 and then falls exactly 1/16 below itself (the
    lowest later value is 0.4375); the range is 1. With rise = 1/16 that peak ends phase 1; with
    1/8 it does not, and the next peak (index 4, rise 1 and fall 0.5) does. A small wiggle
    before the real peak is skipped."""
    h = np.array([0.0, 0.5, 0.4375, 0.5, 1.0, 0.5])
    args = (range(6), 1.0 - h, h)
    assert analyze.detect_phases(*args, window=1, rise=1 / 16).end_of_phase1 == 1
    assert analyze.detect_phases(*args, window=1, rise=1 / 8).end_of_phase1 == 4
    assert analyze.detect_phases(*args, window=1, rise=0.5).end_of_phase1 == 4  # fall 0.5: enough
    assert analyze.detect_phases(*args, window=1, rise=0.5 + 1 / 64).end_of_phase1 is None


def test_dominance_threshold_is_inclusive_and_needs_growth():
    """After the peak at 1: NG grows exactly 2x GS (dominant), GS falling counts as 0 growth,
    NG flat never dominates."""
    gs = np.array([1.0, 4.0, 5.0, 6.0, 5.0, 4.0])
    ng = np.array([3.0, 1.0, 3.0, 5.0, 6.0, 6.0])
    # intervals: 0 (NG falls), 1 (ΔNG 2 = 2·ΔGS 1), 2 (2 = 2·1), 3 (ΔGS < 0, ΔNG 1), 4 (ΔNG 0)
    ph = analyze.detect_phases(range(6), ng, gs, window=1, persist=3)
    assert (ph.end_of_phase1, ph.start_of_phase3) == (1, 1)
    ph = analyze.detect_phases(range(6), ng, gs, window=1, persist=3, dominance=2.0 + 1 / 64)
    assert ph.start_of_phase3 is None  # intervals 1 and 2 no longer dominate
    ph = analyze.detect_phases(range(6), ng, gs, window=1, persist=4)
    assert ph.start_of_phase3 is None  # interval 4 (NG flat) breaks the run


def test_window_smooths_gs_and_ng_before_h():
    """With window w, the rule is applied to smooth(GS), smooth(NG) and H of those; smooth is
    the centred mean of w points with the ends repeated (its formula, computed by hand here)."""
    rng = np.random.default_rng(11)
    gs, ng = rng.uniform(0.5, 5.0, 12), rng.uniform(0.5, 5.0, 12)
    for w in (2, 3, 5):
        clip = np.clip(np.arange(12)[:, None] - w // 2 + np.arange(w)[None, :], 0, 11)
        np.testing.assert_allclose(analyze.smooth(gs, w), gs[clip].mean(1), rtol=1e-13)
        ph = analyze.detect_phases(range(12), ng, gs, window=w)
        np.testing.assert_allclose(ph.generalizable_smoothed, gs[clip].mean(1), rtol=1e-13)
        np.testing.assert_allclose(ph.nongeneralizable_smoothed, ng[clip].mean(1), rtol=1e-13)
        sgs, sng = analyze.smooth(gs, w), analyze.smooth(ng, w)
        np.testing.assert_allclose(ph.power_smoothed, sgs / (sgs + sng), rtol=1e-13)
        same = analyze.detect_phases(range(12), sng, sgs, window=1)
        assert (ph.found, ph.end_of_phase1, ph.start_of_phase3) == (
            same.found,
            same.end_of_phase1,
            same.start_of_phase3,
        )
    # a planted run under the default window 3: the smoothed increment of interval i is the mean
    # of the raw ones of intervals i-1, i, i+1, so the peak stays at 4 and phase 3 is seen one
    # interval early, at 8: (1.5 + 1.5 + 4) / 3 ≥ 2 · (1 + 1 + 0.25) / 3, while interval 7's
    # (1.5 · 3) / 3 < 2 · 1
    gs, ng = planted(4, 9, 16)
    ph = analyze.detect_phases(range(16), ng, gs)
    assert ph.found and (ph.end_of_phase1, ph.start_of_phase3) == (4, 8)


# -- phases: random dyadic curves against the rule in words --------------------------------------


def phases_oracle(gs, ng, rise, dominance, persist):
    """docs/method.md §5 with window 1, in exact arithmetic: (b1, b2)."""
    gs = [Fraction(x) for x in gs]
    ng = [Fraction(x) for x in ng]
    length = len(gs)
    h = [g / (g + b) if g + b > 0 else Fraction(0) for g, b in zip(gs, ng, strict=True)]
    span = max(h) - min(h)
    need = Fraction(rise) * span
    peaks = [
        i
        for i in range(1, length - 1)
        if h[i] >= h[i - 1]
        and h[i] >= h[i + 1]  # a local maximum
        and span > 0
        and h[i] - min(h[: i + 1]) >= need  # risen enough above the lowest H before it
        and h[i] - min(h[i + 1 :]) >= need  # followed by a fall of as much
    ]
    if not peaks:
        return None, None
    b1 = peaks[0]

    def dominant(i):  # interval i -> i + 1
        dng, dgs = ng[i + 1] - ng[i], gs[i + 1] - gs[i]
        return dng > 0 and dng >= Fraction(dominance) * max(dgs, 0)

    starts = [
        i
        for i in range(b1, length - 1)
        if i + persist <= length - 1 and all(dominant(j) for j in range(i, i + persist))
    ]
    return b1, (starts[0] if starts else None)


@st.composite
def dyadic_curves(draw):
    """GS = H·2^a, NG = (1 − H)·2^a with H a multiple of 1/16: every quantity the rule compares
    is exact in floating point, so no rounding can move a boundary."""
    length = draw(st.integers(4, 10))
    h = draw(st.lists(st.integers(0, 16), min_size=length, max_size=length))
    scale = draw(st.lists(st.integers(0, 4), min_size=length, max_size=length))
    gs = np.array([j * 2.0**a / 16 for j, a in zip(h, scale, strict=True)])
    ng = np.array([(16 - j) * 2.0**a / 16 for j, a in zip(h, scale, strict=True)])
    return gs, ng


@SETTINGS
@given(
    curves=dyadic_curves(),
    rise=st.sampled_from([0.0, 1 / 16, 0.125, 0.5]),
    dominance=st.sampled_from([0.0, 1.0, 2.0, 4.0]),
    persist=st.integers(1, 3),
)
def test_phases_equal_the_rule_on_random_curves(curves, rise, dominance, persist):
    gs, ng = curves
    ph = analyze.detect_phases(
        range(len(gs)), ng, gs, window=1, rise=rise, dominance=dominance, persist=persist
    )
    b1, b2 = phases_oracle(gs, ng, rise, dominance, persist)
    assert (ph.end_of_phase1, ph.start_of_phase3) == (b1, b2)
    assert ph.found == (b1 is not None and b2 is not None)
