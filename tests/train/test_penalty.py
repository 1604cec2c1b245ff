"""``ij.train``: the penalty on non-generalizable interactions (docs/method.md §6) against its
definition written out (brute-force masked inputs, Möbius and OR sums), its gradient against
finite differences (float64, the root conftest turns x64 on), zero when everything salient
generalizes, one compile for a training loop across refreshes, and its refresh against the fits
and labels of the analysis."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import interjax as ij
from interjax.analyze import AnalysisSettings, generalization_labels
from interjax.data import MLP
from tests import oracles

jax.config.update("jax_enable_x64", True)

D = N_PLAYERS = 4
SETTINGS = AnalysisSettings()
# HiGHS (SciPy's LP solver, eager) for the refreshes: at n = 4 it needs no compilation, and no
# test here depends on which solver made the split (the doctests and the benchmark use PDHG);
# every refresh here fits (K+1) · m = 3 · 3 value vectors: one compiled shape
HIGHS = ij.HiGHS()


def _fn(params, x):
    return jnp.tanh(x @ params["w"]) @ params["u"]


def _params(seed):
    rng = np.random.default_rng(seed)
    return {"w": jnp.asarray(rng.normal(size=(D, 6))), "u": jnp.asarray(rng.normal(size=(6, 3)))}


@pytest.fixture(scope="module")
def case():
    """A target, two baselines of its architecture, a batch of 5 and the refreshed state."""
    model = ij.from_fn(_fn, _params(0), output=ij.logit(0))
    bases = [_params(1), _params(2)]
    rng = np.random.default_rng(3)
    x, y = jnp.asarray(rng.normal(size=(5, D))), np.array([0, 2, 1, 1, 0])
    mask = jnp.asarray(rng.normal(size=D) * 0.1)
    cfg = ij.train.PenaltyConfig(num_samples=3, solver=HIGHS)
    state = ij.train.refresh_penalty(
        model, x, y, bases, ij.Players.features(N_PLAYERS), config=cfg, mask_value=mask
    )
    return model, bases, x, y, mask, state


def _log_odds(logits, y):
    others = np.delete(logits, y)
    return logits[y] - np.log(np.exp(others).sum())


def _brute_values(params, x, y, mask):
    """v(T) for every T, one masked input at a time (no interjax)."""
    n = len(x)
    out = np.zeros(2**n)
    for t in range(2**n):
        keep = np.array([(t >> i) & 1 for i in range(n)], bool)
        x_t = np.where(keep, x, mask)
        logits = np.asarray(_fn(params, jnp.asarray(x_t)[None]))[0]
        out[t] = _log_odds(logits, y)
    return out


def _brute_penalty(params, state):
    """(1/m) Σ_i Σ_{penalized} w_|S| |I_kind(S)| with the Möbius and OR sums written out."""
    x, y, b = np.asarray(state.x), np.asarray(state.targets), np.asarray(state.mask_value)
    gamma, q = np.asarray(state.gamma), np.asarray(state.q)
    weights = np.asarray(state.order_weights)
    total = 0.0
    for i in range(len(x)):
        v = _brute_values(params, x[i], y[i], b)
        and_ = oracles.mobius((v + q[i]) / 2 + gamma[i])
        or_ = oracles.or_interactions((v + q[i]) / 2 - gamma[i])
        for s in range(len(v)):  # the fit's fold: OR of ∅ and single players into AND
            if oracles.popcount(s) <= 1:
                and_[s], or_[s] = and_[s] + or_[s], 0.0
        for kind, inter in enumerate((and_, or_)):
            for s in range(len(v)):
                if state.penalized[i, kind, s]:
                    total += weights[oracles.popcount(s)] * abs(inter[s])
    return total / len(x)


def _check_directional_derivative(f, params, seed, h=1e-6):
    """⟨∇f, d⟩ against the central difference (f(p + h d) - f(p - h d)) / 2h, d random."""
    rng = np.random.default_rng(seed)
    d = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape)), params)
    grad = jax.grad(f)(params)
    fd = (
        f(jax.tree.map(lambda p, e: p + h * e, params, d))
        - f(jax.tree.map(lambda p, e: p - h * e, params, d))
    ) / (2 * h)
    pairs = zip(jax.tree.leaves(grad), jax.tree.leaves(d), strict=True)
    analytic = sum(jnp.vdot(g, e) for g, e in pairs)
    np.testing.assert_allclose(analytic, fd, rtol=1e-6, atol=1e-9)


def test_penalty_equals_its_definition(case):
    model, _, _, _, _, state = case
    assert state.penalized.any()  # the case penalizes something
    np.testing.assert_allclose(
        ij.train.penalty(model, state), _brute_penalty(model.params, state), rtol=1e-12
    )
    # other masks, order weights and parameters than the refresh's: still the definition
    rng = np.random.default_rng(4)
    other = dataclasses.replace(
        state,
        penalized=jnp.asarray(rng.random(state.penalized.shape) < 0.5),
        order_weights=jnp.asarray(rng.random(N_PLAYERS + 1)),
    )
    params = _params(7)
    np.testing.assert_allclose(
        ij.train.penalty(model.with_params(params), other),
        _brute_penalty(params, other),
        rtol=1e-12,
    )


def test_at_the_refresh_the_interactions_are_the_fit(case):
    """With the refresh's parameters, (v+q)/2 ± γ gives back the fit's AND and OR terms: the
    penalty is the fit's strength of the penalized interactions."""
    model, _, _, _, _, state = case
    fit_strength = jnp.where(state.penalized, jnp.abs(state.interactions), 0.0).sum((-2, -1))
    np.testing.assert_allclose(ij.train.penalty(model, state), fit_strength.mean(), rtol=1e-9)


