"""The salient rules are exactly right: complete and minimal (issue 17, item 2).

``ij.salient_mask`` / ``ij.salient`` (interjax/solve/_salient.py, docs/method.md §3) decide which
(set, kind) pairs of a fit are salient. The candidates are the pairs with S ≠ ∅ whose strength
|I| is strictly above their noise floor (an interaction *at* its floor is noise); both kinds
compete under one threshold, and every rule works on the candidates only:

* ``ratio=r``: exactly the candidates with |I| ≥ r · max over the candidates (boundary included).
* ``top_k=k``: the k strongest candidates. Tie rule (the code keeps everything at least as strong
  as the k-th strongest): every candidate tied with the k-th is kept too, so a tie at the
  boundary can give more than k, never fewer than min(k, #candidates).
* ``share=s``: the smallest strongest-first set whose strength reaches s of the candidates'
  total, ``Σ_R |I| ≥ s · Σ_C |I|`` (reaching it exactly is enough); ties with the last one
  admitted are kept, as for ``top_k``.

Both tie rules say the same: the result is the smallest *upward-closed* set of candidates (one
that holds, with any member, every candidate at least as strong) meeting the size or strength
requirement. The oracle below finds it by brute force over all subsets of the candidates, in
exact rational arithmetic (interactions are small integers, ratios and shares multiples of 1/64,
so the library's float sums are exact too). No candidate: empty, for every rule; otherwise never
empty (``share`` and ``top_k`` always admit the strongest, ``ratio`` ≤ 1 admits the maximum).
"""

from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interjax as ij
from tests.helpers import fit_of

SETTINGS = settings(max_examples=60, deadline=None)
BATCH = 2


# -- the oracle ---------------------------------------------------------------------------------


def candidates(and_, or_, floor_and, floor_or) -> dict[tuple[int, int], Fraction]:
    """``{(kind, S): |I|}`` for S ≠ ∅ with |I| strictly above its floor (one fit)."""
    out = {}
    for kind, (vals, floors) in enumerate(((and_, floor_and), (or_, floor_or))):
        for s in range(1, len(vals)):
            m = abs(Fraction(float(vals[s])))
            if m > Fraction(float(floors[s])):
                out[(kind, s)] = m
    return out


def smallest_upward_closed(cands: dict, enough) -> set:
    """Brute force over all subsets: the smallest upward-closed subset R with ``enough(R)``."""
    keys = list(cands)
    w = [cands[c] for c in keys]
    m = len(keys)
    need = [sum(1 << j for j in range(m) if w[j] >= w[i]) for i in range(m)]
    best = None
    for mask in range(1 << m):
        members = [i for i in range(m) if mask >> i & 1]
        if any(need[i] & ~mask for i in members):
            continue  # not upward closed: a stronger (or tied) candidate is missing
        if enough([w[i] for i in members]) and (best is None or len(members) < len(best)):
            best = members
    return set() if best is None else {keys[i] for i in best}


def oracle(cands: dict, *, ratio=None, top_k=None, share=None) -> set:
    if not cands:
        return set()
    if top_k is not None:
        return smallest_upward_closed(cands, lambda ws: len(ws) >= min(top_k, len(cands)))
    if share is not None:
        total = sum(cands.values())
        return smallest_upward_closed(cands, lambda ws: sum(ws) >= Fraction(share) * total)
    r = Fraction(0.05 if ratio is None else ratio)
    biggest = max(cands.values())
    return {c for c, m in cands.items() if m >= r * biggest}


def mask_to_set(mask) -> set:
    kinds, sets = np.nonzero(np.asarray(mask))
    return set(zip(kinds.tolist(), sets.tolist(), strict=True))


# -- hypothesis: random fits against the oracle --------------------------------------------------


