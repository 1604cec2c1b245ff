"""The compiled sweep: against hand-masked inputs, across adapters, chunks and parameter stacks."""

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax.evaluate._sweep import _sweep

D, K = 12, 3


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(D, 16, rngs=rngs)
        self.l2 = nnx.Linear(16, K, rngs=rngs)

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))


class LinenNet(linen.Module):
    @linen.compact
    def __call__(self, x):
        return linen.Dense(K, name="l2")(jnp.tanh(linen.Dense(16, name="l1")(x)))


def plain_fn(params, x):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


@pytest.fixture(scope="module")
def net():
    return NnxNet(nnx.Rngs(0))


@pytest.fixture(scope="module")
def plain_params(net):
    return {
        "w1": net.l1.kernel[...],
        "b1": net.l1.bias[...],
        "w2": net.l2.kernel[...],
        "b2": net.l2.bias[...],
    }


@pytest.fixture(scope="module")
def x():
    return jnp.asarray(np.random.default_rng(0).normal(size=D))


def brute_force_values(fn, x, membership, baseline, n, value):
    """v(T) by building every masked input by hand, one at a time (-1 kept, -2 masked)."""
    out = []
    for t in range(2**n):
        keep = np.array([m == -1 or (m >= 0 and t >> m & 1) for m in membership], bool)
        xt = np.where(keep, np.asarray(x), baseline)
        out.append(value(np.asarray(fn(xt[None]))[0]))
    return np.array(out)


def np_log_odds(logits, y):
    others = np.delete(logits, y)
    return logits[y] - np.log(np.exp(others).sum())


def test_values_equal_hand_masked_inputs(net, x):
    players = ij.Players.features([3, 0, 7, 11, 5], num_features=D)
    b = np.linspace(-1, 1, D)
    model = ij.from_nnx(net, output=ij.log_odds(target=2))
    v = ij.evaluate(model, x, players, mask_value=b)
    np.testing.assert_array_equal(v, ij.evaluate(model, x, players, baseline=b))  # the alias
    ref = brute_force_values(net, x, players.membership, b, 5, lambda o: np_log_odds(o, 2))
    assert v.shape == (32,) and v.dtype == jnp.float64
    np.testing.assert_allclose(v, ref, rtol=1e-5, atol=1e-5)


def test_background_masked(net, x):
    players = ij.Players.features(3, num_features=D, background="mask")
    model = ij.from_nnx(net, output=ij.logit(target=0))
    v = ij.evaluate(model, x, players)
    membership = [0, 1, 2] + [-2] * (D - 3)  # -2: never kept
    ref = brute_force_values(net, x, membership, 0.0, 3, lambda o: o[0])
    np.testing.assert_allclose(v, ref, rtol=1e-5, atol=1e-6)


def test_nnx_linen_fn_agree(net, x, plain_params):
    players = ij.Players.features(8)
    out = ij.log_odds(target=1)
    lin = LinenNet()
    variables = {
        "params": {
            "l1": {"kernel": plain_params["w1"], "bias": plain_params["b1"]},
            "l2": {"kernel": plain_params["w2"], "bias": plain_params["b2"]},
        }
    }
    vs = [
        ij.evaluate(m, x, players)
        for m in (
            ij.from_nnx(net, output=out),
            ij.from_linen(lin.apply, variables, output=out),
            ij.from_fn(plain_fn, plain_params, output=out),
        )
    ]
    np.testing.assert_allclose(vs[0], vs[1], atol=1e-6)
    np.testing.assert_allclose(vs[0], vs[2], atol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 3, 64, 1000, 4096])
def test_chunked_equals_unchunked(net, x, chunk_size):
    players = ij.Players.features(10)
    model = ij.from_nnx(net, output=ij.log_odds(target=0))
    full = ij.evaluate(model, x, players, chunk_size=2**10)
    # different batch shapes may round differently in the matmul: 1e-12 relative, not bitwise
    np.testing.assert_allclose(
        ij.evaluate(model, x, players, chunk_size=chunk_size), full, rtol=1e-12, atol=0
    )


def test_batch_of_inputs_with_targets(net):
    xs = jnp.asarray(np.random.default_rng(1).normal(size=(4, D)))
    targets = jnp.array([0, 1, 2, 1])
    players = ij.Players.features(6)
    model = ij.from_nnx(net, output=ij.log_odds(target=targets))
    vb = ij.evaluate(model, xs, players)
    assert vb.shape == (4, 64)
    for i in range(4):
        one = ij.evaluate(model.with_output(ij.log_odds(target=int(targets[i]))), xs[i], players)
        np.testing.assert_allclose(vb[i], one, atol=1e-6)


def test_per_sample_baselines(net):
    xs = jnp.asarray(np.random.default_rng(2).normal(size=(3, D)))
    bs = jnp.asarray(np.random.default_rng(3).normal(size=(3, D)))
    players = ij.Players.features(4)
    model = ij.from_nnx(net, output=ij.logit(target=1))
    vb = ij.evaluate(model, xs, players, mask_value=bs)
    for i in range(3):
        np.testing.assert_allclose(
            vb[i], ij.evaluate(model, xs[i], players, mask_value=bs[i]), atol=1e-6
        )


def test_stacked_parameters_match_one_at_a_time(x):
    nets = [NnxNet(nnx.Rngs(s)) for s in range(3)]
    models = [ij.from_nnx(m, output=ij.log_odds(target=0)) for m in nets]
    players = ij.Players.features(7)
    stacked = ij.stack_models(models)
    v = ij.evaluate(stacked, x, players)
    assert v.shape == (3, 128)
    for k, m in enumerate(models):
        np.testing.assert_allclose(v[k], ij.evaluate(m, x, players), atol=1e-6)
    xs = jnp.stack([x, -x])
    vb = ij.evaluate(stacked, xs, players, batched=True)
    assert vb.shape == (3, 2, 128)
    np.testing.assert_allclose(vb[2, 1], ij.evaluate(models[2], -x, players), atol=1e-6)