def test_gradient_matches_finite_differences(case):
    model, _, _, _, _, state = case

    def f(params):
        return ij.train.penalty(model.with_params(params), state)

    for seed in range(3):
        _check_directional_derivative(f, model.params, seed)


def test_zero_when_every_salient_interaction_generalizes(case):
    """Baselines that share every salient interaction (the model itself): nothing penalized,
    penalty and gradient zero, H = 1."""
    model, _, x, y, mask, _ = case
    cfg = ij.train.PenaltyConfig(num_samples=3, solver=HIGHS)
    players = ij.Players.features(N_PLAYERS)
    state = ij.train.refresh_penalty(
        model, x, y, [model.params] * 2, players, config=cfg, mask_value=mask
    )
    assert state.salient.any() and not state.penalized.any()
    assert float(ij.train.penalty(model, state)) == 0.0
    grad = jax.grad(lambda p: ij.train.penalty(model.with_params(p), state))(model.params)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(grad))
    assert float(state.power) == 1.0 and float(state.nongeneralizable_strength) == 0.0


def test_labels_are_the_analysis_labels(case):
    """The refresh labels as the analysis does: G against the baselines' fits, and the "all"
    scope penalizes every non-empty (S, kind) no baseline has salient."""
    model, bases, x, y, mask, state = case
    players = ij.Players.features(N_PLAYERS)
    stacked = ij.stack_models(model, [model.params, *bases])
    v = ij.evaluate(stacked.with_output(ij.log_odds(target=y[:3])), x[:3], players, mask_value=mask)
    fit = ij.fit_and_or(v, SETTINGS.q_ratio, solver=HIGHS)
    sal = np.asarray(ij.salient_mask(fit, ratio=SETTINGS.ratio))
    np.testing.assert_array_equal(state.salient, sal[0])
    want = sal[0] & ~(sal[1] | sal[2])
    np.testing.assert_array_equal(state.penalized, want)
    np.testing.assert_array_equal(state.generalizable, generalization_labels(sal[0], sal[1:]))
    cfg = ij.train.PenaltyConfig(num_samples=3, solver=HIGHS, scope="all")
    every = ij.train.refresh_penalty(model, x, y, bases, players, config=cfg, mask_value=mask)
    nonempty = np.arange(2**N_PLAYERS) > 0
    np.testing.assert_array_equal(every.penalized, ~(sal[1] | sal[2]) & nonempty)


def _nnx_mlp(seed):
    """interjax's example MLP with float64 parameters."""
    model = MLP(D, 3, hidden=(8,), rngs=nnx.Rngs(seed))
    state = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda a: a.astype(jnp.float64), state))
    return model


