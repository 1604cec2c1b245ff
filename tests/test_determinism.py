"""Same inputs and seed, same results: training, evaluation across chunk sizes and devices,
the analysis run twice, and the compiled sweep of distinct value functions.

What is exact and what is not (CPU, jax 0.10.2):

* a training run written twice with one seed: identical parameters at every step and identical
  metrics.json (the Orbax folders are not byte-identical: OCDBT names its data files at random
  and the step metadata holds the commit time);
* ``ij.evaluate``: the same call twice is bitwise identical; other chunk sizes change the
  batch shapes of the model's matmuls and so the rounding: equal to a few float32 ulps for a
  float32 model (measured <= 7e-7 relative), to ~1e-15 for a float64 model;
* one vs four devices: with the same chunk size the values are bitwise identical. The default
  chunk size depends on the device count (n = 4: all 16 masks at once on one device, 4 per
  device on four), so about half the values differ by an ulp of the float32 logits, and the
  solver runs on arrays sharded over the devices, whose reductions add in another order: the
  summary's discrete content (steps, salient and generalizable sets, counts, phases) is
  identical, its floats agree to 1e-5 absolute (measured <= 9.1e-7; relative up to 1.1e-4 for
  small numbers such as the solver's relative gaps);
* the analysis run twice in one process: byte-identical summary.json and arrays.npz.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import analyze, data
from interjax._pipeline import analyze_run
from interjax.analyze import AnalysisSettings, prepare_analysis
from interjax.checkpoints import orbax_source

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def factory(seed=0):
    return data.MLP(6, 2, hidden=(8,), rngs=nnx.Rngs(seed))


def dataset():
    return data.planted_rules(num_train=64, num_test=64, num_features=6, seed=1)


def train(directory, seed=0):
    return data.train_run(
        factory, dataset(), directory, total_steps=12, num_saves=5, batch_size=32, seed=seed
    )


def restored(run):
    with orbax_source(run.checkpoints, model_factory=factory) as src:
        return {
            s: jax.tree.map(np.asarray, nnx.to_pure_dict(src.restore(s))) for s in src.all_steps()
        }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("determinism") / "run")


def test_training_twice_with_one_seed_gives_identical_checkpoints(run, tmp_path):
    again = train(tmp_path / "again")
    first, second = restored(run), restored(again)
    assert list(first) == list(second) == [0, 1, 2, 5, 12]
    for step in first:
        jax.tree.map(np.testing.assert_array_equal, first[step], second[step])
    assert (run.directory / "metrics.json").read_bytes() == (
        again.directory / "metrics.json"
    ).read_bytes()
    other = restored(train(tmp_path / "other", seed=1))  # the seed matters (batch order)
    assert not np.array_equal(other[12]["head"]["kernel"], first[12]["head"]["kernel"])


def test_baselines_trained_twice_are_identical():
    """The CLI retrains its baselines on every run (and the stage files' fingerprint holds their
    weights): seeded training makes a rerun's baselines the same."""
    split = analyze.baseline_split(dataset())
    a, b = (
        [
            nnx.to_pure_dict(nnx.split(m)[1])
            for m in analyze.train_baselines(
                factory, split, train=data.train_classifier, num=2, steps=20
            )
        ]
        for _ in range(2)
    )
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_chunk_sizes_agree_to_rounding(run):
    """chunk_size 1, 7, 64 and the default (here 64 = 2**6, one chunk): float32 model within a
    few ulps, float64 model within 1e-15-ish; each chunk size bitwise reproducible."""
    with orbax_source(run.checkpoints, model_factory=factory) as src:
        params = src.restore(12)
    graphdef, _ = nnx.split(factory())
    xs = dataset().x_test[:3]
    players = ij.Players.features(6)
    model = ij.from_nnx(nnx.merge(graphdef, params), output=ij.log_odds(target=np.array([0, 1, 1])))
    wide = model.with_params(jax.tree.map(lambda p: p.astype(np.float64), model.params))
    for m, rtol in ((model, 16 * np.finfo(np.float32).eps), (wide, 64 * np.finfo(np.float64).eps)):
        vs = {c: np.asarray(ij.evaluate(m, xs, players, chunk_size=c)) for c in (1, 7, 64, None)}
        for c, v in vs.items():
            np.testing.assert_allclose(v, vs[None], rtol=rtol, atol=rtol, err_msg=f"chunk {c}")
            np.testing.assert_array_equal(
                np.asarray(ij.evaluate(m, xs, players, chunk_size=c)), v
            )  # the same call again: the same bits