def test_compiles_once_for_new_inputs_and_parameters(x):
    """A second input, a second parameter set and a second target reuse the compiled sweep."""
    traces = []

    def fn(params, xb):
        traces.append(1)  # runs only while tracing
        return plain_fn(params, xb)

    def params(seed):
        r = np.random.default_rng(seed)
        return {
            "w1": jnp.asarray(r.normal(size=(D, 16))),
            "b1": jnp.zeros(16),
            "w2": jnp.asarray(r.normal(size=(16, K))),
            "b2": jnp.zeros(K),
        }

    players = ij.Players.features(9)
    m1 = ij.from_fn(fn, params(0), output=ij.log_odds(target=0))
    ij.evaluate(m1, x, players)
    after_first = len(traces)
    ij.evaluate(m1.with_params(params(1)), x + 1, players)
    ij.evaluate(m1.with_params(params(2)).with_output(ij.log_odds(target=2)), -x, players)
    assert len(traces) == after_first  # eval_shape probes reuse their trace too


def test_nnx_new_checkpoint_same_architecture_does_not_retrace(x):
    players = ij.Players.features(9)
    ij.evaluate(ij.from_nnx(NnxNet(nnx.Rngs(10)), output=ij.log_odds(target=0)), x, players)
    size = _sweep._cache_size()
    ij.evaluate(ij.from_nnx(NnxNet(nnx.Rngs(11)), output=ij.log_odds(target=1)), x * 2, players)
    assert _sweep._cache_size() == size


def _sum_of_logits(o):
    # module level on purpose. Twice under xdist in CI this test read another value function's
    # values (a lambda's once, log-odds for probability once; never reproduced alone): the
    # sweep now also keys its compile cache on the value function's class (_sweep.output_kind)
    return o.sum()


def test_value_functions(net, x):
    players = ij.Players.features(3)
    logits = np.asarray(net(x[None]))[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    for output, expect in [
        (ij.log_odds(target=1), np.log(p[1] / (1 - p[1]))),
        (ij.logit(target=1), logits[1]),
        (ij.probability(target=1), p[1]),
        (_sum_of_logits, logits.sum()),
    ]:
        v = ij.evaluate(ij.from_nnx(net, output=output), x, players)
        np.testing.assert_allclose(v[-1], expect, rtol=1e-5)
    rel = ij.evaluate(ij.from_nnx(net, output=ij.log_odds(target=1, minus_empty=True)), x, players)
    assert rel[0] == 0.0


def test_log_odds_stable_for_extreme_logits():
    out = ij.log_odds(target=0)(jnp.array([800.0, 0.0, -5.0]))
    np.testing.assert_allclose(out, 800.0 - np.logaddexp(0.0, -5.0))
    single = ij.log_odds(target=0)(jnp.array([3.0]))  # one-logit binary model: class 0 → -z
    assert float(single) == -3.0


def test_image_patches_channels_follow_their_pixel():
    img = jnp.asarray(np.random.default_rng(4).normal(size=(4, 4, 2)))
    players = ij.Players.patches((4, 4), 2)
    model = ij.from_fn(
        lambda p, xb: xb.reshape(xb.shape[0], -1) @ p, jnp.ones((32, 1)), output=lambda o: o[0]
    )
    v = ij.evaluate(model, img, players)
    patch_sums = [float(img[r : r + 2, c : c + 2].sum()) for r in (0, 2) for c in (0, 2)]
    for t in range(16):
        expect = sum(s for i, s in enumerate(patch_sums) if t >> i & 1)
        assert abs(float(v[t]) - expect) < 1e-9
    flat = ij.evaluate(
        model,
        img.reshape(-1),
        ij.Players.segments(
            np.repeat(np.asarray(players.membership)[..., None], 2, -1).reshape(-1)
        ),
    )
    np.testing.assert_allclose(flat, v, atol=1e-12)


def test_library_code_is_clean_under_strict_rank_promotion(x, plain_params):
    """interjax's own code never relies on implicit rank promotion (users may forbid it)."""

    def strict_fn(params, xb):
        h = jnp.tanh(xb @ params["w1"] + params["b1"][None])
        return h @ params["w2"] + params["b2"][None]

    with jax.numpy_rank_promotion("raise"):
        model = ij.from_fn(strict_fn, plain_params, output=ij.log_odds(target=0))
        v = ij.evaluate(model, jnp.stack([x, x]), ij.Players.features(5), batched=True)
        ij.shapley_values(v), ij.pairwise_shapley_interactions(v), ij.banzhaf_values(v)
        ij.noise_floor(v), ij.noise_floor(v, kind="or")
        ij.matching_error(v, ij.and_interactions(v), ij.or_interactions(v * 0))


def test_batch_of_one_image_with_its_target_is_a_batch():
    """(1, 8, 8, 1) with one target: 64 elements also fit 8×8 patches flattened, but one target
    per row says batch."""
    img = jnp.asarray(np.random.default_rng(5).normal(size=(1, 8, 8, 1)))
    model = ij.from_fn(
        lambda p, xb: xb.reshape(xb.shape[0], -1) @ p,
        jnp.ones((64, 2)),
        output=ij.logit(target=np.array([1])),
    )
    v = ij.evaluate(model, img, ij.Players.patches((8, 8), 4))
    assert v.shape == (1, 16)
