"""Repeated calls of ``evaluate`` skip checks they already passed, and only those.

``evaluate`` remembers (per model instance, per value function, per players) what it checked on
an earlier call, so that a steady loop of calls pays for the sweep and not for its validation
(benchmarks/bench_engine.py, the sweep efficiency). Each memory must never let a bad input
through: these tests change what was checked and expect the refusal again.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij


def _model(target, classes: int = 3, features: int = 4):
    w = jnp.arange(1.0 * features * classes).reshape(features, classes) / 10.0
    return ij.from_fn(lambda p, x: x @ p, w, output=target)


def test_a_writable_target_is_checked_again_on_every_call():
    target = np.array([0, 1])  # the user's own (writable) array, passed to the class directly
    model = _model(ij.LogOdds(target))
    x = jnp.ones((2, 4))
    ij.evaluate(model, x, ij.Players.features(4))
    target[1] = 5  # changed in place after a passing call
    with pytest.raises(ValueError, match=r"target class \[0, 5\] out of range"):
        ij.evaluate(model, x, ij.Players.features(4))


def test_log_odds_keeps_a_read_only_copy_of_the_target():
    y = np.array([0, 1])
    out = ij.log_odds(target=y)
    y[1] = 5  # the caller's array is not the output's
    assert out.target.tolist() == [0, 1]
    assert not out.target.flags.writeable
    model = _model(out)
    x = jnp.ones((2, 4))
    first = np.asarray(ij.evaluate(model, x, ij.Players.features(4)))
    np.testing.assert_array_equal(np.asarray(ij.evaluate(model, x, ij.Players.features(4))), first)


def test_a_remembered_target_is_checked_again_for_another_batch():
    model = _model(ij.log_odds(target=np.array([0, 1])))
    ij.evaluate(model, jnp.ones((2, 4)), ij.Players.features(4))
    with pytest.raises(ValueError, match=r"one per input \(shape \(3,\)\)"):
        ij.evaluate(model, jnp.ones((3, 4)), ij.Players.features(4), batched=True)


def test_a_remembered_target_is_checked_again_for_fewer_classes():
    params_3 = jnp.ones((4, 3))
    model = ij.from_fn(lambda p, x: x @ p, params_3, output=ij.log_odds(target=2))
    ij.evaluate(model, jnp.ones(4), ij.Players.features(4))
    fewer = model.with_params(jnp.ones((4, 2)))  # a new model: two classes, target 2 is invalid
    with pytest.raises(ValueError, match="out of range: the model has 2 classes"):
        ij.evaluate(fewer, jnp.ones(4), ij.Players.features(4))


def test_players_that_do_not_fit_are_refused_on_every_call():
    model = _model(ij.log_odds(target=0), features=6)
    players = ij.Players.features(4, num_features=6)  # players on 6 features, inputs have 4
    for _ in range(2):
        with pytest.raises(ValueError, match="input's last axis has 4 features"):
            ij.evaluate(model, jnp.ones(4), players)
    ij.evaluate(model, jnp.ones(6), players)  # a fitting input still works after the refusals
    with pytest.raises(ValueError, match="input's last axis has 4 features"):
        ij.evaluate(model, jnp.ones(4), players)


def test_a_model_is_checked_again_for_another_input_shape():
    model = _model(ij.log_odds(target=0))
    ij.evaluate(model, jnp.ones(4), ij.Players.features(4))
    with pytest.raises(ValueError, match="cannot be applied"):
        ij.evaluate(model, jnp.ones(5), ij.Players.features(4))
