"""Fuzzing the public functions with random shapes, dtypes, values and options (issue 7, item 1;
issue 17, item 3).

Every strategy knows whether the input it drew is valid: a predicate, written from the
documented contract and computed *before* the call, decides. A valid input must give a correct
result (checked by an identity: the inverse transforms, Shapley efficiency, the bit-reversal
round trip, the players' invariants, the salient rules) and never NaN or inf from finite input;
an invalid one must be refused with a ValueError or TypeError that says something. A refusal of
a valid input fails, and so does a result for an invalid one. Shapes are kept to n <= 5 and a
fixed batch so that the jitted transforms compile a handful of programs, not one per example.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import interjax as ij
from interjax.solve import _solvers
from tests.helpers import fit_of

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LENGTHS = [1, 2, 4, 8, 16, 32, 0, 3, 6, 12]  # powers of two (n = 0..5) and not
FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


def _refused(err: Exception) -> None:
    """A refusal must be a ValueError or TypeError that says something."""
    assert isinstance(err, ValueError | TypeError), f"{type(err).__name__}: {err}"
    assert len(str(err)) > 20, f"unhelpful message: {err!r}"
    event(f"refused: {type(err).__name__}")


REFUSED = object()


def _call(valid: bool, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, which must succeed iff ``valid`` (decided before the call); a
    refusal is checked by :func:`_refused` and returns ``REFUSED``."""
    try:
        out = fn(*args, **kwargs)
    except Exception as err:
        if valid:
            raise AssertionError(
                f"{getattr(fn, '__name__', fn)} refused a valid input: {type(err).__name__}: {err}"
            ) from err
        _refused(err)
        return REFUSED
    assert valid, f"{getattr(fn, '__name__', fn)} accepted an invalid input (args {args!r:.200})"
    event("valid: result")
    return out


def _is_int(x, low: int = 0) -> bool:
    """A Python or NumPy int (not a bool) ``>= low``."""
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_) and x >= low


def _is_real(x) -> bool:
    """A finite Python or NumPy real number (not a bool)."""
    return (
        isinstance(x, int | float | np.integer | np.floating)
        and not isinstance(x, bool | np.bool_)
        and math.isfinite(x)
    )


def _power_of_two(length: int) -> bool:
    return length >= 1 and length & (length - 1) == 0


@st.composite
def value_arrays(draw, lengths=LENGTHS, nonfinite=True):
    """``(2, L)`` float64 arrays: a fixed batch of two, lengths powers of two or not, finite
    values and (in about a quarter of the examples) one NaN or infinity."""
    length = draw(st.sampled_from(lengths))
    v = draw(hnp.arrays(np.float64, (2, length), elements=FINITE))
    poison = draw(st.sampled_from([None, None, None, np.nan, np.inf, -np.inf]))
    if nonfinite and poison is not None and v.size:
        v.flat[draw(st.integers(0, v.size - 1))] = poison
    return v


def _check_transforms(v: np.ndarray) -> None:
    """Run every transform on ``v``; check identities where ``v`` is valid input."""
    valid = _power_of_two(v.shape[-1]) and np.isfinite(v).all()
    fns = {
        "and": ij.and_interactions,
        "or": ij.or_interactions,
        "and_inv": ij.and_inverse,
        "or_inv": ij.or_inverse,
        "shapley": ij.shapley_values,
        "banzhaf": ij.banzhaf_values,
        "pairs": ij.pairwise_shapley_interactions,
        "floor": ij.noise_floor,
    }
    out = {}
    for name, fn in fns.items():
        result = _call(valid, fn, v)
        if result is REFUSED:
            continue
        out[name] = np.asarray(result)
        assert np.isfinite(out[name]).all(), f"{name} gave NaN or inf from finite input"
    if not valid:
        return
    n = v.shape[-1].bit_length() - 1
    scale = max(1.0, float(np.abs(v).max())) * 2.0**n * 1e-12
    np.testing.assert_allclose(ij.and_inverse(out["and"]), v, atol=scale)
    np.testing.assert_allclose(ij.or_inverse(out["or"]), v, atol=scale)
    np.testing.assert_allclose(ij.and_interactions(out["and_inv"]), v, atol=scale)
    if n:
        np.testing.assert_allclose(out["shapley"].sum(-1), v[:, -1] - v[:, 0], atol=scale)
    pairs = out["pairs"]
    assert pairs.shape == (2, n, n)
    np.testing.assert_allclose(pairs, np.swapaxes(pairs, -1, -2), atol=scale)
    assert (np.diagonal(pairs, axis1=-2, axis2=-1) == 0).all()
    assert (out["floor"] >= 0).all()


