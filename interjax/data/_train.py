"""A plain optax training loop for the example classifiers (demo, tests, notebooks)."""

from __future__ import annotations

import functools

import jax
import numpy as np
import optax
from flax import nnx

from interjax._caches import cache_dict, cached

__all__ = ["Trainer", "accuracy", "cross_entropy", "train_classifier", "train_linen_classifier"]


def cross_entropy(model: nnx.Module, x, y) -> float:
    """Mean softmax cross-entropy of ``model`` on ``(x, y)``.

        CE = -(1/B) Σ_b log softmax(f(x_b))_{y_b}

    Args:
      model: any callable mapping ``x`` ``(B, ...)`` to logits ``(B, C)``.
      x: ``(B, ...)`` inputs; y: ``(B,)`` integer labels.

    Returns:
      A Python float.

    Example:
      >>> import numpy as np
      >>> from interjax.data import cross_entropy
      >>> logits = np.zeros((2, 2))  # uniform predictions: CE = log 2
      >>> round(cross_entropy(lambda x: x, logits, np.array([0, 1])), 4)
      0.6931
    """
    logits = model(x)
    return float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())


def accuracy(model: nnx.Module, x, y) -> float:
    """Fraction of ``(x, y)`` that ``model`` classifies correctly.

        acc = (1/B) Σ_b [argmax_c f(x_b)_c = y_b]

    Args:
      model: any callable mapping ``x`` ``(B, ...)`` to logits ``(B, C)``.
      x: ``(B, ...)`` inputs; y: ``(B,)`` integer labels.

    Returns:
      A Python float in [0, 1].

    Example:
      >>> import numpy as np
      >>> from interjax.data import accuracy
      >>> logits = np.array([[2.0, 1.0], [0.0, 3.0]])  # predicts classes 0 and 1
      >>> accuracy(lambda x: x, logits, np.array([0, 0]))
      0.5
    """
    return float((np.asarray(model(x)).argmax(-1) == np.asarray(y)).mean())


