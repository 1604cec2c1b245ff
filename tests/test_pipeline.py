"""The analysis pipeline's memory budget: estimated up front, refused before any work."""

import time

import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import analyze, data
from interjax._pipeline import analysis_memory, analyze_run, check_memory_budget
from interjax.analyze import AnalysisSettings, prepare_analysis
from interjax.checkpoints import orbax_source

GIB = 2**30


def test_estimate_grows_with_the_work():
    base = analysis_memory(10, 100, 128, 3, 10)
    assert analysis_memory(10, 200, 128, 3, 10)["kept"] == 2 * base["kept"]
    bigger = analysis_memory(11, 100, 128, 3, 10)
    assert bigger["total"] - bigger["runtime"] == 2 * (base["total"] - base["runtime"])
    # 100 checkpoints x 64 train + 64 held-out samples at n = 10: about 1.2 GiB of arrays and
    # 1 GiB of compiler and runtime, accepted under 4 GiB; at n = 16 the same run (about 78 GiB)
    # is refused under a 16 GiB budget
    assert 2 * GIB < base["total"] < 2.5 * GIB
    check_memory_budget(base, 4 * GIB)
    with pytest.raises(MemoryError, match="Analyse fewer checkpoints or samples"):
        check_memory_budget(analysis_memory(16, 100, 128, 3, 10), 16 * GIB)


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory):
    """A real Orbax run of two steps of a small MLP, saved as the demo saves its runs."""
    folder = tmp_path_factory.mktemp("run")
    with data.CheckpointWriter(folder) as writer:
        for step in (0, 1):
            writer.save(step, nnx.state(factory(step)))
    return folder


def factory(seed=0):
    return data.MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(seed))


def prepared(source, num_samples=8):
    return prepare_analysis(
        source,
        np.zeros((num_samples, 4), np.float32),
        np.zeros(num_samples, np.int32),
        ij.Players.features(4),
        baseline_params=[nnx.state(factory(9))],
    )


def test_analyze_run_over_budget_stops_before_any_work(two_steps, tmp_path):
    restored = []
    with orbax_source(two_steps, model_factory=factory) as src:
        src.restore = lambda step: restored.append(step)  # would record any read
        t0 = time.perf_counter()
        with pytest.raises(MemoryError, match=r"memory budget is 0\.00 GiB"):
            analyze_run(prepared(src), tmp_path / "out", title="t", memory_budget=1000, quiet=True)
        assert time.perf_counter() - t0 < 5.0  # coarse backstop; `restored == []` is the check
    assert restored == [] and not (tmp_path / "out").exists()


def test_the_fingerprint_records_the_precision(two_steps, tmp_path):
    """An analysis's key records the precision of the transforms, so a run resumed with x64
    off into a folder written with x64 on (or the reverse) is refused, never mixed."""
    import jax

    from interjax._files import write_npz_atomic
    from interjax._pipeline import analysis_key, check_output_folder

    settings = AnalysisSettings()
    with orbax_source(two_steps, model_factory=factory) as src:
        inputs = prepared(src, num_samples=2)
        with jax.enable_x64(False):
            key32 = analysis_key(inputs, settings)
            assert settings.as_dict()["precision"] == "float32"
        key64 = analysis_key(inputs, settings)
    assert settings.as_dict()["precision"] == "float64" and key32 != key64
    write_npz_atomic(tmp_path / "stages" / "baselines.npz", fingerprint=np.asarray(key32))
    check_output_folder(tmp_path, key32)  # the same analysis: resumes
    with pytest.raises(RuntimeError, match="holds the results of another analysis"):
        check_output_folder(tmp_path, key64)


@pytest.mark.slow  # ~40 s on 2 cores (compiles for two batch shapes); CI runs it
def test_the_resumable_run_equals_one_trajectory_call(two_steps, tmp_path):
    """The resumable run (groups of one checkpoint, stage files) and one ``trajectory`` call
    compute the same arrays from the same checkpoints and settings: one analysis path."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)).astype(np.float32), np.array([0, 1, 1])
    bases = [nnx.state(factory(7)), nnx.state(factory(8))]
    players = ij.Players.features(4)
    settings = AnalysisSettings(group_size=1)
    with orbax_source(two_steps, model_factory=factory) as src:
        inputs = prepare_analysis(src, x, y, players, baseline_params=bases, is_test=[0, 0, 1])
        analyze_run(inputs, tmp_path / "out", title="t", settings=settings, quiet=True)
        steps, params = src.restore_many()
        traj = analyze.trajectory(
            inputs.model(params[0]), params, bases, x, y, players, steps=steps,
            is_test=[0, 0, 1], settings=settings,
        )  # fmt: skip
    with np.load(tmp_path / "out" / "arrays.npz") as z:
        run = dict(z)
    ours = traj.arrays()
    assert sorted(run) == sorted(ours)
    for name in ("steps", "is_test", "targets", "salient", "generalizable", "baseline_salient"):
        np.testing.assert_array_equal(run[name], ours[name], err_msg=name)
    for name in ("values", "interactions", "baseline_interactions"):  # one fit alone vs batched
        np.testing.assert_allclose(run[name], ours[name], atol=1e-6, err_msg=name)


def test_files_get_the_users_umask(tmp_path):
    import os

    from interjax._files import write_json_atomic

    old = os.umask(0o027)
    try:
        path = write_json_atomic(tmp_path / "a.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_the_command_line_defaults_are_the_analysis_settings():
    """``interjax analyze`` and the Python API share one set of defaults: the parser's are
    those of ``AnalysisSettings`` (a changed default there must change here too)."""
    from interjax import cli

    argv = ["analyze", "ckpt", "--model", "m:f", "--data", "d.npz", "--out", "o"]
    args = cli._parser().parse_args(argv)
    ours = AnalysisSettings()
    assert (args.tol, args.q_ratio, args.ratio, args.same_sign, args.order_weight) == (
        ours.tol,
        ours.q_ratio,
        ours.ratio,
        ours.same_sign,
        ours.order_weight,
    )


def test_the_order_weight_setting(two_steps):
    """``AnalysisSettings.order_weight`` is the solver's, is refused as the solver refuses it,
    and is part of the fingerprint when set; unset (probing), it is absent from the settings'
    JSON, so the fingerprints of runs begun before it existed do not move."""
    from interjax._pipeline import analysis_key

    probing, fixed = AnalysisSettings(), AnalysisSettings(order_weight=1.2)
    assert probing.solver.order_weight is None and fixed.solver.order_weight == 1.2
    assert "order_weight" not in probing.as_dict()
    assert fixed.as_dict()["order_weight"] == 1.2
    assert {k: v for k, v in fixed.as_dict().items() if k != "order_weight"} == probing.as_dict()
    with orbax_source(two_steps, model_factory=factory) as src:
        inputs = prepared(src, num_samples=2)
        assert analysis_key(inputs, probing) != analysis_key(inputs, fixed)
    with pytest.raises(ValueError, match="order_weight must be"):
        AnalysisSettings(order_weight=0.0)
