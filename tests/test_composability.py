"""The core composes with JAX's transformations (issue 13, item 7): ``jax.jit`` and ``jax.vmap``
of :func:`interjax.evaluate` (players static, closed over), of the transforms and of the
generalization power give the eager numbers, and a jitted call traces once per shape.

(The solver's composability is tested in tests/solve/test_composability.py.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax.analyze import generalization_labels, generalization_power, generalization_profile

jax.config.update("jax_enable_x64", True)

D, N = 6, 4


def _fn(params, x):
    return jnp.tanh(x @ params["w"]) @ params["u"]


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.normal(size=(D, 8))), "u": jnp.asarray(rng.normal(size=(8, 3)))}
    return ij.from_fn(_fn, params, output=ij.log_odds(target=1))


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    return jnp.asarray(rng.normal(size=(3, D))), jnp.asarray(rng.normal(size=(3, D)))


def _traced_once(fn, first, second):
    """``jax.jit(fn)`` on two arguments of one shape: both results and the number of traces."""
    traces = 0

    def counted(*args):
        nonlocal traces
        traces += 1
        return fn(*args)

    jitted = jax.jit(counted)
    out = jitted(*first), jitted(*second)
    return out, traces


def test_evaluate_jit_and_vmap(model, inputs):
    players = ij.Players.features(N, num_features=D)
    mask = jnp.linspace(-1.0, 1.0, D)
    xs, ys = inputs

    def values(x):
        return ij.evaluate(model, x, players, mask_value=mask)

    eager_x, eager_y = values(xs), values(ys)  # (3, 2**N): a batch
    (jit_x, jit_y), traces = _traced_once(values, (xs,), (ys,))
    assert traces == 1
    np.testing.assert_allclose(jit_x, eager_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jit_y, eager_y, rtol=1e-12, atol=1e-12)

    one = jax.vmap(lambda x: ij.evaluate(model, x, players, mask_value=mask))
    np.testing.assert_allclose(one(xs), eager_x, rtol=1e-12, atol=1e-12)
    (vj_x, vj_y), traces = _traced_once(one, (xs,), (ys,))
    assert traces == 1
    np.testing.assert_allclose(vj_x, eager_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vj_y, eager_y, rtol=1e-12, atol=1e-12)


def test_evaluate_jit_with_the_model_as_an_argument(model, inputs):
    """New parameters of the same shapes (the next checkpoint) do not retrace."""
    players = ij.Players.features(N, num_features=D)
    other = ij.from_fn(_fn, jax.tree.map(lambda p: p * 0.5, model.params), output=model.output)
    xs, ys = inputs
    (got_a, got_b), traces = _traced_once(
        lambda m, x: ij.evaluate(m, x, players), (model, xs), (other, ys)
    )
    assert traces == 1
    np.testing.assert_allclose(got_a, ij.evaluate(model, xs, players), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_b, ij.evaluate(other, ys, players), rtol=1e-12, atol=1e-12)


TRANSFORMS = {
    "and_interactions": ij.and_interactions,
    "or_interactions": ij.or_interactions,
    "shapley_values": ij.shapley_values,
    "reconstruct": lambda v: ij.reconstruct(ij.and_interactions(v), ij.or_interactions(v)),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_jit_and_vmap(name):
    fn = TRANSFORMS[name]
    rng = np.random.default_rng(2)
    v, w = (jnp.asarray(rng.normal(size=(3, 2**N))) for _ in range(2))
    eager_v, eager_w = fn(v), fn(w)
    (jit_v, jit_w), traces = _traced_once(fn, (v,), (w,))
    assert traces == 1
    np.testing.assert_allclose(jit_v, eager_v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jit_w, eager_w, rtol=1e-12, atol=1e-12)
    (vmap_v, vmap_w), traces = _traced_once(jax.vmap(fn), (v,), (w,))
    assert traces == 1
    np.testing.assert_allclose(vmap_v, eager_v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vmap_w, eager_w, rtol=1e-12, atol=1e-12)


def _case(seed: int, samples: int = 5, k: int = 3):
    """Interactions ``(S, 2, 2**N)``, their salient mask and K baselines' masks and values."""
    rng = np.random.default_rng(seed)
    values = jnp.asarray(rng.normal(size=(samples, 2, 2**N)))
    salient = jnp.abs(values) > 0.8
    base_values = jnp.asarray(rng.normal(size=(k, samples, 2, 2**N)))
    return values, salient, jnp.abs(base_values) > 0.8, base_values


@pytest.mark.parametrize("same_sign", [False, True])
@pytest.mark.parametrize("sample_axis", [None, 0])
def test_generalization_power_is_jittable_and_equals_the_profile(same_sign, sample_axis):
    def power(values, salient, base_salient, base_values):
        return generalization_power(
            values,
            salient,
            base_salient,
            same_sign=same_sign,
            baseline_interactions=base_values if same_sign else None,
            sample_axis=sample_axis,
        )

    first, second = _case(3), _case(4)
    (h1, h2), traces = _traced_once(power, first, second)
    assert traces == 1
    for case, h in ((first, h1), (second, h2)):
        values, salient, base_salient, base_values = case
        labels = generalization_labels(
            salient,
            base_salient,
            same_sign=same_sign,
            target_values=values if same_sign else None,
            baseline_values=base_values if same_sign else None,
        )
        want = generalization_profile(values, salient, labels, sample_axis=sample_axis).power
        assert h.shape == want.shape == ((5,) if sample_axis is None else ())
        np.testing.assert_allclose(h, want, rtol=1e-12)
        np.testing.assert_allclose(h, power(*case), rtol=1e-12)  # eager


def test_generalization_power_nothing_salient_is_nan():
    values, _, base_salient, _ = _case(5)
    h = jax.jit(generalization_power)(values, jnp.zeros(values.shape, bool), base_salient)
    assert np.isnan(np.asarray(h)).all()


def test_generalization_power_in_a_jitted_training_step():
    """The use it is for: H logged from inside a step that also updates parameters."""
    values, salient, base_salient, _ = _case(6)
    traces = 0

    @jax.jit
    def step(params, values):
        nonlocal traces
        traces += 1
        h = generalization_power(values * params, salient, base_salient, sample_axis=0)
        return params * 0.9, h

    params = jnp.float64(1.0)
    for _ in range(3):
        params, h = step(params, values)
    assert traces == 1 and 0.0 <= float(h) <= 1.0