@cached("data.adamw")
def _adamw(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    """One optax object per setting: the optimizer's transformation is part of the jitted
    step's static graph, so a new object per Trainer would compile the step again."""
    return optax.adamw(learning_rate, weight_decay=weight_decay)


def _minibatches(n: int, batch_size: int, seed: int):
    """Row indices of minibatches of ``min(batch_size, n)`` rows, drawn without replacement
    within each epoch from a seeded generator (a new permutation when too few rows are left)."""
    rng = np.random.default_rng(seed)
    size = min(batch_size, n)
    order, pos = rng.permutation(n), 0
    while True:
        if pos + size > n:
            order, pos = rng.permutation(n), 0
        yield order[pos : pos + size]
        pos += size


@functools.partial(nnx.jit, static_argnames="call_kwargs")
def _step(model, optimizer, xb, yb, call_kwargs=()):
    def loss_fn(m):
        logits = m(xb, **dict(call_kwargs))
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


class Trainer:
    """Adam(W) on minibatches of ``(x, y)`` that can be resumed: ``run(k)`` continues where the
    last call stopped (same optimizer moments, same minibatch stream), so saving checkpoints
    between calls does not change the training trajectory.

    Minibatches are drawn without replacement within each epoch from a seeded generator, so the
    same seed gives the same model. Each step minimizes :func:`cross_entropy` on a minibatch of
    ``min(batch_size, N)`` rows of ``x`` ``(N, ...)``, ``y`` ``(N,)``; the model is updated in
    place, in training mode (``model.train()``: Dropout on, BatchNorm updating its statistics;
    a ``train``/``deterministic``-style argument of ``__call__`` is set by
    :func:`interjax.evaluate.inference_kwargs` with ``train=True``).

    Example:
      >>> from flax import nnx
      >>> from interjax.data import MLP, Trainer, cross_entropy, planted_rules
      >>> ds = planted_rules(num_train=32, num_test=8)
      >>> model = MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(0))
      >>> before = cross_entropy(model, ds.x_train, ds.y_train)
      >>> trainer = Trainer(model, ds.x_train, ds.y_train, batch_size=8, learning_rate=1e-2)
      >>> _ = trainer.run(3)
      >>> _ = trainer.run(2)  # continues: same optimizer state and minibatch stream
      >>> trainer.steps_done, cross_entropy(model, ds.x_train, ds.y_train) < before
      (5, True)
    """

    def __init__(
        self,
        model: nnx.Module,
        x,
        y,
        *,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        seed: int = 0,
    ):
        from interjax.evaluate import inference_kwargs

        self.model = model
        model.train()
        self.call_kwargs = tuple(sorted(inference_kwargs(model, train=True).items()))
        self.x, self.y = x, y
        self.optimizer = nnx.Optimizer(
            model, _adamw(float(learning_rate), float(weight_decay)), wrt=nnx.Param
        )
        self.batches = _minibatches(len(x), batch_size, seed)
        self.steps_done = 0

    def run(self, steps: int) -> nnx.Module:
        """Take ``steps`` more minibatch updates; returns the (same, updated) model."""
        for _ in range(steps):
            idx = next(self.batches)
            _step(self.model, self.optimizer, self.x[idx], self.y[idx], self.call_kwargs)
        self.steps_done += steps
        return self.model


def train_classifier(
    model: nnx.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> nnx.Module:
    """Train ``model`` in place for ``steps`` minibatch updates; returns it (:class:`Trainer`).

    Adam(W) on the mean :func:`cross_entropy` of minibatches of ``x`` ``(N, ...)``, ``y``
    ``(N,)``, seeded by ``seed``.

    Example:
      >>> from flax import nnx
      >>> from interjax.data import MLP, cross_entropy, planted_rules, train_classifier
      >>> ds = planted_rules(num_train=32, num_test=8)
      >>> model = MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(0))
      >>> before = cross_entropy(model, ds.x_train, ds.y_train)
      >>> model = train_classifier(model, ds.x_train, ds.y_train, steps=20, learning_rate=1e-2)
      >>> cross_entropy(model, ds.x_train, ds.y_train) < before
      True
    """
    trainer = Trainer(
        model,
        x,
        y,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
    )
    return trainer.run(steps)


_LINEN_STEPS = cache_dict("data.linen_steps")  # the jitted step per (module, settings)


def _linen_steps(module, call_kwargs, mutable, tx):
    """The jitted Adam(W) step of a Linen classifier (cached per module and settings)."""
    try:
        hash(module)
        key = (module, call_kwargs, mutable, id(tx))
    except TypeError:  # a module with unhashable attributes (e.g. Sequential's list)
        key = (id(module), call_kwargs, mutable, id(tx))
    if key not in _LINEN_STEPS:

        @jax.jit
        def step(params, others, opt_state, xb, yb, rng):
            def loss_fn(p):
                out = module.apply(
                    {"params": p, **others},
                    xb,
                    **dict(call_kwargs),
                    rngs={"dropout": rng},
                    mutable=list(mutable) if mutable else False,
                )
                logits, updates = out if mutable else (out, {})
                loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
                return loss, updates

            (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            upd, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, upd), {**others, **updates}, opt_state, loss

        _LINEN_STEPS[key] = step
    return _LINEN_STEPS[key]


def train_linen_classifier(
    module,
    variables,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress=None,
) -> dict:
    """Train a Flax Linen classifier's ``variables`` with Adam(W); returns the new variables.

    The Linen counterpart of :func:`train_classifier`: minibatches as in :class:`Trainer`; the
    module is called in training mode (:func:`interjax.evaluate.linen_inference` with
    ``train=True``: ``train=True`` / ``deterministic=False`` as call arguments or module
    attributes), with a ``"dropout"`` RNG stream and every collection but ``params`` mutable
    (BatchNorm's ``batch_stats`` are updated as in Flax's BatchNorm guide).

    Args:
      module: an unbound ``flax.linen.Module`` mapping ``(B, ...)`` inputs to logits ``(B, K)``.
      variables: its variables (``{"params": ..., "batch_stats": ...}``), e.g. from
        ``module.init``.
      x, y: ``(N, ...)`` inputs and ``(N,)`` integer labels.
      progress: optional ``callable(k)`` called after every ``k`` steps (a progress bar's
        ``update``).

    Returns:
      The trained variables, a dict of the same structure.

    Example:
      >>> import jax, numpy as np, flax.linen as linen
      >>> from interjax.data import cross_entropy, planted_rules, train_linen_classifier
      >>> ds = planted_rules(num_train=32, num_test=8)
      >>> net = linen.Sequential([linen.Dense(8), linen.relu, linen.Dense(2)])
      >>> v0 = net.init(jax.random.key(0), ds.x_train[:1])
      >>> v1 = train_linen_classifier(net, v0, ds.x_train, ds.y_train, steps=20, learning_rate=1e-2)
      >>> ce = lambda v: cross_entropy(lambda x: net.apply(v, x), ds.x_train, ds.y_train)
      >>> ce(v1) < ce(v0)
      True
    """
    from interjax.evaluate import linen_inference

    module, kwargs = linen_inference(module, train=True)
    call_kwargs = tuple(sorted(kwargs.items()))
    variables = dict(variables)
    params = variables.pop("params")
    mutable = tuple(sorted(variables))
    tx = _adamw(float(learning_rate), float(weight_decay))
    step = _linen_steps(module, call_kwargs, mutable, tx)
    opt_state = tx.init(params)
    key = jax.random.key(seed)
    batches = _minibatches(len(x), batch_size, seed)
    for i in range(steps):
        idx = next(batches)
        params, variables, opt_state, _ = step(
            params, variables, opt_state, x[idx], y[idx], jax.random.fold_in(key, i)
        )
        if progress is not None and (i + 1) % 50 == 0:
            progress(50)
    if progress is not None and steps % 50:
        progress(steps % 50)
    return {"params": params, **variables}