def test_value_function_classes_never_share_a_compiled_sweep():
    """Value functions of distinct classes with the same fields each get their own program.

    jax 0.10.2 PyTreeDefs of ``register_dataclass`` nodes compare equal across classes with the
    same fields (only their hashes differ), so jit's cache could hand one class the program
    compiled for another when their keys met in a hash bucket: ij.probability read log-odds or
    logits (the xdist flake of tests/evaluate/test_sweep.py::test_value_functions). With the
    class left out of the static key, 2 to 6 of these 32 classes got another's values (3 runs)."""
    same_fields = jax.tree.structure(ij.log_odds(1)) == jax.tree.structure(ij.probability(1))
    net = factory()
    x = dataset().x_test[0]
    players = ij.Players.features(4, num_features=6)
    base = float(ij.evaluate(ij.from_nnx(net, output=ij.log_odds(target=1)), x, players)[-1])
    wrong = []
    for k in range(2, 34):
        call = lambda s, o, k=k: k * ij.LogOdds.__call__(s, o)  # noqa: E731
        cls = type(f"Times{k}", (ij.LogOdds,), {"__call__": call})
        cls = jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True)(cls))
        v = ij.evaluate(ij.from_nnx(net, output=cls(np.asarray(1))), x, players)
        ratio = float(v[-1]) / base  # k, to float32 rounding; another class's k if confused
        if abs(ratio - k) > 1e-3:
            wrong.append((k, ratio))
    assert wrong == [], f"classes got another's program (treedefs equal: {same_fields})"
    for make, expect in ((ij.log_odds, base), (ij.probability, 1 / (1 + np.exp(-base)))):
        v = ij.evaluate(ij.from_nnx(net, output=make(target=1)), x, players)
        assert np.isclose(float(v[-1]), expect, rtol=1e-6)


SETTINGS = AnalysisSettings(group_size=2)


def analysis_inputs(src):
    """As the CLI builds them: checkpoints restored from Orbax, seeded baselines, 2 train and 2
    test samples, 4 players; 4 checkpoints: with group_size=2, every fit (2 baselines, 2
    groups of 2 checkpoints) has one shape, so the solver compiles once."""
    ds = dataset()
    split = analyze.baseline_split(ds, protocol="paper")
    baselines = analyze.train_baselines(
        factory, split, train=data.train_classifier, num=2, steps=20
    )
    return prepare_analysis(
        src,
        np.concatenate([ds.x_train[:2], ds.x_test[:2]]),
        np.concatenate([ds.y_train[:2], ds.y_test[:2]]),
        ij.Players.features(4, num_features=6),
        baseline_params=[nnx.state(m) for m in baselines],
        is_test=np.array([False, False, True, True]),
        steps=src.all_steps()[:4],
    )


