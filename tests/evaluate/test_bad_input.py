"""Bad input to the sweep: a clear error before any model evaluation."""

import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax.evaluate import _sweep as sweep_module


def linear(params, xb):
    return xb @ params


@pytest.fixture
def model():
    return ij.from_fn(linear, jnp.ones((6, 3)), output=ij.log_odds(target=1))


@pytest.fixture
def no_sweep(monkeypatch):
    """Fail the test if the compiled sweep is reached: errors must come before any work."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the sweep ran before the input was validated")

    monkeypatch.setattr(sweep_module, "_sweep", forbidden)


X = jnp.arange(6.0)


@pytest.mark.usefixtures("no_sweep")
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"baseline": jnp.zeros(5)}, ValueError, "does not broadcast"),
        ({"baseline": jnp.zeros((2, 6))}, ValueError, "does not broadcast"),
        ({"baseline": np.array([1 + 1j] * 6)}, TypeError, "real number"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
    ],
)
def test_bad_baseline_and_chunk(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        ij.evaluate(model, X, ij.Players.features(4), **kwargs)


@pytest.mark.usefixtures("no_sweep")
def test_float_baseline_for_integer_input(model):
    with pytest.raises(TypeError, match="cannot replace integer inputs"):
        ij.evaluate(model, jnp.arange(6), ij.Players.features(4), baseline=0.5)


@pytest.mark.usefixtures("no_sweep")
@pytest.mark.parametrize("target", [3, -1, [0, 1]])
def test_target_out_of_range(model, target):
    with pytest.raises(ValueError, match="target"):
        ij.evaluate(
            model.with_output(ij.log_odds(target=np.array(target))), X, ij.Players.features(4)
        )


@pytest.mark.usefixtures("no_sweep")
def test_players_do_not_fit(model):
    with pytest.raises(ValueError, match="only 6 elements"):
        ij.evaluate(model, X, ij.Players.features(8))
    with pytest.raises(ValueError, match="last axis has 6 features"):
        ij.evaluate(model, X, ij.Players.features([0, 7]))


@pytest.mark.usefixtures("no_sweep")
def test_model_that_cannot_take_the_input():
    bad = ij.from_fn(linear, jnp.ones((5, 3)), output=ij.logit(target=0))
    with pytest.raises(ValueError, match="cannot be applied"):
        ij.evaluate(bad, X, ij.Players.features(4))


@pytest.mark.usefixtures("no_sweep")
def test_output_function_must_give_a_scalar(model):
    with pytest.raises(ValueError, match="scalar per masked input"):
        ij.evaluate(model.with_output(lambda o: o), X, ij.Players.features(4))


@pytest.mark.usefixtures("no_sweep")
def test_not_a_model_or_players(model):
    with pytest.raises(TypeError, match="from_nnx"):
        ij.evaluate(linear, X, ij.Players.features(4))
    with pytest.raises(TypeError, match=r"ij\.Players"):
        ij.evaluate(model, X, 4)


@pytest.mark.usefixtures("no_sweep")
def test_memory_refused_with_estimate(model, monkeypatch):
    monkeypatch.setattr(sweep_module, "_available_bytes", lambda device: 2**20)
    with pytest.raises(MemoryError, match=r"needs about .* GiB.*fewer players"):
        ij.evaluate(model, jnp.zeros((4, 30)), ij.Players.features(20), batched=True)


def test_nan_values_name_the_masks():
    # log of a negative number when player 0 is masked (baseline -1): NaN on half the masks
    m = ij.from_fn(
        lambda p, xb: jnp.log(xb[:, :1]) * p, jnp.ones((1, 2)), output=ij.logit(target=0)
    )
    with pytest.raises(FloatingPointError, match=r"NaN or infinite on 4 of 8.*T=0 players \(\)"):
        ij.evaluate(m, jnp.ones(3), ij.Players.features(3), baseline=-1.0)
    v = ij.evaluate(m, jnp.ones(3), ij.Players.features(3), baseline=-1.0, check_finite=False)
    assert np.isnan(np.asarray(v)).sum() == 4


def test_value_vector_not_power_of_two():
    for fn in (ij.and_interactions, ij.or_interactions, ij.shapley_values):
        with pytest.raises(ValueError, match="length 2\\*\\*n"):
            fn(jnp.zeros(12))
