"""The AND-OR extraction against an independent LP solver (HiGHS) and planted models."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax._core import num_players_of
from interjax.solve._highs import solve_lp_highs
from interjax.solve._operators import operators
from interjax.solve._pdhg import (
    PROBE_CHECKS,
    PROBE_RATIO,
    and_or_problem,
    order_weight,
    order_weight_probe,
    pdhg_init,
    pdhg_solve,
    pdhg_solve_pool,
    pdhg_update,
    power_step_size,
    relative_gap,
    step_size,
)
from interjax.solve._sgd import default_sgd, sgd_solve

N_PLAYERS = 6
SIZE = 2**N_PLAYERS


def planted(seed, n=N_PLAYERS, noise=0.0):  # n >= 6
    """v = three planted terms on disjoint groups of 1, 2 and 3 players: the single player is an
    AND term (one player's AND and OR coincide), the others AND or OR at random.

    The L1 optimum is not always unique, and then no solver can be asked to return the plant:
    overlapping OR terms have equal-norm alternatives, and so do two single players of one sign,
    since ``[i∈T] + [j∈T] = OR_ij(T) + AND_ij(T)`` (both norm 2). Both were seen here.
    """
    rng = np.random.default_rng(seed)
    size = 2**n
    a, o = np.zeros(size), np.zeros(size)
    players = rng.permutation(n)
    for group in (players[:1], players[1:3], players[3:6]):
        s = ij.coalition_index(group)
        value = rng.choice([-1, 1]) * rng.uniform(1, 3)
        if len(group) >= 2 and rng.random() < 0.5:
            o[s] = value
        else:
            a[s] = value
    v = np.asarray(ij.reconstruct(a, o)) + noise * rng.normal(size=size)
    return v, a, o


@pytest.fixture(scope="module")
def batch():
    """Random and planted-plus-noise value vectors, with HiGHS optima at q_ratio = 0.02."""
    rng = np.random.default_rng(0)
    vs = [rng.normal(size=SIZE) * 2 for _ in range(3)]
    vs += [planted(s, noise=0.1)[0] for s in range(3)]
    v = np.stack(vs)
    tau = 0.02 * np.abs(v[:, -1] - v[:, 0])
    optima = np.array([solve_lp_highs(vi, ti).objective for vi, ti in zip(v, tau, strict=True)])
    return v, optima


@pytest.fixture(scope="module")
def fit(batch):
    return ij.fit_and_or(jnp.asarray(batch[0]), q_ratio=0.02)


def test_reaches_lp_optimum_with_valid_certificate(batch, fit):
    _, optima = batch
    assert fit.converged.all()
    obj, low = np.asarray(fit.objective), np.asarray(fit.lower_bound)
    np.testing.assert_array_less(obj, optima * 1.01)  # within 1% (tol 1e-3 asks for more)
    assert np.all(obj >= optima * (1 - 1e-9))  # a feasible point cannot beat the optimum
    assert np.all(low <= optima * (1 + 1e-9))  # the certificate never overclaims
    assert np.all(np.asarray(fit.gap) >= obj - optima - 1e-9)
    assert np.all(np.asarray(fit.relative_gap) <= 1e-3)


def test_universal_matching_within_q_box(batch, fit):
    v, _ = batch
    assert np.all(np.abs(np.asarray(fit.q)) <= np.asarray(fit.tau)[:, None] * (1 + 1e-12))
    err = np.asarray(ij.matching_error(v, fit.and_, fit.or_, fit.q))
    assert err.max() < 1e-10
    # the split is as documented: v_and = ½(v+q)+γ, v_or = ½(v+q)-γ
    half = 0.5 * (v + np.asarray(fit.q))
    np.testing.assert_allclose(
        ij.and_inverse(fit.and_) + ij.or_inverse(fit.or_), 2 * half, atol=1e-10
    )


def test_fold_moves_empty_and_singletons_into_and(fit):
    order = ij.orders(N_PLAYERS)
    assert np.all(np.asarray(fit.or_)[:, order <= 1] == 0)
    empty_only = ij.fold_or_into_and(fit.and_ * 0, fit.or_ + 1.0, "empty")
    assert np.all(np.asarray(empty_only[1])[:, 0] == 0)
    assert np.all(np.asarray(empty_only[1])[:, 1:] != 0)


def test_batched_equals_one_at_a_time(batch, fit):
    v, _ = batch
    one = ij.fit_and_or(jnp.asarray(v[4]), q_ratio=0.02)
    np.testing.assert_allclose(one.and_, fit.and_[4], atol=1e-12)
    assert int(one.iterations) == int(fit.iterations[4])
    assert one.objective.shape == ()


@pytest.fixture(scope="module")
def unpooled(batch):
    """Each fit of the batch alone (vmapped ``pdhg_solve``: a converged fit stops changing),
    to the default cap and to a cap of 640 iterations that some fits reach unconverged."""
    flat = jnp.asarray(batch[0])
    tau = 0.02 * jnp.abs(flat[:, -1] - flat[:, 0])

    def run(max_iters):
        def one(v, t):
            problem, z, lam = and_or_problem(v, t)
            s = pdhg_solve(problem, z, lam, eta=step_size(6), tol=1e-3, max_iters=max_iters)
            return s.best_z, s.best_objective, s.best_lower, s.iteration

        return jax.jit(jax.vmap(one))(flat, tau)

    return flat, tau, {m: run(m) for m in (20_000, 640)}


@pytest.mark.parametrize(("lanes", "tail_lanes", "max_iters"), [(2, 0, 640), (4, 1, 20_000)])
def test_solver_pool_gives_each_fit_its_own_iterations(unpooled, lanes, tail_lanes, max_iters):
    """Lanes take the next fit of the queue when theirs stops, and the last running fits move
    to a narrower pool; no fit's iterations or result may change."""
    flat, tau, alone = unpooled
    want = alone[max_iters]
    assert len(set(np.asarray(want[3]).tolist())) > 1  # the fits stop at different times
    if max_iters == 640:
        assert (want[3] == 640).any() and (want[3] < 640).any()
    got = pdhg_solve_pool(
        lambda d: and_or_problem(*d),
        (flat, tau),
        eta=step_size(N_PLAYERS),
        tol=1e-3,
        max_iters=max_iters,
        lanes=lanes,
        tail_lanes=tail_lanes,
    )
    np.testing.assert_array_equal(got[3], want[3])
    for g, w in zip(got[:3], want[:3], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@functools.cache
def _one_arm(w):
    """Jitted start and check of the single-weight engine (one program per weight)."""

    def start(v, tau):
        return pdhg_init(*and_or_problem(v, tau, weight=w))

    def update(state, v, tau):
        problem, _, _ = and_or_problem(v, tau, weight=w)
        return pdhg_update(problem, state, step_size(num_players_of(v.shape[-1]), weight=w))

    return jax.jit(start), jax.jit(update)


def probe_reference(v, tau, tol, max_iters, check_every=64):
    """The probe between the order weight and weight 1 written out one fit at a time on the
    host (independent of the pool): ``(iterations, objective, lower, arm kept)``."""
    n = int(np.log2(v.shape[-1]))
    runs = []
    for w in (order_weight(n), 1.0):
        start, update = _one_arm(w)
        runs.append([start(v, tau), lambda s, update=update: update(s, v, tau)])

    def gap(obj, low):
        return float(relative_gap(jnp.asarray(obj), jnp.asarray(low)))

    def best(*states):
        return min(float(s.best_objective) for s in states), max(
            float(s.best_lower) for s in states
        )

    done = 0
    for arm in (0, 1):  # each arm's probe checks, arm 0 first
        for _ in range(PROBE_CHECKS):
            runs[arm][0] = runs[arm][1](runs[arm][0])
            done += check_every
            obj, low = best(*(r[0] for r in runs[: arm + 1]))
            if gap(obj, low) <= tol or done >= max_iters:
                return done, obj, low, arm
    own = [gap(s.best_objective, s.best_lower) for s, _ in runs]  # each arm's own certificate
    keep = 1 if own[1] * PROBE_RATIO < own[0] else 0
    obj, low = best(runs[0][0], runs[1][0])
    state, update = runs[keep]
    while gap(obj, low) > tol and done < max_iters:
        state = update(state)
        done += check_every
        obj, low = min(obj, float(state.best_objective)), max(low, float(state.best_lower))
    return done, obj, low, keep


@pytest.mark.parametrize("both", [False, True])
def test_pool_takes_the_step_or_a_probe(both):
    """The pool runs on the step ``eta`` or on a probe's steps: given both (the step would be
    ignored) or neither, it refuses before any work."""
    settings = {"eta": step_size(N_PLAYERS), "probe": order_weight_probe(N_PLAYERS)} if both else {}
    data = (jnp.zeros((1, 2**N_PLAYERS)), jnp.zeros((1,)))
    with pytest.raises(TypeError, match="not both or neither"):
        pdhg_solve_pool(and_or_problem, data, tol=1e-3, max_iters=64, lanes=1, **settings)


@pytest.mark.parametrize(("lanes", "tail_lanes", "max_iters"), [(1, 0, 20_000), (4, 1, 1_024)])
def test_order_weight_probe_is_the_rule_fit_by_fit(lanes, tail_lanes, max_iters):
    """The default solver's probe in the pool (arms switched per lane, the best certificate of
    both kept, the cap on both together) against the rule written out fit by fit: the same
    iterations and certificates, and each arm kept on some fit (noise values and planted ones,
    n = 6; with the low cap some fits stop during the probe)."""
    rng = np.random.default_rng(5)
    v = np.stack(
        [rng.normal(size=SIZE) for _ in range(3)] + [planted(s, noise=0.05)[0] for s in range(4)]
    )
    tau = 0.02 * np.abs(v[:, -1] - v[:, 0])
    want = [probe_reference(vi, ti, 1e-3, max_iters) for vi, ti in zip(v, tau, strict=True)]
    got = pdhg_solve_pool(
        lambda d, arm: and_or_problem(*d, weight=order_weight_probe(N_PLAYERS).weights, arm=arm),
        (jnp.asarray(v), jnp.asarray(tau)),
        tol=1e-3,
        max_iters=max_iters,
        lanes=lanes,
        tail_lanes=tail_lanes,
        probe=order_weight_probe(N_PLAYERS),
    )
    np.testing.assert_array_equal(got[3], [w[0] for w in want])
    np.testing.assert_allclose(got[1], [w[1] for w in want], rtol=1e-12)
    np.testing.assert_allclose(got[2], [w[2] for w in want], rtol=1e-12)
    if max_iters > 2 * PROBE_CHECKS * 64:
        assert {w[3] for w in want} == {0, 1}  # both arms are kept somewhere
    else:
        assert (np.asarray(got[3]) == max_iters).any()


def test_pool_width_does_not_change_fits(batch, fit):
    pooled = ij.fit_and_or(jnp.asarray(batch[0]), q_ratio=0.02, solver=ij.PDHG(lanes=2))
    np.testing.assert_array_equal(pooled.iterations, fit.iterations)
    np.testing.assert_allclose(pooled.and_, fit.and_, atol=1e-12)
    np.testing.assert_allclose(pooled.or_, fit.or_, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_model_recovered_exactly(seed):
    v, a, o = planted(seed + 10)
    fit = ij.fit_and_or(jnp.asarray(v), q_ratio=0.0, solver=ij.PDHG(tol=1e-6))
    assert bool(fit.converged)
    sal = ij.salient(fit)
    got = {(int(s), int(k)) for s, k in zip(sal.sets, sal.kinds, strict=True)}
    want = {(int(s), 0) for s in np.flatnonzero(a)} | {(int(s), 1) for s in np.flatnonzero(o)}
    assert got == want
    np.testing.assert_allclose(fit.and_, a, atol=1e-3)
    np.testing.assert_allclose(fit.or_, o, atol=1e-3)


def test_highs_solver_option_matches(batch):
    v, optima = batch
    fit = ij.fit_and_or(jnp.asarray(v[:2]), solver=ij.HiGHS())
    np.testing.assert_allclose(fit.objective, optima[:2], rtol=1e-7)
    assert np.all(np.asarray(fit.relative_gap) < 1e-6)


@pytest.mark.slow  # ~30 s on 2 cores; CI runs the slow set
def test_optimal_matches_highs_at_8_players():
    """The default solver against HiGHS's LP optimum at n = 8: random values, a planted model
    with a little noise, and noisy values (noise as large as the planted terms)."""
    rng = np.random.default_rng(8)
    v = np.stack([rng.normal(size=2**8) * 2, planted(1, n=8, noise=0.1)[0]])
    v = np.concatenate([v, planted(2, n=8, noise=2.0)[0][None]])
    tau = 0.02 * np.abs(v[:, -1] - v[:, 0])
    optima = np.array([solve_lp_highs(vi, ti).objective for vi, ti in zip(v, tau, strict=True)])
    fit = ij.fit_and_or(jnp.asarray(v), q_ratio=0.02)
    obj, low = np.asarray(fit.objective), np.asarray(fit.lower_bound)
    assert fit.converged.all()
    assert np.all(obj >= optima * (1 - 1e-9)) and np.all(low <= optima * (1 + 1e-9))
    assert np.all(obj <= optima * (1 + 1e-3) + 1e-9)  # certified within tol = 1e-3
    highs = ij.fit_and_or(jnp.asarray(v[2]), q_ratio=0.02, solver=ij.HiGHS())
    np.testing.assert_allclose(float(highs.objective), optima[2], rtol=1e-7)


def test_iteration_cap_reports_not_converged(batch):
    v, optima = batch
    fit = ij.fit_and_or(jnp.asarray(v[0]), solver=ij.PDHG(max_iters=64, check_every=64))
    assert not bool(fit.converged) and int(fit.iterations) == 64
    assert float(fit.lower_bound) <= optima[0] * (1 + 1e-9) <= float(fit.objective) * (1 + 1e-9)


def test_sgd_reference_follows_the_schedule(batch):
    v, optima = batch
    steps = 2000
    _, _, q, history = sgd_solve(
        jnp.asarray(v[3]),
        0.02 * abs(v[3, -1] - v[3, 0]),
        optimizer=default_sgd(1e-3, steps),
        num_steps=steps,
    )
    history = np.asarray(history)
    windows = history.reshape(10, -1).mean(axis=1)
    assert history[-1] < 0.6 * history[0]
    # momentum may overshoot at the start; after that the objective falls window by window
    assert np.all(np.diff(windows[1:]) < 0)
    assert np.all(np.abs(np.asarray(q)) <= 0.02 * abs(v[3, -1] - v[3, 0]) + 1e-12)
    fit = ij.fit_and_or(jnp.asarray(v[3]), solver=ij.SGD(num_steps=steps, learning_rate=1e-3))
    assert float(fit.objective) >= optima[3] * (1 - 1e-9)  # never below the optimum
    assert float(fit.lower_bound) <= optima[3] * (1 + 1e-9)


def test_salient_rules(fit):
    mask = np.asarray(ij.salient_mask(fit))
    assert mask.shape == (6, 2, SIZE) and not mask[..., 0].any()
    top = np.asarray(ij.salient_mask(fit, top_k=3))
    assert np.all(top.sum(axis=(-2, -1)) >= 3)
    strength, counts = ij.strength_by_order(fit, ij.salient_mask(fit, share=0.9))
    mags = np.abs(np.stack([np.asarray(fit.and_), np.asarray(fit.or_)], 1))[..., 1:]
    assert np.all(strength.sum((-2, -1)) >= 0.9 * mags.sum((-2, -1)) - 1e-9)
    assert np.asarray(counts)[..., 0].sum() == 0
    records = ij.salient(fit)[0].as_records()
    assert all(abs(r["value"]) >= 0.05 * max(abs(x["value"]) for x in records) for r in records)


def test_noise_floor_respected():
    """A model whose values are pure float32 rounding noise has no salient interaction."""
    n = 6
    v = np.full(2**n, 3.0) + np.random.default_rng(0).normal(size=2**n) * 3.0 * 1e-8
    fit = ij.fit_and_or(jnp.asarray(v), q_ratio=0.0)
    mask = np.asarray(ij.salient_mask(fit))
    assert not mask.any()


@pytest.mark.parametrize(
    ("v", "kwargs", "match"),
    [
        (np.zeros(12), dict, "2\\*\\*n"),
        (np.array([0.0, np.nan, 1.0, 2.0]), dict, "NaN"),
        (np.zeros(8), lambda: {"q_ratio": -0.1}, "q_ratio"),
        (np.zeros(8), lambda: {"solver": ij.PDHG(tol=0.0)}, "tol"),
        (np.zeros(8), lambda: {"solver": "adam"}, "solver"),
        (np.zeros(8), lambda: {"fold": "all"}, "fold"),
        (np.zeros(8), lambda: {"solver": ij.PDHG(max_iters=0)}, "max_iters"),
        (np.zeros(8), lambda: {"solver": ij.PDHG(lanes=0)}, "lanes"),
    ],
)
def test_bad_input(v, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ij.fit_and_or(v, **kwargs())


def test_mixed_n_batch_is_refused():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        ij.fit_and_or(np.zeros((2, 12)))
    with pytest.raises(ValueError, match="different lengths \\[8, 16\\]"):
        ij.fit_and_or([np.zeros(8), np.zeros(16)])


def test_float32_iterates_keep_a_valid_certificate(batch):
    v, optima = batch
    fit = ij.fit_and_or(jnp.asarray(v), solver=ij.PDHG(iterate_dtype=jnp.float32))
    assert fit.and_.dtype == jnp.float64 and fit.converged.all()
    obj, low = np.asarray(fit.objective), np.asarray(fit.lower_bound)
    assert np.all(obj >= optima * (1 - 1e-9)) and np.all(low <= optima * (1 + 1e-9))
    np.testing.assert_array_less(obj, optima * 1.01)
    assert np.asarray(ij.matching_error(v, fit.and_, fit.or_, fit.q)).max() < 1e-10


def test_sgd_schedule_compiles_once_per_setting(batch):
    from interjax.solve._solvers import _solve_sgd

    v = jnp.asarray(batch[0][:2])
    ij.fit_and_or(v, solver=ij.SGD(num_steps=50, learning_rate=3e-5))
    size = _solve_sgd._cache_size()
    ij.fit_and_or(v * 2, solver=ij.SGD(num_steps=50, learning_rate=3e-5))
    assert _solve_sgd._cache_size() == size


@pytest.mark.slow  # ~30 s on 2 cores; CI runs the slow set
@pytest.mark.parametrize(
    ("box_weight", "weight"), [(1.0, None), (2.0, None), (0.5, 1.0), (0.5, 1.5)]
)
def test_box_weight_changes_the_path_not_the_optimum(batch, box_weight, weight):
    """The weight ``c`` of the box block ``c(p + r)`` (default 0.5) and the order weight ``w``
    (default 1.2 at this n) only rescale dual blocks: with others each certificate still
    brackets HiGHS's optimum within 1e-3."""
    v, optima = batch
    problem, z, lam = and_or_problem(
        jnp.asarray(v[3]), 0.02 * abs(v[3, -1] - v[3, 0]), None, box_weight, weight=weight
    )
    eta = step_size(N_PLAYERS, box_weight, weight)
    s = jax.jit(lambda z, lam: pdhg_solve(problem, z, lam, eta=eta, tol=1e-3, max_iters=20_000))(
        z, lam
    )
    obj, low = float(s.best_objective), float(s.best_lower)
    assert low <= optima[3] * (1 + 1e-9) <= obj * (1 + 1e-9) and (obj - low) <= 1e-3 * obj


@pytest.mark.parametrize("block", [0, 1])
@pytest.mark.parametrize("row", [0, 0b0011, 0b1111, 0b0111])
def test_the_certificate_keeps_the_cheaper_of_two_repairs(row, block):
    """An excess δ at coalition T costs up to 2^{n-|T|}|δ| moved into p (Möbius) and about
    2^{|T|}|δ| moved into r (OR). The certified point is exactly feasible, its objective is the
    L1 norm of its own interactions, and it is the cheaper of "all into p" and "low orders
    into r" (both computed by hand here; each wins in some of these cases)."""
    n, tau, delta = 4, 0.1, 0.5
    op = operators(n)
    with jax.enable_x64(True):
        v = jnp.zeros(2**n)
        problem, _, lam = and_or_problem(v, jnp.asarray(tau))
        z = jnp.zeros((2, 2**n)).at[block, row].set(tau + delta)  # violates the box at T by δ
        z_feasible, objective, lower = problem.certify(z, lam)
        p, r = z_feasible
        assert float(jnp.abs(p + r - v).max()) <= tau + 1e-12
        own = float(jnp.abs(op.M(p)).sum() + jnp.abs(op.O(r)).sum())
        assert float(objective) == pytest.approx(own, rel=1e-12)

        def cost(p, r):
            return float(jnp.abs(op.M(p)).sum() + jnp.abs(op.O(r)).sum())

        all_into_p = cost(z[0].at[row].add(-delta), z[1])
        low_order = bin(row).count("1") < n / 2
        by_order = cost(z[0], z[1].at[row].add(-delta)) if low_order else all_into_p
        assert float(objective) == pytest.approx(min(all_into_p, by_order), rel=1e-12)
        assert float(lower) <= float(objective)


@pytest.mark.parametrize("weight", [1.0, 1.25])
def test_gram_inverse_is_the_inverse_of_the_weighted_gram(weight):
    """``gram_inverse(p, s, w) = (MᵀW²M + s·I)^{-1} p`` with ``W = diag(w^|S|)``, against the
    dense matrices (n = 4); the reversed one likewise for ``M∘F``."""
    n, shift = 4, 0.25
    op = operators(n)
    with jax.enable_x64(True):
        eye = jnp.eye(2**n)
        m = np.asarray(jax.vmap(op.M)(eye)).T  # columns: M e_S
        w = np.diag(weight ** ij.orders(n).astype(float))
        gram = m.T @ w @ w @ m + shift * np.eye(2**n)
        inverse = np.asarray(jax.vmap(lambda e: op.gram_inverse(e, shift, weight))(eye)).T
        np.testing.assert_allclose(inverse, np.linalg.inv(gram), atol=1e-12)
        flip = np.eye(2**n)[::-1]
        reversed_ = jax.vmap(lambda e: op.gram_inverse_reversed(e, shift, weight))(eye)
        np.testing.assert_allclose(
            np.asarray(reversed_).T, np.linalg.inv(flip @ gram @ flip), atol=1e-12
        )


def test_iterations_do_not_depend_on_the_scale_of_v(batch):
    """The primal weight starts at ``4 / std(v)``: fitting ``s·v`` takes the iterations of
    ``v`` and returns ``s`` times its objective and bound (up to rounding)."""
    v = jnp.asarray(batch[0])
    base = ij.fit_and_or(v)
    for s in (1e-3, 1e3):
        scaled = ij.fit_and_or(s * v)
        np.testing.assert_array_equal(scaled.iterations, base.iterations)
        np.testing.assert_allclose(scaled.objective, s * base.objective, rtol=1e-9)
        np.testing.assert_allclose(scaled.lower_bound, s * base.lower_bound, rtol=1e-9)


def test_the_primal_weight_stays_within_its_range(batch):
    """The rebalanced primal weight ω stays within ``primal_weight_range`` of its start (10 in
    the AND-OR problem); on this fit it leaves a range of 1.5 when nothing bounds it."""
    v = jnp.asarray(batch[0][3])
    problem, z, lam = and_or_problem(v, 0.02 * jnp.abs(v[-1] - v[0]))
    assert problem.primal_weight_range == 10.0

    def weights(problem):
        step = jax.jit(lambda s: pdhg_update(problem, s, step_size(N_PLAYERS)))
        state, out = pdhg_init(problem, z, lam), []
        for _ in range(30):
            state = step(state)
            out.append(float(state.omega / state.omega_start))
        return np.array(out)

    bounded = weights(problem._replace(primal_weight_range=1.5))
    assert bounded.max() <= 1.5 * (1 + 1e-12) and bounded.min() >= 1 / 1.5 * (1 - 1e-12)
    free = weights(problem._replace(primal_weight_range=float("inf")))
    assert free.max() > 1.5 or free.min() < 1 / 1.5


def test_paired_operators_are_the_separate_ones():
    """``and_or``, its transpose and ``gram_inverse_pair`` (one stacked butterfly for M and O)
    against M, O, Mᵀ, Oᵀ and the two Gram inverses applied one by one, with leading axes (the same
    arithmetic; compiled together, XLA may round the last bit differently); and the transpose
    against the definition ⟨K z, λ⟩ = ⟨z, Kᵀ λ⟩."""
    n = 5
    op = operators(n)
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        z = jnp.asarray(rng.normal(size=(3, 2, 2**n)))
        lam = jnp.asarray(rng.normal(size=(3, 2, 2**n)))

        @jax.jit  # one compilation, not one per butterfly pass
        def both(z, lam):
            return (
                (op.and_or(z), jnp.stack([op.M(z[:, 0]), op.O(z[:, 1])], axis=1)),
                (op.and_or_T(lam), jnp.stack([op.MT(lam[:, 0]), op.OT(lam[:, 1])], axis=1)),
                (
                    op.gram_inverse_pair(z, 0.25),
                    jnp.stack(
                        [op.gram_inverse(z[:, 0], 0.25), op.gram_inverse_reversed(z[:, 1], 0.25)],
                        axis=1,
                    ),
                ),
            )

        (kz, kz_sep), (kt, kt_sep), (g, g_sep) = both(z, lam)
        np.testing.assert_allclose(kz, kz_sep, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(kt, kt_sep, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(g, g_sep, rtol=1e-14, atol=1e-14)
        assert float(jnp.sum(kz * lam)) == pytest.approx(float(jnp.sum(z * kt)), rel=1e-12)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_transposes_are_the_matrix_transposes(n):
    """Mᵀ, Oᵀ, Zᵀ, Bᵀ (written-out butterflies) against the transposed dense matrices of M, O,
    Z, B, with leading axes."""
    op = operators(n)
    rng = np.random.default_rng(n)
    with jax.enable_x64(True):
        eye = jnp.eye(2**n)
        lam = jnp.asarray(rng.normal(size=(2, 3, 2**n)))
        for f, ft in [(op.M, op.MT), (op.O, op.OT), (op.Z, op.ZT), (op.B, op.BT)]:
            dense = np.asarray(jax.vmap(f)(eye)).T  # column j = f(e_j)
            want = np.einsum("ji,abj->abi", dense, np.asarray(lam))
            np.testing.assert_allclose(jax.jit(ft)(lam), want, rtol=1e-12, atol=1e-12)


def test_paired_and_separate_steps_give_the_same_fits(batch):
    """The stacked step changes the program, not the arithmetic: XLA may fuse it differently
    (last-bit differences), so the fits agree to rounding and take the same iterations."""
    from interjax.solve._solvers import _solve_optimal

    v, _ = batch
    v = jnp.asarray(v)
    tau = 0.02 * jnp.abs(v[:, -1] - v[:, 0])
    kw = dict(eta=step_size(N_PLAYERS), tol=1e-3, max_iters=4096, check_every=64, lanes=4)
    paired = _solve_optimal(v, tau, paired=True, **kw)
    separate = _solve_optimal(v, tau, paired=False, **kw)
    assert np.array_equal(paired[4], separate[4])  # iterations
    for a, b in zip(paired[:4], separate[:4], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("n", [1, 4, 7, 10])
def test_step_table_is_the_power_iteration(n):
    """The shipped steps are what the power iteration computes (a change of K or T that
    forgets the table fails here)."""
    assert step_size(n) == pytest.approx(power_step_size(n), rel=1e-12)
    unweighted = step_size(n, weight=1.0)  # the probe's other arm: a table too
    assert unweighted == pytest.approx(power_step_size(n, weight=1.0), rel=1e-12)
    assert step_size(n, 1.0) == power_step_size(n, 1.0)  # other box weights: computed


@pytest.mark.parametrize("n", [2, 5])
def test_power_step_is_the_operator_norm(n):
    """η = 0.99 / √(1.02 ‖K T Kᵀ‖), the norm from a dense eigendecomposition (float64)."""
    with jax.enable_x64(True):
        problem, _, lam = and_or_problem(jnp.zeros(2**n), jnp.zeros(()))
        eye = jnp.eye(lam.size).reshape(-1, *lam.shape)
        ktk = jax.jit(jax.vmap(lambda e: problem.K(problem.T(problem.KT(e))).ravel()))(eye)
    norm2 = np.linalg.eigvalsh(np.asarray(ktk + ktk.T) / 2).max()
    assert power_step_size(n) == pytest.approx(0.99 / np.sqrt(1.02 * norm2), rel=1e-9)
