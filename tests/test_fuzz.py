"""Fuzzing the public functions with random shapes, dtypes, values and options (issue 7, item 1).

The property everywhere: either a correct result (checked by an identity: the inverse
transforms, Shapley efficiency, the bit-reversal round trip, the players' invariants) or a
ValueError / TypeError with a message. Never another exception, and never NaN or inf from finite
input. Shapes are kept to n <= 5 and a fixed batch so that the jitted transforms compile a
handful of programs, not one per example.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import interjax as ij
from interjax.solve import _solvers

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
        try:
            out[name] = np.asarray(fn(v))
        except Exception as err:
            _refused(err)
            assert not valid, f"{name} refused valid input: {err}"
            continue
        assert valid, f"{name} accepted invalid input of shape {v.shape}"
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
    for fn in (ij.and_interactions, ij.or_interactions, ij.shapley_values):
        try:
            out = np.asarray(fn(x))
        except Exception as err:
            _refused(err)
            assert dtype in (np.complex128, np.str_) or not _power_of_two(x.shape[-1])
            continue
        assert dtype not in (np.complex128, np.str_)
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
    try:
        rec = np.asarray(ij.reconstruct(a, b))
    except Exception as err:
        _refused(err)
        assert a.shape != b.shape or not np.isfinite(b).all() or not _power_of_two(a.shape[-1])
        return
    assert a.shape == b.shape and np.isfinite(rec).all()
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
    try:
        msb = np.asarray(ij.to_msb_order(v))
    except Exception as err:
        _refused(err)
        assert not _power_of_two(v.shape[-1])
        return
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
def test_coalition_ids(players, n):
    try:
        index = ij.coalition_index(players)
    except Exception as err:
        _refused(err)
        return
    ids = sorted(set(players))
    assert all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in ids)
    assert index == sum(2**p for p in ids)
    try:
        back = ij.coalition_players(index, n)
    except Exception as err:
        _refused(err)
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
def test_players_constructors_junk(kind, ids, size, second, segment_map, groups):
    """Random arguments: a refusal, or players that keep every invariant."""
    try:
        if kind == "features":
            p = ij.Players.features(ids or size, num_features=second if ids else None)
        elif kind == "segments_map":
            p = ij.Players.segments(segment_map)
        elif kind == "segments_groups":
            p = ij.Players.segments(groups=groups, shape=size)
        elif kind == "patches":
            p = ij.Players.patches((size, second), 2, select=ids or None)
        else:
            p = ij.Players.tokens(size, positions=ids or None)
    except Exception as err:
        _refused(err)
        return
    _check_players(p)
    event(f"built Players.{kind}")
    if kind == "segments_groups":
        assert p.n == len(groups)
        for pid, g in enumerate(groups):
            assert (p.membership.reshape(-1)[g] == pid).all()
    if kind == "features" and ids:
        assert p.membership[ids].tolist() == list(range(len(ids)))


RULE_VALUES = st.one_of(
    st.floats(-0.5, 1.5),
    st.integers(-1, 5),
    st.sampled_from([np.nan, np.inf, "0.1", True, None]),
)


def _fit_of(and_, or_):
    zero, scalar = jnp.zeros(and_.shape), jnp.zeros(())
    v = ij.reconstruct(and_, or_)
    return ij.AndOr(
        and_=jnp.asarray(and_),
        or_=jnp.asarray(or_),
        gamma=zero,
        q=zero,
        objective=scalar,
        lower_bound=scalar,
        gap=scalar,
        relative_gap=scalar,
        iterations=jnp.zeros((), jnp.int32),
        status=jnp.array(int(ij.FitStatus.CONVERGED), jnp.int32),
        tau=scalar,
        noise_floor_and=ij.noise_floor(v),
        noise_floor_or=ij.noise_floor(v, kind="or"),
    )


@FUZZ
@given(
    and_=hnp.arrays(np.float64, 8, elements=st.floats(-10, 10)),
    or_=hnp.arrays(np.float64, 8, elements=st.floats(-10, 10)),
    rule=st.sampled_from(["ratio", "top_k", "share", "ratio+share", None]),
    value=RULE_VALUES,
    other=RULE_VALUES,
)
def test_salient_rules(and_, or_, rule, value, other):
    fit = _fit_of(and_, or_)
    ratio = value if rule in ("ratio", "ratio+share") else None
    top_k = value if rule == "top_k" else None
    share = value if rule == "share" else (other if rule == "ratio+share" else None)
    try:
        found = ij.salient(fit, ratio=ratio, top_k=top_k, share=share)
    except Exception as err:
        _refused(err)
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
def test_fit_options(no_solve, changed, values):
    """Options only (the solver is replaced): valid ones reach it, the rest are refused."""
    options = {**GOOD_OPTIONS, **dict(zip(changed, values, strict=False))}
    q_ratio, tol = options["q_ratio"], options["tol"]
    max_iters, check_every = options["max_iters"], options["check_every"]
    try:
        solver = ij.PDHG(tol=tol, max_iters=max_iters, check_every=check_every)
        ij.fit_and_or(np.zeros(8), q_ratio=q_ratio, solver=solver)
    except no_solve:
        event("reached the solver")

        def real(x):
            return isinstance(x, int | float | np.integer) and not isinstance(x, bool)

        assert real(q_ratio) and math.isfinite(q_ratio) and q_ratio >= 0
        assert real(tol) and math.isfinite(tol) and tol > 0
        for count in (max_iters, check_every):
            assert isinstance(count, int | np.integer) and not isinstance(count, bool)
            assert count >= 1
    except Exception as err:
        _refused(err)
    else:
        raise AssertionError("the solver was replaced: a call cannot succeed")