@st.composite
def fits(draw):
    """A batch of ``BATCH`` fits at n ∈ {1, 2, 3}: small integer interactions (many zeros and
    ties) and floors that are often exactly |I| (noise) or just below it (a candidate), so the
    floor's boundary is exercised; "loud" entries are noise stronger than every candidate, which
    must not set the maximum, the top k or the total."""
    n = draw(st.sampled_from([1, 2, 3, 3]))
    size = BATCH * 2**n
    ints = st.one_of(st.just(0), st.integers(-6, 6))
    modes = st.sampled_from(["zero", "zero", "zero", "at", "below", "two", "loud"])

    def one_kind():
        vals = np.array(draw(st.lists(ints, min_size=size, max_size=size)), float)
        floors = np.zeros(size)
        for i, mode in enumerate(draw(st.lists(modes, min_size=size, max_size=size))):
            if mode == "loud":
                vals[i] = 12.0 if vals[i] >= 0 else -12.0
            if mode in ("at", "loud"):
                floors[i] = abs(vals[i])
            elif mode == "below":
                floors[i] = max(abs(vals[i]) - 0.5, 0.0)
            elif mode == "two":
                floors[i] = 2.0
        return vals.reshape(BATCH, 2**n), floors.reshape(BATCH, 2**n)

    (and_, floor_and), (or_, floor_or) = one_kind(), one_kind()
    return [and_, or_, floor_and, floor_or]


# ratios and shares: multiples of 1/64, often of 1/8 (so that |I| = r·max or a prefix sum
# = s·total happens exactly); k small enough to cut into the candidates
FRACTIONS = st.one_of(st.integers(0, 8).map(lambda j: 8 * j), st.integers(0, 64))
RULES = st.one_of(
    st.builds(lambda j: {"ratio": j / 64}, FRACTIONS),
    st.builds(lambda k: {"top_k": k}, st.integers(1, 6)),
    st.builds(lambda j: {"share": max(j, 1) / 64}, FRACTIONS),
    st.just({}),  # the default, ratio = 0.05
)


@SETTINGS
@given(arrays=fits(), rule=RULES)
def test_salient_sets_equal_the_brute_force_oracle(arrays, rule):
    and_, or_, fa, fo = arrays
    fit = fit_of(and_, or_, fa, fo)
    mask = np.asarray(ij.salient_mask(fit, **rule))
    listed = ij.salient(fit, **rule)
    assert mask.shape == (BATCH, 2, and_.shape[-1]) and mask.dtype == bool
    for b in range(BATCH):
        cands = candidates(and_[b], or_[b], fa[b], fo[b])
        want = oracle(cands, **rule)
        got = mask_to_set(mask[b])
        assert got == want, f"rule {rule}: got {sorted(got)}, want {sorted(want)}, from {cands}"
        assert bool(got) == bool(cands), "empty exactly when there is no candidate"
        # ij.salient lists the same pairs, strongest first, with their values
        s = listed[b]
        assert set(zip(s.kinds.tolist(), s.sets.tolist(), strict=True)) == want
        np.testing.assert_array_equal(s.values, np.stack([and_[b], or_[b]])[s.kinds, s.sets])
        assert (np.diff(np.abs(s.values)) <= 0).all()
        np.testing.assert_array_equal(s.orders, [bin(x).count("1") for x in s.sets])


@SETTINGS
@given(arrays=fits(), k=st.integers(1, 6), j=FRACTIONS.map(lambda j: max(j, 1)))
def test_top_k_and_share_are_minimal(arrays, k, j):
    """Minimality stated directly: dropping the weakest tie group of the result loses the
    requirement, and the result is no larger than the requirement plus the ties at its edge."""
    and_, or_, fa, fo = arrays
    fit = fit_of(and_, or_, fa, fo)
    for b in range(BATCH):
        cands = candidates(and_[b], or_[b], fa[b], fo[b])
        total = sum(cands.values())
        size_needed = min(k, len(cands))
        strength_needed = Fraction(j, 64) * total
        for rule, enough in (
            ({"top_k": k}, lambda ws, size_needed=size_needed: len(ws) >= size_needed),
            ({"share": j / 64}, lambda ws, need=strength_needed: sum(ws) >= need),
        ):
            got = mask_to_set(np.asarray(ij.salient_mask(fit, **rule))[b])
            assert got <= set(cands)
            if not cands:
                assert not got
                continue
            ws = [cands[c] for c in got]
            assert enough(ws), f"{rule}: {sorted(got)} does not meet the requirement"
            weakest = min(ws)
            # everything at least as strong as the weakest member is in: strongest first
            assert {c for c, m in cands.items() if m >= weakest} == got
            rest = [w for w in ws if w > weakest]
            assert not enough(rest), f"{rule}: {sorted(got)} holds more than it needs"


