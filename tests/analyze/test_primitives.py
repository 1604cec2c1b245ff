"""Generalization labels, profiles, phase detection, loss gap and removal, by definition."""

import numpy as np
import pytest

import interjax as ij
from interjax import analyze

N = 4


def test_labels_against_the_definition():
    rng = np.random.default_rng(0)
    target = rng.random((5, 2, 2**N)) < 0.3
    base = rng.random((3, 5, 2, 2**N)) < 0.3
    g = np.asarray(analyze.generalization_labels(target, base))
    for idx in np.ndindex(target.shape):
        want = target[idx] and any(base[(k, *idx)] for k in range(3))
        assert g[idx] == want
    tv, bv = rng.normal(size=target.shape), rng.normal(size=base.shape)
    gs = np.asarray(
        analyze.generalization_labels(
            target, base, same_sign=True, target_values=tv, baseline_values=bv
        )
    )
    for idx in np.ndindex(target.shape):
        want = target[idx] and any(
            base[(k, *idx)] and np.sign(bv[(k, *idx)]) == np.sign(tv[idx]) for k in range(3)
        )
        assert gs[idx] == want
    with pytest.raises(ValueError, match="must be"):
        analyze.generalization_labels(target, base[:, :4])


def test_profile_sums_by_kind_and_order():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 2, 2**N))
    sal = rng.random(values.shape) < 0.5
    gen = rng.random(values.shape) < 0.5
    prof = analyze.generalization_profile(values, sal, gen)
    order = ij.orders(N)
    for b in range(3):
        for kind in range(2):
            for k in range(N + 1):
                sel = order == k
                g = sal[b, kind] & gen[b, kind] & sel
                ng = sal[b, kind] & ~gen[b, kind] & sel
                assert np.isclose(
                    prof.generalizable_strength[b, kind, k], np.abs(values[b, kind][g]).sum()
                )
                assert np.isclose(
                    prof.nongeneralizable_strength[b, kind, k], np.abs(values[b, kind][ng]).sum()
                )
                assert prof.generalizable_count[b, kind, k] == g.sum()
    h = np.asarray(prof.power)
    gsum = np.asarray(prof.generalizable_strength).sum((1, 2))
    np.testing.assert_allclose(
        h, gsum / (gsum + np.asarray(prof.nongeneralizable_strength).sum((1, 2)))
    )
    mean = analyze.generalization_profile(values, sal, gen, sample_axis=0)
    np.testing.assert_allclose(
        mean.generalizable_strength, np.asarray(prof.generalizable_strength).mean(0)
    )


def test_phases_found_on_a_three_phase_pattern():
    steps = list(range(0, 120, 10))
    # H = GS / (GS + NG) rises until index 3 (phase 1), then NG grows slowly with GS (phase 2),
    # then NG grows much faster than GS from index 6 on (phase 3)
    gs = np.array([1, 2, 3, 4, 5, 5.8, 6.4, 6.8, 7, 7.1, 7.2, 7.3])
    ng = np.array([4, 3, 2.5, 2, 2.6, 3.2, 3.8, 5.5, 7.5, 10, 13, 16])
    ph = analyze.detect_phases(steps, ng, gs, window=1)
    assert ph.found, ph.reason
    assert ph.end_of_phase1 == 3
    h = gs / (gs + ng)
    assert h[3] == h.max()
    assert ph.start_of_phase3 == 6
    assert ph.boundary_steps == (30, 60)
    assert "phase 1 ends" in ph.as_dict()["rule"]


@pytest.mark.parametrize(
    ("gs", "ng", "reason"),
    [
        ([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 1], "only rises"),
        ([3, 3, 3, 3, 3, 3], [1, 2, 3, 4, 5, 6], "never rises"),
        ([1, 2, 4, 5, 6, 7], [1, 1, 1.2, 2, 2.6, 3.3], "no phase 3"),
    ],
)
def test_phases_not_found_is_said(gs, ng, reason):
    ph = analyze.detect_phases(range(len(ng)), ng, gs, window=1)
    assert not ph.found and reason in ph.reason


def test_loss_gap_and_removal():
    steps = [0, 1, 2, 3, 4]
    train = np.array([1.0, 0.6, 0.4, 0.2, 0.1])
    test = np.array([1.0, 0.7, 0.6, 0.7, 0.9])
    ng = test - train + 0.05
    lg = analyze.loss_gap(steps, train, test, ng, onset_fraction=0.2)
    assert np.isclose(lg.correlation, 1.0)
    assert lg.onset_step == 2  # gap 0.2 >= 20% of the max 0.8, and 0.1 is not
    before, after = analyze.removal_experiment(np.array([2.0, -1.0]), np.array([1.0, -2.0]))
    np.testing.assert_allclose(before, -np.log(1 / (1 + np.exp(-np.array([2.0, -1.0])))))
    np.testing.assert_allclose(after, -np.log(1 / (1 + np.exp(-np.array([1.0, 1.0])))))