def test_one_compile_for_a_training_loop_across_refreshes():
    """An NNX training step with the penalty traces once over steps and refreshes (the state is
    data), and its gradient is nnx.value_and_grad's (the model's parameters move)."""
    model, bases = _nnx_mlp(0), [_nnx_mlp(1), _nnx_mlp(2)]
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    players = ij.Players.features(N_PLAYERS)
    cfg = ij.train.PenaltyConfig(lam=0.5, num_samples=3, refresh_every=2, solver=HIGHS)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(12, D)), rng.integers(0, 3, 12)
    traces = 0

    @nnx.jit
    def step(model, optimizer, xb, yb, state):
        nonlocal traces
        traces += 1

        def loss_fn(m):
            task = optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()
            return task + cfg.lam * ij.train.penalty(m, state)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    before = np.asarray(model.head.kernel[...]).copy()
    state = None
    for i in range(4):
        xb, yb = x[2 * i : 2 * i + 4], y[2 * i : 2 * i + 4]
        if cfg.due(i):
            state = ij.train.refresh_penalty(model, xb, yb, bases, players, config=cfg)
        step(model, optimizer, xb, yb, state)
    assert traces == 1
    assert not np.allclose(before, model.head.kernel[...])


@pytest.mark.slow
def test_nnx_gradient_matches_finite_differences():
    """Through an NNX module (read in inference mode, as the refresh reads it), with every
    non-shared interaction penalized (scope "all"). Checked away from the refresh's parameters:
    there the optimal split is sparse, so the non-salient penalized terms sit at |I| = 0 (within
    the solver's precision), where |.| has a kink and no finite difference is a derivative."""
    model, bases = _nnx_mlp(3), [_nnx_mlp(4), _nnx_mlp(5)]
    players = ij.Players.features(N_PLAYERS)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(3, D)), np.array([1, 2, 0])
    mask = rng.normal(size=D)  # not 0: zero inputs and zero biases sit on ReLU's kink
    cfg = ij.train.PenaltyConfig(num_samples=3, solver=HIGHS, scope="all")
    state = ij.train.refresh_penalty(model, x, y, bases, players, config=cfg, mask_value=mask)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def f(p):
        return ij.train.penalty(nnx.merge(graphdef, p, rest), state)

    moved = jax.tree.map(lambda p: p + 0.05 * jnp.asarray(rng.normal(size=p.shape)), params)
    assert float(f(moved)) > float(f(params)) > 0
    _check_directional_derivative(f, moved, 8)


@pytest.mark.slow
def test_penalized_training_with_the_default_solver():
    """A short NNX training loop on the planted-rule task with the default settings (PDHG
    refreshes): the penalized model ends with less penalized strength than the plain one
    trained with the same seed, batches and schedule, and the refresh's labels are the
    analysis's (fit_models + label_fits) on the same samples."""
    ds = ij.data.planted_rules(num_train=64, num_test=64, num_features=6, seed=1)
    players = ij.Players.features(6)
    split = ij.analyze.baseline_split(ds, protocol="paper")
    bases = ij.analyze.train_baselines(
        lambda seed: MLP(6, 2, hidden=(16,), rngs=nnx.Rngs(seed)),
        split,
        train=ij.data.train_classifier,
        num=2,
        steps=200,
        batch_size=32,
        learning_rate=1e-2,
    )
    cfg = ij.train.PenaltyConfig(lam=1.0, num_samples=4, refresh_every=10)
    x, y = ds.x_train, ds.y_train
    check = ij.train.refresh_penalty(
        MLP(6, 2, hidden=(16,), rngs=nnx.Rngs(0)), x, y, bases, players, config=cfg
    )
    template = ij.from_nnx(bases[0], output=ij.log_odds(0))
    target, base_fits = ij.analyze.fit_models(
        template,
        [
            [ij.from_nnx(MLP(6, 2, hidden=(16,), rngs=nnx.Rngs(0)), output=ij.log_odds(0)).params],
            [ij.from_nnx(b, output=ij.log_odds(0)).params for b in bases],
        ],
        x[:4],
        y[:4],
        players,
    )
    traj = ij.analyze.label_fits(target, base_fits, steps=[0], targets=y[:4])
    np.testing.assert_array_equal(check.salient, traj.salient[0])
    np.testing.assert_array_equal(check.generalizable, traj.generalizable[0])

    @nnx.jit
    def step(model, optimizer, xb, yb, state, lam):
        def loss_fn(m):
            task = optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()
            return task + lam * ij.train.penalty(m, state)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    final = {}
    for lam in (0.0, cfg.lam):
        model = MLP(6, 2, hidden=(16,), rngs=nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
        order = np.random.default_rng(0)
        for i in range(60):
            idx = order.choice(len(x), 16, replace=False)
            if cfg.due(i):
                state = ij.train.refresh_penalty(model, x[idx], y[idx], bases, players, config=cfg)
            step(model, optimizer, x[idx], y[idx], state, lam)
        final[lam] = float(ij.train.penalty(model, state))
    assert final[cfg.lam] < final[0.0]