@FUZZ
@given(v=value_arrays())
def test_transforms_on_random_values(v):
    _check_transforms(v)


@FUZZ
@given(
    v=value_arrays(lengths=[4, 8, 6], nonfinite=False),
    dtype=st.sampled_from([np.int64, np.int32, np.bool_, np.float32, np.complex128, np.str_]),
)
def test_transforms_on_random_dtypes(v, dtype):
    """Integers and booleans are values (computed in float64); complex and text are refused."""
    x = v.astype(dtype)
    valid = dtype not in (np.complex128, np.str_) and _power_of_two(x.shape[-1])
    for fn in (ij.and_interactions, ij.or_interactions, ij.shapley_values):
        out = _call(valid, fn, x)
        if out is REFUSED:
            continue
        out = np.asarray(out)
        assert np.isfinite(out).all()
        # atol: XLA on CPU flushes float32 subnormals (< 1.2e-38) to zero when widening
        np.testing.assert_allclose(
            out, np.asarray(fn(x.astype(np.float64))), rtol=1e-12, atol=1e-30
        )


@FUZZ
@given(
    a=value_arrays(lengths=[4, 8, 3], nonfinite=False),
    b=value_arrays(lengths=[4, 8]),
)
def test_reconstruct_and_matching_error(a, b):
    valid = a.shape == b.shape and _power_of_two(a.shape[-1]) and np.isfinite(b).all()
    rec = _call(valid, ij.reconstruct, a, b)
    if rec is REFUSED:
        return
    rec = np.asarray(rec)
    assert np.isfinite(rec).all()
    expected = np.asarray(ij.and_inverse(a)) + np.asarray(ij.or_inverse(b))
    np.testing.assert_allclose(rec, expected, rtol=1e-12, atol=1e-6)
    err = np.asarray(ij.matching_error(rec, a, b))
    assert err.shape == (2,) and (err <= 1e-6 * max(1.0, np.abs(rec).max())).all()


@FUZZ
@given(
    v=hnp.arrays(
        st.sampled_from([np.float64, np.int32, np.bool_, np.complex64]),
        st.tuples(st.integers(0, 2), st.sampled_from(LENGTHS)).map(
            lambda t: t[1:] if t[0] == 0 else t
        ),
    )
)
def test_msb_order_round_trip(v):
    msb = _call(_power_of_two(v.shape[-1]), ij.to_msb_order, v)
    if msb is REFUSED:
        return
    msb = np.asarray(msb)
    back = np.asarray(ij.from_msb_order(msb))
    np.testing.assert_array_equal(back, v)  # an involution, exact for every dtype
    np.testing.assert_array_equal(np.sort(msb, axis=-1), np.sort(v, axis=-1))


PLAYER_IDS = st.one_of(
    st.integers(-3, 70), st.floats(-2, 5), st.booleans(), st.text(max_size=2), st.none()
)


@FUZZ
@given(
    players=st.one_of(
        st.lists(st.integers(0, 70), max_size=6), st.lists(PLAYER_IDS, max_size=6), PLAYER_IDS
    ),
    n=st.one_of(st.none(), st.integers(0, 8), PLAYER_IDS),
)
@example(players=[0, True], n=None)  # a bool among ids: refused, not read as 1
@example(players=[0, 3], n=True)
@example(players=[0, 3], n=30)  # the largest n
@example(players=[0, 3], n=31)
def test_coalition_ids(players, n):
    """Valid: a list of non-negative int ids (no bools, floats, text); n None or an int in
    [0, 30]."""
    valid = isinstance(players, list) and all(_is_int(p) for p in players)
    index = _call(valid, ij.coalition_index, players)
    if index is REFUSED:
        return
    ids = sorted(set(players))
    assert index == sum(2**p for p in ids)
    back = _call(n is None or (_is_int(n) and n <= 30), ij.coalition_players, index, n)
    if back is REFUSED:
        return
    width = index.bit_length() if n is None else n
    assert back == tuple(p for p in ids if p < width)


