"""``ij.train`` refuses bad settings and inputs before any work, saying what was wrong and what
to do: λ < 0, m < 1 or larger than the batch, R < 1, baselines of another architecture, order
weights of the wrong length, and n above the memory budget of the m × 2**n masked inputs."""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax.data import MLP


def _fn(w, x):
    return jnp.stack([jnp.zeros(len(x)), x @ w], -1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lam": -0.1}, ValueError, "lam must be a finite number >= 0"),
        ({"lam": float("nan")}, ValueError, "lam must be a finite number"),
        ({"refresh_every": 0}, ValueError, "refresh_every must be an int >= 1"),
        ({"refresh_every": 2.5}, TypeError, "refresh_every must be an int"),
        ({"num_samples": 0}, ValueError, "num_samples must be an int >= 1"),
        ({"scope": "some"}, ValueError, "scope must be one of"),
        ({"order_weights": (1.0, -1.0)}, ValueError, r"order_weights\[1\] must be"),
        ({"settings": {"q_ratio": 0.02}}, TypeError, "AnalysisSettings"),
        ({"solver": "optimal"}, TypeError, "solver must be a solver object"),
    ],
)
def test_bad_settings_are_refused_when_made(kwargs, error, match):
    with pytest.raises(error, match=match):
        ij.train.PenaltyConfig(**kwargs)


@pytest.fixture(scope="module")
def case():
    model = ij.from_fn(_fn, jnp.ones(4), output=ij.logit(1))
    x, y = jnp.ones((3, 4)), np.ones(3, int)
    return model, x, y, ij.Players.features(4)


def _refused(error, match, model, x, y, baselines, players, **kwargs):
    """Raised, and at once (before any sweep or fit: well under the seconds a fit takes)."""
    t0 = time.perf_counter()
    with pytest.raises(error, match=match):
        ij.train.refresh_penalty(model, x, y, baselines, players, **kwargs)
    assert time.perf_counter() - t0 < 5


def test_more_samples_than_the_batch(case):
    model, x, y, players = case
    cfg = ij.train.PenaltyConfig(num_samples=4)
    match = r"num_samples m = 4 is larger than the batch \(x of shape \(3, 4\)\)"
    _refused(ValueError, match, model, x, y, [jnp.ones(4)], players, config=cfg)


def test_labels_that_do_not_match_the_batch(case):
    model, x, _, players = case
    cfg = ij.train.PenaltyConfig(num_samples=2)
    bad_y = np.ones(2, int)
    _refused(ValueError, "y must hold the batch's", model, x, bad_y, [x[0]], players, config=cfg)


def test_baselines_of_another_architecture(case):
    model, x, y, players = case
    cfg = ij.train.PenaltyConfig(num_samples=2)
    other = ij.from_fn(lambda w, x: _fn(w, x) * 2, jnp.ones(4), output=ij.logit(1))
    for baselines, match in [
        ([jnp.ones(4), jnp.ones(5)], r"baseline 1 is of another architecture.*\(5,\) vs \(4,\)"),
        ([other], "baseline 0 is of another architecture"),
        ([], "need at least one baseline"),
    ]:
        _refused(ValueError, match, model, x, y, baselines, players, config=cfg)


def test_nnx_baselines_of_another_architecture():
    model = MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(0))
    wider = MLP(4, 2, hidden=(16,), rngs=nnx.Rngs(1))
    deeper = MLP(4, 2, hidden=(8, 8), rngs=nnx.Rngs(2))
    x, y = np.ones((2, 4), np.float32), np.array([0, 1])
    cfg = ij.train.PenaltyConfig(num_samples=2)
    players = ij.Players.features(4)
    for base in (wider, deeper):
        match = "baseline 0 is of another architecture"
        _refused(ValueError, match, model, x, y, [base], players, config=cfg)


def test_order_weights_of_the_wrong_length(case):
    model, x, y, players = case
    cfg = ij.train.PenaltyConfig(num_samples=2, order_weights=(1.0, 1.0, 1.0))
    match = r"order_weights has 3 entries but n = 4 players need n \+ 1 = 5"
    _refused(ValueError, match, model, x, y, [jnp.ones(4)], players, config=cfg)


def test_n_above_the_memory_budget():
    """m × 2**n masked inputs with their activations for the backward pass, against the budget
    (given, or half the free memory): refused with the estimate."""
    model = ij.from_fn(_fn, jnp.ones(40), output=ij.logit(1))
    x, y, bases = jnp.ones((8, 40)), np.ones(8, int), [jnp.ones(40)]
    for n, cfg, match in [
        (28, ij.train.PenaltyConfig(num_samples=8), r"m = 8 samples × 2\*\*28 masked inputs"),
        (12, ij.train.PenaltyConfig(num_samples=8, memory_budget=2**20), r"budget is 0\.00 GiB"),
    ]:
        players = ij.Players.features(n, num_features=40)
        _refused(MemoryError, match, model, x, y, bases, players, config=cfg)
    need = ij.train.penalty_memory(model, x, ij.Players.features(12, num_features=40), 8)
    assert need["inputs"] == 8 * 2**12 and need["total"] > 2**20


def test_penalty_refuses_what_is_not_its_state(case):
    model, *_ = case
    with pytest.raises(TypeError, match="state must be the PenaltyState"):
        ij.train.penalty(model, {"gamma": 0})
    with pytest.raises(TypeError, match=r"model must be a flax\.nnx\.Module or an interjax Model"):
        ij.train.penalty_memory(lambda x: x, np.ones((2, 4)), ij.Players.features(4), 1)
