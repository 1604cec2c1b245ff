"""interjax's own SGD schedule (``default_sgd``, what ``ij.SGD()`` uses): the learning rate at
steps 0, num_steps/2 and num_steps, and momentum 0.9, read off the optimizer's updates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interjax as ij
from interjax.solve._sgd import default_sgd


def _update(opt, state, grad):
    updates, state = opt.update(jnp.asarray(grad, jnp.float64), state)
    return float(-updates), state


def _skip(opt, state, steps):
    """``steps`` updates with a zero gradient: the momentum stays 0, the step count moves on."""

    def body(state, _):
        return opt.update(jnp.zeros((), jnp.float64), state)[1], None

    return jax.lax.scan(body, state, None, length=steps)[0]


@pytest.mark.parametrize(("lr", "num_steps"), [(1e-4, 10_000), (1e-3, 20)])
def test_learning_rate_decays_log_linearly_to_a_tenth(lr, num_steps):
    opt = default_sgd(lr, num_steps)
    state = opt.init(jnp.zeros((), jnp.float64))
    # a unit gradient on a fresh momentum moves by exactly the current learning rate
    assert _update(opt, state, 1.0)[0] == pytest.approx(lr, rel=1e-6)  # step 0 (float32 schedule)
    half = _skip(opt, state, num_steps // 2)
    assert _update(opt, half, 1.0)[0] == pytest.approx(lr * 10**-0.5, rel=1e-6)  # a 1/sqrt(10)
    end = _skip(opt, state, num_steps)
    assert _update(opt, end, 1.0)[0] == pytest.approx(lr / 10, rel=1e-6)  # a tenth at the end


def test_momentum_is_0_9():
    lr, num_steps = 1e-2, 1_000_000  # the rate barely moves over three steps
    opt = default_sgd(lr, num_steps)
    state = opt.init(jnp.zeros((), jnp.float64))
    moves = []
    for grad in (1.0, 0.0, 0.0):
        move, state = _update(opt, state, grad)
        moves.append(move / lr)
    np.testing.assert_allclose(moves, [1.0, 0.9, 0.81], rtol=1e-5)


def test_sgd_solver_uses_default_sgd():
    """``ij.SGD()`` with no optimizer runs ``default_sgd(learning_rate, num_steps)``, cached so
    that equal settings give the same object (one compile)."""
    solver = ij.SGD(num_steps=20, learning_rate=1e-3)
    assert solver.optimizer is None
    assert default_sgd(1e-3, 20) is default_sgd(1e-3, 20)
    v = jnp.asarray(np.random.default_rng(0).normal(size=8))
    fit = ij.fit_and_or(v, solver=solver)
    want = ij.fit_and_or(v, solver=ij.SGD(num_steps=20, optimizer=default_sgd(1e-3, 20)))
    np.testing.assert_array_equal(np.asarray(fit.and_), np.asarray(want.and_))
    np.testing.assert_array_equal(np.asarray(fit.or_), np.asarray(want.or_))