def _check_players(p: ij.Players) -> None:
    m = p.membership
    assert p.n >= 1 and m.dtype == np.int32
    assert m.min() >= -1 and m.max() == p.n - 1
    assert set(np.unique(m[m >= 0]).tolist()) == set(range(p.n))


SMALL_INTS = st.one_of(st.integers(-2, 9), st.floats(0, 4), st.booleans())


@st.composite
def valid_player_calls(draw):
    """A valid constructor call and what its players must look like: ``(kind, make, check)``."""
    kind = draw(st.sampled_from(["features", "segments_map", "segments_groups", "patches"]))
    if kind == "features":
        ids = draw(st.lists(st.integers(0, 7), unique=True, min_size=1, max_size=5))
        num = draw(st.one_of(st.none(), st.integers(max(ids) + 1, 10)))
        return (
            kind,
            lambda: ij.Players.features(ids, num_features=num),
            lambda p: p.membership[ids].tolist() == list(range(len(ids))),
        )
    if kind == "segments_map":
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
        size = math.prod(shape)
        k = draw(st.integers(1, size))
        rest = draw(st.lists(st.integers(-1, k - 1), min_size=size - k, max_size=size - k))
        flat = np.array(draw(st.permutations([*range(k), *rest])))
        return kind, lambda: ij.Players.segments(flat.reshape(shape)), lambda p: p.n == k
    if kind == "segments_groups":
        size = draw(st.integers(1, 8))
        order = draw(st.permutations(range(size)))
        cuts = sorted(draw(st.sets(st.integers(1, size), max_size=4)) | {size})
        groups = [order[a:b] for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
        groups = groups[: draw(st.integers(1, len(groups)))]  # the rest: background

        def check(p):
            flat = p.membership.reshape(-1)
            return p.n == len(groups) and all((flat[g] == i).all() for i, g in enumerate(groups))

        return kind, lambda: ij.Players.segments(groups=groups, shape=size), check
    h, w, ph = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    cells = math.ceil(h / ph) * math.ceil(w / ph)
    select = draw(
        st.one_of(st.none(), st.lists(st.integers(0, cells - 1), unique=True, min_size=1))
    )
    n = cells if select is None else len(select)
    return kind, lambda: ij.Players.patches((h, w), ph, select=select), lambda p: p.n == n


@FUZZ
@given(call=valid_player_calls())
def test_players_constructors_valid(call):
    kind, make, check = call
    p = make()
    _check_players(p)
    assert check(p), f"Players.{kind} built the wrong membership {p.membership.tolist()}"


def _ids_ok(ids, size=None) -> bool:
    """Distinct int ids (no bools, no floats) in [0, size)."""
    return (
        all(_is_int(i) for i in ids)
        and len(set(ids)) == len(ids)
        and (size is None or max(ids) < size)
    )


def _junk_players_valid(kind, ids, size, second, segment_map, groups) -> bool:
    """Whether the constructor call of :func:`test_players_constructors_junk` is valid, from the
    constructors' documented arguments."""
    if kind == "features":  # n >= 1, or distinct feature ids below num_features >= 1
        if not ids:
            return _is_int(size, 1)
        return _ids_ok(ids) and _is_int(second, 1) and max(ids) < second
    if kind == "segments_map":  # integer ids 0..n-1, each used, -1 for background
        m = np.asarray(segment_map)
        if not np.issubdtype(m.dtype, np.integer) or m.min() < -1 or m.max() < 0:
            return False
        return set(np.unique(m[m >= 0]).tolist()) == set(range(int(m.max()) + 1))
    if kind == "segments_groups":  # non-empty groups of distinct element indices < size
        flat = [i for g in groups for i in g]
        return (
            _is_int(size, 1)
            and len(groups) >= 1
            and all(len(g) for g in groups)
            and _ids_ok(flat, size)
        )
    if kind == "patches":  # (H, W) >= 1, patch size 2, select: distinct patch ids
        if not (_is_int(size, 1) and _is_int(second, 1)):
            return False
        return not ids or _ids_ok(ids, math.ceil(size / 2) * math.ceil(second / 2))
    return _is_int(size, 1) and (not ids or _ids_ok(ids, size))  # tokens


@FUZZ
@given(
    kind=st.sampled_from(["features", "segments_map", "segments_groups", "patches", "tokens"]),
    ids=st.lists(SMALL_INTS, max_size=6),
    size=SMALL_INTS,
    second=SMALL_INTS,
    segment_map=hnp.arrays(
        st.sampled_from([np.int64, np.int8, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
        elements=st.integers(-3, 6),
    ),
    groups=st.lists(st.lists(st.integers(-1, 8), max_size=3), max_size=4),
)
# bools among int ids: NumPy reads [3, True] as [3, 1]; they must be refused like a lone bool
@example(kind="features", ids=[3, True], size=1, second=5, segment_map=np.zeros(1), groups=[])
@example(kind="tokens", ids=[0, True], size=4, second=1, segment_map=np.zeros(1), groups=[])
@example(kind="patches", ids=[0, True], size=4, second=4, segment_map=np.zeros(1), groups=[])
@example(
    kind="segments_groups", ids=[], size=3, second=1, segment_map=np.zeros(1), groups=[[0, True]]
)
def test_players_constructors_junk(kind, ids, size, second, segment_map, groups):
    """Random arguments: players that keep every invariant for a valid call, a refusal for an
    invalid one (bools, floats, repeats, gaps, out-of-range ids, empty groups)."""
    valid = _junk_players_valid(kind, ids, size, second, segment_map, groups)
    make = {
        "features": lambda: ij.Players.features(ids or size, num_features=second if ids else None),
        "segments_map": lambda: ij.Players.segments(segment_map),
        "segments_groups": lambda: ij.Players.segments(groups=groups, shape=size),
        "patches": lambda: ij.Players.patches((size, second), 2, select=ids or None),
        "tokens": lambda: ij.Players.tokens(size, positions=ids or None),
    }[kind]
    make.__name__ = f"Players.{kind}"
    p = _call(valid, make)
    if p is REFUSED:
        return
    _check_players(p)
    event(f"built Players.{kind}")
    m = p.membership.reshape(-1)
    if kind == "segments_groups":
        assert p.n == len(groups)
        for pid, g in enumerate(groups):
            assert (m[g] == pid).all()
        assert (m >= 0).sum() == sum(len(g) for g in groups)
    if kind in ("features", "tokens") and ids:
        assert p.n == len(ids) and m[ids].tolist() == list(range(len(ids)))
        assert (m >= 0).sum() == len(ids)
    if kind == "features" and not ids:
        assert m.tolist() == list(range(size))
    if kind == "tokens" and not ids:
        assert m.tolist() == list(range(size))
    if kind == "patches":
        cells = math.ceil(size / 2) * math.ceil(second / 2)
        assert p.n == (len(ids) if ids else cells) and p.membership.shape == (size, second)
    if kind == "segments_map":
        np.testing.assert_array_equal(p.membership, segment_map)


EDGE = np.array([0.0, 3.0, -1.0, 2.0, 0.5, 0.0, 4.0, -2.0])
RULE_VALUES = st.one_of(
    st.floats(-0.5, 1.5),
    st.integers(-1, 5),
    st.sampled_from([np.nan, np.inf, "0.1", True, None]),
)


@FUZZ
@given(
    # no subnormal interactions: XLA on CPU flushes them to zero (they are never salient)
    and_=hnp.arrays(np.float64, 8, elements=st.floats(-10, 10, allow_subnormal=False)),
    or_=hnp.arrays(np.float64, 8, elements=st.floats(-10, 10, allow_subnormal=False)),
    rule=st.sampled_from(["ratio", "top_k", "share", "ratio+share", None]),
    value=RULE_VALUES,
    other=RULE_VALUES,
)
@example(and_=EDGE, or_=EDGE, rule="ratio", value=0.0, other=None)  # the ends of each range
@example(and_=EDGE, or_=EDGE, rule="ratio", value=1, other=None)
@example(and_=EDGE, or_=EDGE, rule="ratio", value=1.0000001, other=None)
@example(and_=EDGE, or_=EDGE, rule="share", value=1.0, other=None)
@example(and_=EDGE, or_=EDGE, rule="share", value=0.0, other=None)
@example(and_=EDGE, or_=EDGE, rule="top_k", value=1, other=None)
@example(and_=EDGE, or_=EDGE, rule="top_k", value=0, other=None)
@example(and_=EDGE, or_=EDGE, rule="top_k", value=2.0, other=None)
@example(and_=EDGE, or_=EDGE, rule="ratio+share", value=None, other=0.5)
@example(and_=EDGE, or_=EDGE, rule="ratio+share", value=0.1, other=0.5)
def test_salient_rules(and_, or_, rule, value, other):
    """Valid: at most one rule; ratio a finite real in [0, 1], top_k an int >= 1, share a finite
    real in (0, 1]; None means the default. (tests/solve/test_salient_rules.py checks the sets
    exactly; here: any value of the options.)"""
    v = ij.reconstruct(and_, or_)
    fit = fit_of(and_, or_, ij.noise_floor(v), ij.noise_floor(v, kind="or"))
    ratio = value if rule in ("ratio", "ratio+share") else None
    top_k = value if rule == "top_k" else None
    share = value if rule == "share" else (other if rule == "ratio+share" else None)
    valid = (
        sum(x is not None for x in (ratio, top_k, share)) <= 1
        and (ratio is None or (_is_real(ratio) and 0 <= ratio <= 1))
        and (top_k is None or _is_int(top_k, 1))
        and (share is None or (_is_real(share) and 0 < share <= 1))
    )
    found = _call(valid, ij.salient, fit, ratio=ratio, top_k=top_k, share=share)
    if found is REFUSED:
        return
    vals = np.abs(found.values)
    assert np.isfinite(vals).all() and (vals > 0).all()
    assert (np.diff(vals) <= 0).all(), "strongest first"
    floors = np.stack([np.asarray(fit.noise_floor_and), np.asarray(fit.noise_floor_or)])
    strengths = np.abs(np.stack([and_, or_]))
    strengths[(strengths <= floors) | (np.arange(8) == 0)] = 0.0  # never salient: ∅, noise
    if top_k is None and share is None:
        r = 0.05 if ratio is None else float(ratio)
        assert (vals >= r * strengths.max() * (1 - 1e-12)).all()
    if top_k is not None:
        kth = np.sort(strengths.ravel())[::-1][min(int(top_k), 16) - 1]
        assert (vals >= kth * (1 - 1e-12)).all()
        assert len(vals) >= min(int(top_k), int((strengths > 0).sum()))
    if share is not None:
        assert vals.sum() >= share * strengths.sum() * (1 - 1e-12)
    assert (len(vals) > 0) == bool((strengths > 0).any()), "empty iff nothing above the floor"


@pytest.fixture
def no_solve(monkeypatch):
    class Reached(Exception):
        pass

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(_solvers, "_solve_optimal", reached)
    return Reached


OPTION_VALUES = st.one_of(
    st.floats(-2, 2),
    st.sampled_from([np.nan, np.inf, -np.inf, "1", None, True, 0, 3, 64, np.int64(5)]),
)
GOOD_OPTIONS = {"q_ratio": 0.02, "tol": 1e-3, "max_iters": 100, "check_every": 64}


@FUZZ
@given(
    changed=st.lists(st.sampled_from(sorted(GOOD_OPTIONS)), max_size=2, unique=True),
    values=st.lists(OPTION_VALUES, min_size=2, max_size=2),
)
@example(changed=["tol"], values=[0.0, None])  # tol must be > 0
@example(changed=["q_ratio"], values=[0.0, None])  # q_ratio may be 0
@example(changed=["max_iters", "check_every"], values=[1, np.int64(1)])
@example(changed=["max_iters"], values=[True, None])
def test_fit_options(no_solve, changed, values):
    """Options only (the solver is replaced): valid ones reach it, the rest are refused."""
    options = {**GOOD_OPTIONS, **dict(zip(changed, values, strict=False))}
    q_ratio, tol = options["q_ratio"], options["tol"]
    max_iters, check_every = options["max_iters"], options["check_every"]
    valid = (
        _is_real(q_ratio)
        and q_ratio >= 0
        and _is_real(tol)
        and tol > 0
        and _is_int(max_iters, 1)
        and _is_int(check_every, 1)
    )
    try:
        solver = ij.PDHG(tol=tol, max_iters=max_iters, check_every=check_every)
        ij.fit_and_or(np.zeros(8), q_ratio=q_ratio, solver=solver)
    except no_solve:
        event("reached the solver")
        assert valid, f"invalid options reached the solver: {options}"
    except Exception as err:
        assert not valid, f"valid options {options} refused: {type(err).__name__}: {err}"
        _refused(err)
    else:
        raise AssertionError("the solver was replaced: a call cannot succeed")
