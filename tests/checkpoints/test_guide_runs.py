"""Runs saved the way the Flax and Orbax guides save them, read through the Python API.

Every run comes from a researcher-style training script (tests/guide_runs: NNX and Linen, MLPs,
CNNs with BatchNorm and Dropout, a token model; one real optax loop and real Orbax saves each),
made in a fresh process without x64. The truth is the guide's own restore with plain Orbax
(``reference_logits``): interjax must find the variables, restore them read-only, and evaluate
the model as the guide's eval-mode model does.
"""

import jax
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import analyze
from interjax.checkpoints import CheckpointError, orbax_source
from tests.guide_runs.reference import CASES, load_script, log_odds, reference_logits, run_dir
from tests.helpers import folder_hash

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

WHERE = {  # (script, layout) -> where interjax finds the model's variables
    ("nnx_mlp", "state"): "(root)",
    ("nnx_mlp", "pure"): "(root)",
    ("nnx_mlp", "params"): "(root)",
    ("nnx_mlp", "composite"): "model",
    ("nnx_cnn", "state"): "(root)",
    ("nnx_cnn", "composite"): "model",
    ("nnx_tokens", "state"): "(root)",
    ("linen_mlp", "params"): "params at (root)",
    ("linen_mlp", "trainstate"): "params at params",
    ("linen_mlp", "composite"): "params at state/params",
    ("linen_cnn", "variables"): "(root)",
    ("linen_cnn", "trainstate"): "params at params, batch_stats at batch_stats",
}


def open_run(guide_runs, script, layout):
    folder = run_dir(guide_runs, script, layout)
    data = dict(np.load(folder / "data.npz"))
    mod = load_script(script)
    source = orbax_source(
        folder / "checkpoints", model_factory=mod.make_model, example_input=data["x_train"][:1]
    )
    return folder / "checkpoints", data, source


@pytest.mark.parametrize(("script", "layout"), CASES)
def test_every_layout_reads_what_the_guide_restores(guide_runs, script, layout):
    ckpt, data, source = open_run(guide_runs, script, layout)
    before = folder_hash(ckpt)
    with source:
        assert source.describe_layout() == WHERE[script, layout]
        steps, params = source.restore_many()
        assert steps == sorted(int(p.name) for p in ckpt.iterdir())
        x, y = data["x_test"][:16], data["y_test"][:16]
        for step in (steps[0], steps[-1]):
            model = source.model(ij.log_odds(target=0), step=step)
            ours = np.asarray(model.apply(model.params, x))
            np.testing.assert_allclose(ours, reference_logits(guide_runs, script, layout, step, x),
                                       rtol=1e-5, atol=1e-5)  # fmt: skip
        # v(N), the unmasked input, is the model's own log-odds of its label
        n = 4 if script != "nnx_tokens" else 6
        players = {
            "nnx_mlp": ij.Players.features(n, num_features=30),
            "linen_mlp": ij.Players.features(n, num_features=30),
            "nnx_tokens": ij.Players.tokens(8, positions=range(n)),
        }.get(script, ij.Players.grid((8, 8), 2, 2))
        mask = 1 if script == "nnx_tokens" else None
        stacked = ij.stack_models(model.with_output(ij.log_odds(target=y)), params)
        v = np.asarray(ij.evaluate(stacked, x, players, baseline=mask, batched=True))
        ref = reference_logits(guide_runs, script, layout, steps[-1], x)
        np.testing.assert_allclose(v[-1, :, -1], log_odds_rows(ref, y), atol=1e-5)
    assert folder_hash(ckpt) == before


def log_odds_rows(logits, y):
    return np.array([log_odds(row, int(t)) for row, t in zip(logits, y, strict=True)])