# -- hand-made cases: the boundaries, the floor, ties, empty results -----------------------------


def one_fit(n=3, and_=(), or_=(), floor_and=(), floor_or=()):
    """A fit of n players from ``{S: value}`` items (floors default to 0)."""
    arrays = [np.zeros(2**n) for _ in range(4)]
    for arr, items in zip(arrays, (and_, or_, floor_and, floor_or), strict=True):
        for s, x in dict(items).items():
            arr[s] = x
    return fit_of(*arrays)


def salient_pairs(fit, **rule) -> set:
    return mask_to_set(ij.salient_mask(fit, **rule))


def test_ratio_boundary_is_inclusive_and_kinds_compete():
    fit = one_fit(and_={3: 8.0, 1: 2.0, 2: 1.9}, or_={6: -4.0, 5: 1.0})
    assert salient_pairs(fit, ratio=0.25) == {(0, 3), (0, 1), (1, 6)}  # 2 = 0.25·8: kept
    assert salient_pairs(fit, ratio=0.5) == {(0, 3), (1, 6)}  # the OR term counts against AND's max
    assert salient_pairs(fit, ratio=1.0) == {(0, 3)}
    assert salient_pairs(fit, ratio=0.0) == {(0, 3), (0, 1), (0, 2), (1, 6), (1, 5)}
    assert salient_pairs(fit) == salient_pairs(fit, ratio=0.05)  # the default


def test_top_k_keeps_every_tie_with_the_kth():
    """Tie rule: everything as strong as the k-th strongest is kept."""
    fit = one_fit(and_={3: 5.0, 1: 3.0, 7: 1.0}, or_={6: -3.0})
    assert salient_pairs(fit, top_k=1) == {(0, 3)}
    assert salient_pairs(fit, top_k=2) == {(0, 3), (0, 1), (1, 6)}  # AND {0} and OR {1,2} tie
    assert salient_pairs(fit, top_k=3) == {(0, 3), (0, 1), (1, 6)}
    assert (
        salient_pairs(fit, top_k=4)
        == salient_pairs(fit, top_k=100)
        == {
            (0, 3),
            (0, 1),
            (1, 6),
            (0, 7),
        }
    )  # k beyond the candidates: all of them, never a zero


def test_share_reaching_the_boundary_exactly_is_enough():
    fit = one_fit(and_={3: 8.0, 1: 4.0}, or_={6: 2.0, 5: -2.0})  # total 16
    assert salient_pairs(fit, share=0.5) == {(0, 3)}  # 8 = 0.5·16
    assert salient_pairs(fit, share=0.75) == {(0, 3), (0, 1)}  # 12 = 0.75·16: not one more
    assert salient_pairs(fit, share=0.75 + 1 / 64) == {(0, 3), (0, 1), (1, 6), (1, 5)}  # tie
    assert salient_pairs(fit, share=1 / 64) == {(0, 3)}
    assert salient_pairs(fit, share=1.0) == {(0, 3), (0, 1), (1, 6), (1, 5)}


def test_at_or_below_the_floor_never_counts_in_any_rule():
    """The noisy giant AND {0,1} (|I| = its floor) is not salient and does not set the maximum,
    the top k or the total; OR {1,2} just above its floor is a candidate."""
    fit = one_fit(
        and_={3: 100.0, 1: 4.0, 2: 1.0},
        or_={6: 2.0},
        floor_and={3: 100.0, 2: 1.5},
        floor_or={6: 1.999},
    )
    assert salient_pairs(fit, ratio=0.5) == {(0, 1), (1, 6)}  # max is 4, not 100
    assert salient_pairs(fit, top_k=1) == {(0, 1)}
    assert salient_pairs(fit, share=0.6) == {(0, 1)}  # 4 ≥ 0.6·6
    assert salient_pairs(fit, share=0.7) == {(0, 1), (1, 6)}
    assert salient_pairs(fit, ratio=0.0) == {(0, 1), (1, 6)}  # AND {1} below its floor


