"""Read-only Orbax sources over checkpoints written by a real training loop."""

import os
import shutil
import threading
import time
import warnings

import jax
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import data
from interjax.checkpoints import CheckpointError, orbax_source
from interjax.data import CheckpointWriter
from tests.helpers import folder_hash

STEPS = (0, 20, 40)

# Orbax's background threads may log a closed asyncio loop at interpreter exit: not ours
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def factory():
    return data.MLP(30, 2, hidden=(16,), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Train an MLP on breast cancer with optax, saving an Orbax step every 20 updates."""
    root = tmp_path_factory.mktemp("run") / "ckpt"
    ds = data.breast_cancer()
    net = factory()
    saved = {}
    with CheckpointWriter(root) as writer:
        done = 0
        for step in STEPS:
            if step > done:
                data.train_classifier(net, ds.x_train, ds.y_train, steps=step - done, seed=step)
                done = step
            state = nnx.split(net)[1]
            writer.save(step, state)
            saved[step] = jax.tree.map(np.asarray, nnx.to_pure_dict(state))
    return root, saved, ds


def test_restore_is_what_was_saved_and_folder_untouched(run):
    root, saved, _ = run
    before = folder_hash(root)
    src = orbax_source(root, model_factory=factory)
    assert src.all_steps() == list(STEPS)
    for step in STEPS:
        got = jax.tree.map(np.asarray, nnx.to_pure_dict(src.restore(step)))
        jax.tree.map(np.testing.assert_array_equal, got, saved[step])
    with pytest.raises(CheckpointError):
        orbax_source(
            root, model_factory=lambda: data.MLP(30, 2, hidden=(8,), rngs=nnx.Rngs(0))
        ).restore(0)
    assert folder_hash(root) == before


def test_stacked_steps_evaluate_in_one_program(run):
    root, _, ds = run
    src = orbax_source(root, model_factory=factory)
    steps, stacked = src.stack()
    graphdef, _ = nnx.split(factory())
    base = ij.from_nnx(nnx.merge(graphdef, src.restore(0)), output=ij.log_odds(target=1))
    players = ij.Players.features(6)
    v = ij.evaluate(ij.stack_models(base, [src.restore(s) for s in steps]), ds.x_test[0], players)
    for k, step in enumerate(steps):
        one = ij.evaluate(base.with_params(src.restore(step)), ds.x_test[0], players)
        np.testing.assert_allclose(v[k], one, rtol=1e-6)
    assert stacked is not None and len(steps) == 3
    assert not np.allclose(v[0], v[-1])  # training changed the model


def test_mismatch_names_the_leaves(run):
    root, _, _ = run
    src = orbax_source(root, model_factory=lambda: data.MLP(30, 3, hidden=(16,), rngs=nnx.Rngs(0)))
    with pytest.raises(
        CheckpointError,
        match=r"the closest is \(root\) \(.*head/bias: model \(3,\), checkpoint \(2,\)",
    ):
        src.restore(20)


def test_broken_steps_are_skipped_with_a_warning(run, tmp_path):
    root, _, _ = run
    copy = tmp_path / "ckpt"
    shutil.copytree(root, copy)
    # truncate every data file of step 20
    for path in (copy / "20").rglob("*"):
        if (
            path.is_file()
            and path.stat().st_size > 0
            and "METADATA" not in path.name
            and path.name != "commit_success.txt"
        ):
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    src = orbax_source(copy, model_factory=factory)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steps, _ = src.restore_many()
    assert 20 not in steps and steps == [0, 40]
    assert any("step 20" in str(w.message) for w in caught)


def test_no_readable_step_is_an_error(run, tmp_path):
    root, _, _ = run
    copy = tmp_path / "ckpt"
    shutil.copytree(root, copy)
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix not in (".txt",) and "METADATA" not in path.name:
            path.write_bytes(b"")
    src = orbax_source(copy, model_factory=factory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CheckpointError, match="could be read"):
            src.restore_many()


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        orbax_source(tmp_path / "nope", model_factory=factory)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no Orbax checkpoint steps"):
        orbax_source(tmp_path / "empty", model_factory=factory)
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.npz").write_bytes(b"not orbax")
    with pytest.raises(CheckpointError, match="no Orbax checkpoint steps"):
        orbax_source(other, model_factory=factory)
    assert os.listdir(tmp_path / "empty") == []  # nothing was created


def test_writer_refuses_a_used_folder(run):
    root, _, _ = run
    with pytest.raises(FileExistsError, match="not empty"):
        CheckpointWriter(root)


def test_watch_yields_steps_of_a_run_in_progress(tmp_path):
    root = tmp_path / "live"
    net = factory()
    writer = CheckpointWriter(root)
    writer.save(0, nnx.split(net)[1])
    src = orbax_source(root, model_factory=factory)

    def later():
        time.sleep(0.5)
        writer.save(5, nnx.split(net)[1])

    t = threading.Thread(target=later)
    t.start()
    seen = list(src.watch(poll_seconds=0.1, timeout=3.0))
    t.join()
    writer.close()
    assert seen == [0, 5]


def test_linen_checkpoints_written_by_an_optax_loop(tmp_path):
    """A Linen MLP trained with optax and saved by Orbax's own CheckpointManager (as a Linen
    user's loop would) restores into the abstract variables from ``jax.eval_shape``, read-only,
    and evaluates through ``from_linen`` like the live model."""
    import flax.linen as linen
    import optax
    import orbax.checkpoint as ocp

    class LinenMLP(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(2)(linen.relu(linen.Dense(16)(x)))

    ds = data.breast_cancer()
    net = LinenMLP()
    variables = net.init(jax.random.key(0), ds.x_train[:1])
    opt = optax.adam(1e-2)
    opt_state = opt.init(variables)

    @jax.jit
    def update(variables, opt_state, x, y):
        def loss(v):
            return optax.softmax_cross_entropy_with_integer_labels(net.apply(v, x), y).mean()

        grads = jax.grad(loss)(variables)
        updates, opt_state = opt.update(grads, opt_state)
        return optax.apply_updates(variables, updates), opt_state

    root = tmp_path / "linen_ckpt"
    saved = {}
    with ocp.CheckpointManager(root, item_handlers=ocp.StandardCheckpointHandler()) as mgr:
        for step in range(31):
            if step % 15 == 0:
                mgr.save(step, args=ocp.args.StandardSave(variables))
                saved[step] = jax.tree.map(np.asarray, variables)
            variables, opt_state = update(variables, opt_state, ds.x_train, ds.y_train)
        mgr.wait_until_finished()
    before = folder_hash(root)
    abstract = jax.eval_shape(lambda: net.init(jax.random.key(0), ds.x_train[:1]))
    with orbax_source(root, abstract=abstract) as src:
        steps, params = src.restore_many()
    assert steps == [0, 15, 30]
    for step, p in zip(steps, params, strict=True):
        jax.tree.map(np.testing.assert_array_equal, p, saved[step])
    players = ij.Players.features(6, num_features=30)
    out = ij.log_odds(target=int(ds.y_test[0]))
    restored = ij.evaluate(ij.from_linen(net.apply, params[-1], out), ds.x_test[0], players)
    live = ij.evaluate(ij.from_linen(net.apply, saved[30], out), ds.x_test[0], players)
    np.testing.assert_array_equal(restored, live)

    class Wider(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(2)(linen.relu(linen.Dense(32)(x)))

    wrong = jax.eval_shape(lambda: Wider().init(jax.random.key(0), ds.x_train[:1]))
    with (
        orbax_source(root, abstract=wrong) as src,
        pytest.raises(
            CheckpointError,
            match=r"closest is params \(.*Dense_1/bias: model \(32,\), checkpoint \(16,\)",
        ),
    ):
        src.restore(0)
    assert folder_hash(root) == before