def test_analysis_twice_gives_identical_files(run, tmp_path):
    with orbax_source(run.checkpoints, model_factory=factory) as src:
        inputs = analysis_inputs(src)
        for name in ("a", "b"):
            analyze_run(inputs, tmp_path / name, title="t", settings=SETTINGS, quiet=True)
    for name in ("summary.json", "arrays.npz", "report.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# ------------------------------------------------------------------- one vs four (CPU) devices

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import interjax as ij
    from interjax.checkpoints import orbax_source
    from tests.test_determinism import analysis_inputs, dataset, factory

    ckpt, out, mode, devices = sys.argv[1:5]
    assert len(jax.devices()) == int(devices), jax.devices()
    with orbax_source(ckpt, model_factory=factory) as src:
        if mode == "values":  # the pipeline's sweep: stacked checkpoints restored from Orbax
            inputs = analysis_inputs(src)
            stacked = ij.stack_models(
                inputs.first_model(), [src.restore(s) for s in inputs.steps]
            )
            kw = dict(batched=True)
            model = stacked.with_output(ij.log_odds(target=inputs.y))
            np.savez(
                out,
                auto=ij.evaluate(model, inputs.x, inputs.players, **kw),
                chunk16=ij.evaluate(model, inputs.x, inputs.players, chunk_size=16, **kw),
                here=ij.evaluate(model, inputs.x, inputs.players, chunk_size=16, mesh=None, **kw),
            )
        else:
            from interjax._pipeline import analyze_run
            from tests.test_determinism import SETTINGS
            analyze_run(analysis_inputs(src), out, title="t", settings=SETTINGS, quiet=True)
""")


def on_devices(ckpt, out, mode, devices):
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ckpt), str(out), mode, str(devices)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_values_on_four_devices_of_orbax_restored_checkpoints(run, tmp_path):
    """Parameters restored by Orbax are committed to one device; on four devices the sharded
    sweep replicates them (it used to refuse them: "incompatible devices for jitted
    computation", so ``interjax analyze`` failed at its first checkpoint group). Same chunk
    size: the one-device bits; default chunk size (4 masks on four devices, all 16 on one):
    equal to float32 rounding."""
    four = np.load(on_devices(run.checkpoints, tmp_path / "four.npz", "values", 4))
    with orbax_source(run.checkpoints, model_factory=factory) as src:
        inputs = analysis_inputs(src)
        stacked = ij.stack_models(inputs.first_model(), [src.restore(s) for s in inputs.steps])
        model = stacked.with_output(ij.log_odds(target=inputs.y))
        one = np.asarray(ij.evaluate(model, inputs.x, inputs.players, batched=True))
        one16 = np.asarray(
            ij.evaluate(model, inputs.x, inputs.players, batched=True, chunk_size=16)
        )
    assert four["auto"].shape == one.shape == (4, 4, 16)
    np.testing.assert_array_equal(four["chunk16"], one16)
    np.testing.assert_array_equal(four["chunk16"], four["here"])
    # float32 logits: log-odds near 0 differ by an ulp of the logits (~1e-7), not of the value
    np.testing.assert_allclose(four["auto"], one, rtol=16 * np.finfo(np.float32).eps, atol=1e-6)


def assert_same_summary(a, b, rtol=1e-9, atol=1e-12, path=""):
    """Equal JSON trees: everything but floats exactly, floats to ``rtol``/``atol``."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_summary(a[k], b[k], rtol, atol, f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same_summary(u, v, rtol, atol, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= atol + rtol * max(abs(a), abs(b)), (path, a, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


@pytest.mark.slow
def test_analysis_on_one_and_four_devices(run, tmp_path):
    """The whole analysis in two fresh processes, 1 and 4 devices: discrete content and masks
    identical; values, interactions and the summary's floats to 1e-5 absolute (float32 logits
    rounded in other batch shapes, the solver's reductions over sharded arrays in another
    order)."""
    one = on_devices(run.checkpoints, tmp_path / "one", "analysis", 1)
    four = on_devices(run.checkpoints, tmp_path / "four", "analysis", 4)
    a, b = (json.loads((d / "summary.json").read_text()) for d in (one, four))
    assert_same_summary(a, b, rtol=1e-5, atol=1e-5)
    with np.load(one / "arrays.npz") as x, np.load(four / "arrays.npz") as y:
        assert x.files == y.files
        for k in x.files:
            if np.issubdtype(x[k].dtype, np.floating):
                np.testing.assert_allclose(x[k], y[k], rtol=1e-5, atol=1e-5, err_msg=k)
            else:
                np.testing.assert_array_equal(x[k], y[k], err_msg=k)