def test_batchnorm_dropout_model_restored_in_train_mode(guide_runs):
    """``nnx.merge`` gives the model in training mode (BatchNorm on batch statistics, Dropout
    on): ``ij.from_nnx`` evaluates a copy in inference mode, equal to the model's own eval-mode
    log-odds, and no masked input depends on the others in its chunk."""
    _ckpt, data, source = open_run(guide_runs, "nnx_cnn", "state")
    with source:
        step = source.all_steps()[-1]
        restored = nnx.merge(source.factory_model.graphdef, source.restore(step))
    assert not restored.batch_norm1.use_running_average and not restored.dropout1.deterministic
    x, label = data["x_test"][3], int(data["y_test"][3])
    out = ij.log_odds(target=label)
    players = ij.Players.grid((8, 8), 2, 2)
    v = {c: np.asarray(ij.evaluate(ij.from_nnx(restored, out), x, players, chunk_size=c))
         for c in (1, 4, 16)}  # fmt: skip
    assert not restored.batch_norm1.use_running_average  # the user's module is unchanged
    ref = reference_logits(guide_runs, "nnx_cnn", "state", step, x[None])[0]
    assert abs(v[16][-1] - log_odds(ref, label)) < 1e-5
    # equal up to float32 rounding (XLA picks other kernels for other batch sizes)
    np.testing.assert_allclose(v[1], v[16], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(v[4], v[16], rtol=1e-5, atol=1e-5)
    # what the check guards against: the module called as it is, in training mode, on the
    # same masked inputs makes each value depend on the other inputs of its batch
    from interjax.evaluate import mask_inputs

    xs = mask_inputs(np.arange(16), x, 0.0, players.element_map(x.shape), 4, True)
    by_chunks = {
        c: np.concatenate([log_odds_rows(np.asarray(restored(xs[i : i + c])), [label] * c)
                           for i in range(0, 16, c)])
        for c in (4, 16)
    }  # fmt: skip
    assert np.abs(by_chunks[4] - by_chunks[16]).max() > 1e-2


def test_linen_module_with_a_train_argument(guide_runs):
    """``from_linen`` of a module (or its ``apply``) whose ``__call__`` takes ``train``: called
    with ``train=False``; its values do not change with the chunk size."""
    _, data, source = open_run(guide_runs, "linen_cnn", "trainstate")
    with source:
        step = source.all_steps()[-1]
        variables = source.restore(step)
    module = load_script("linen_cnn").make_model(0)
    x, label = data["x_test"][5], int(data["y_test"][5])
    ref = log_odds(reference_logits(guide_runs, "linen_cnn", "trainstate", step, x[None])[0], label)
    players = ij.Players.grid((8, 8), 2, 2)
    for apply in (module, module.apply):
        m = ij.from_linen(apply, variables, ij.log_odds(target=label))
        v1 = np.asarray(ij.evaluate(m, x, players, chunk_size=1))
        v16 = np.asarray(ij.evaluate(m, x, players))
        assert abs(v16[-1] - ref) < 1e-5
        np.testing.assert_allclose(v1, v16, atol=1e-6)


def test_token_ids_over_a_run_use_each_checkpoints_embedding(guide_runs):
    """The token recipe: ids with the mask id as baseline. Every checkpoint (and baseline)
    embeds the masked sequence itself, so v(∅) and v(N) at each step are that checkpoint's
    own log-odds of the all-mask and of the whole sequence; pre-embedded inputs are refused."""
    mod = load_script("nnx_tokens")
    _ckpt, data, source = open_run(guide_runs, "nnx_tokens", "state")
    with source:
        steps, params = source.restore_many()
        model = source.model(ij.log_odds(target=0))
    x, y = data["x_test"][:3], data["y_test"][:3].astype(int)
    players = ij.Players.tokens(mod.SEQ_LEN, positions=range(6))
    traj = analyze.trajectory(
        model, params, params[-1:], x, y, players, steps=steps, baseline=mod.MASK_ID, tol=1e-2
    )
    masked = x.copy()
    masked[:, :6] = mod.MASK_ID
    for t, step in enumerate(steps):
        whole = log_odds_rows(reference_logits(guide_runs, "nnx_tokens", "state", step, x), y)
        empty = log_odds_rows(reference_logits(guide_runs, "nnx_tokens", "state", step, masked), y)
        np.testing.assert_allclose(traj.values[t, :, -1], whole, atol=1e-5)
        np.testing.assert_allclose(traj.values[t, :, 0], empty, atol=1e-5)
    last = nnx.merge(source.factory_model.graphdef, params[-1])
    embedded = np.asarray(last.embed(x)) if hasattr(last, "embed") else np.zeros((3, 8, 4))
    with pytest.raises(ValueError, match="token players on embedded inputs of shape"):
        analyze.trajectory(model, params, params[-1:], embedded, y, players, steps=steps)
    with pytest.raises(ValueError, match="Pass the id that stands for a masked token"):
        ij.evaluate(model, x[0], players)


def test_factory_without_explicit_dtypes_reads_a_float32_run_under_x64(tmp_path):
    """A parameter built without a dtype is float64 under x64 (on in this process); the run
    was saved in float32. The restore target takes the checkpoint's dtypes."""
    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    class Linear(nnx.Module):
        def __init__(self, rngs=None):
            self.w = nnx.Param(jnp.zeros((3, 2)))  # float64 here, float32 when trained
            self.b = nnx.Param(jnp.zeros(2))

        def __call__(self, x):
            return x @ self.w + self.b

    assert Linear().w.dtype == jnp.float64
    saved = jax.tree.map(lambda a: np.asarray(a, np.float32) + 1, nnx.state(Linear()))
    with ocp.CheckpointManager((tmp_path / "ckpt").absolute()) as mgr:
        mgr.save(0, args=ocp.args.StandardSave(saved))
        mgr.wait_until_finished()
    with orbax_source(tmp_path / "ckpt", model_factory=Linear) as source:
        state = source.restore(0)
        assert state["w"].get_value().dtype == np.float32
        model = source.model(ij.log_odds(target=1))
    v = ij.evaluate(model, np.ones(3, np.float32), ij.Players.features(3))
    assert v.dtype == np.float64 and float(v[-1]) == 0.0  # 3 * 1 + 1 in both classes


def test_parameters_without_batch_statistics_are_refused(guide_runs, tmp_path):
    """``nnx.state(model, nnx.Param)`` of a model with BatchNorm lacks the running statistics
    inference needs: one error naming them and the save call to use."""
    import orbax.checkpoint as ocp

    cnn = load_script("nnx_cnn").make_model(0)
    with ocp.CheckpointManager((tmp_path / "ckpt").absolute()) as mgr:
        mgr.save(0, args=ocp.args.StandardSave(nnx.state(cnn, nnx.Param)))
        mgr.wait_until_finished()
    source = orbax_source(tmp_path / "ckpt", model_factory=load_script("nnx_cnn").make_model)
    with (
        source,
        pytest.raises(CheckpointError, match=r"not its BatchNorm statistics \(batch_norm1/mean"),
    ):
        source.restore(0)


def test_steps_named_with_a_prefix(guide_runs, tmp_path):
    """``CheckpointManagerOptions(step_prefix="ckpt")`` names the steps ``ckpt_<step>``."""
    import orbax.checkpoint as ocp

    mod = load_script("nnx_mlp")
    state = nnx.state(mod.make_model(3))
    options = ocp.CheckpointManagerOptions(step_prefix="ckpt")
    with ocp.CheckpointManager((tmp_path / "run").absolute(), options=options) as mgr:
        for step in (0, 10):
            mgr.save(step, args=ocp.args.StandardSave(state))
        mgr.wait_until_finished()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["ckpt_0", "ckpt_10"]
    with orbax_source(tmp_path / "run", model_factory=mod.make_model) as source:
        steps, params = source.restore_many()
    assert steps == [0, 10]
    np.testing.assert_array_equal(
        params[1]["linear1"]["kernel"].get_value(), state["linear1"]["kernel"].get_value()
    )


def test_the_optimizer_state_is_never_read(guide_runs, tmp_path):
    """Only the model's arrays are restored (Orbax's partial restore): with the optimizer item's
    array files destroyed (its metadata kept), every step still reads, equal to the intact run."""
    import shutil

    ckpt, _, source = open_run(guide_runs, "nnx_cnn", "composite")
    with source:
        steps, intact = source.restore_many()
    copy = tmp_path / "ckpt"
    shutil.copytree(ckpt, copy)
    destroyed = 0
    for path in copy.glob("*/optimizer/**/*"):
        if path.is_file() and path.parent.name == "d":  # the array data, not the metadata
            path.write_bytes(b"")
            destroyed += 1
    assert destroyed >= len(steps)
    mod = load_script("nnx_cnn")
    with orbax_source(copy, model_factory=mod.make_model) as damaged:
        assert damaged.describe_layout() == "model"
        read, params = damaged.restore_many()
    assert read == steps
    for a, b in zip(params, intact, strict=True):
        arrays = [nnx.to_pure_dict(nnx.filter_state(s, nnx.Not(nnx.RngState))) for s in (a, b)]
        jax.tree.map(np.testing.assert_array_equal, *arrays)