def test_empty_only_when_nothing_is_above_its_floor():
    all_noise = one_fit(and_={3: 1.0, 0: 50.0}, or_={6: 2.0}, floor_and={3: 1.0}, floor_or={6: 3})
    zeros = one_fit()
    only_empty_set = one_fit(and_={0: 7.0})  # ∅ is never salient, however large
    for fit in (all_noise, zeros, only_empty_set):
        for rule in ({}, {"ratio": 0.0}, {"top_k": 1}, {"share": 1.0}, {"share": 1e-9}):
            assert salient_pairs(fit, **rule) == set(), rule
            assert len(ij.salient(fit, **rule)) == 0
    tiny = one_fit(or_={7: 1e-300})  # one candidate, however small, is found by every rule
    for rule in ({}, {"ratio": 1.0}, {"top_k": 1}, {"share": 1.0}, {"share": 1e-9}):
        assert salient_pairs(tiny, **rule) == {(1, 7)}, rule


def test_planted_fit():
    """A real fit of planted values at n = 4 (q_ratio = 0; HiGHS returns the planted model, the
    L1 optimum): AND {0,1} = 4, OR {1,2} = -2, OR {0,2} = 1, AND {2,3} = 0.5; total 7.5."""
    and_ = jnp.zeros(16).at[3].set(4.0).at[12].set(0.5)
    or_ = jnp.zeros(16).at[6].set(-2.0).at[5].set(1.0)
    fit = ij.fit_and_or(ij.reconstruct(and_, or_), q_ratio=0.0, solver=ij.HiGHS())
    np.testing.assert_allclose(fit.and_, and_, atol=1e-9)
    np.testing.assert_allclose(fit.or_, or_, atol=1e-9)
    assert salient_pairs(fit) == {(0, 3), (1, 6), (1, 5), (0, 12)}  # 0.5 ≥ 0.05·4
    assert salient_pairs(fit, ratio=0.25) == {(0, 3), (1, 6), (1, 5)}  # 1 ≥ 0.25·4
    assert salient_pairs(fit, ratio=0.25 + 1 / 64) == {(0, 3), (1, 6)}
    assert salient_pairs(fit, top_k=2) == {(0, 3), (1, 6)}
    assert salient_pairs(fit, share=0.5) == {(0, 3)}  # 4 ≥ 3.75
    assert salient_pairs(fit, share=0.6) == {(0, 3), (1, 6)}  # 4 < 4.5 ≤ 6
    assert salient_pairs(fit, share=0.95) == {(0, 3), (1, 6), (1, 5), (0, 12)}  # 7 < 7.125
    s = ij.salient(fit, top_k=3)
    assert [r["players"] for r in s.as_records()] == [[0, 1], [1, 2], [0, 2]]
    assert [r["kind"] for r in s.as_records()] == ["and", "or", "or"]
    np.testing.assert_allclose(s.values, [4.0, -2.0, 1.0], atol=1e-9)


@pytest.mark.parametrize("rule", [{"ratio": 0.3}, {"top_k": 2}, {"share": 0.5}])
def test_salient_mask_under_jit_and_vmap_equals_eager(rule):
    import jax

    rng = np.random.default_rng(5)
    and_, or_ = rng.integers(-5, 6, size=(2, 3, 8)).astype(np.float64)
    fit = fit_of(and_, or_)
    eager = np.asarray(ij.salient_mask(fit, **rule))
    np.testing.assert_array_equal(jax.jit(lambda f: ij.salient_mask(f, **rule))(fit), eager)
    np.testing.assert_array_equal(jax.vmap(lambda f: ij.salient_mask(f, **rule))(fit), eager)
    for b in range(3):
        want = oracle(candidates(and_[b], or_[b], np.zeros(8), np.zeros(8)), **rule)
        assert mask_to_set(eager[b]) == want
