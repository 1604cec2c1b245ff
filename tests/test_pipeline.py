"""The analysis pipeline's memory budget: estimated up front, refused before any work."""

import time

import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import data
from interjax._pipeline import AnalysisInputs, analysis_memory, analyze_run, check_memory_budget

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


def test_analyze_run_over_budget_stops_before_any_work(tmp_path):
    net = data.MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(0))
    state = nnx.split(net)[1]
    restored = []
    inputs = AnalysisInputs(
        model=ij.from_nnx(net, output=ij.log_odds(target=0)),
        steps=list(range(50)),
        restore=lambda step: restored.append(step) or state,
        baseline_params=[state],
        x=np.zeros((8, 4), np.float32),
        y=np.zeros(8, np.int32),
        is_test=np.zeros(8, bool),
        players=ij.Players.features(4),
    )
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"memory budget is 0\.00 GiB"):
        analyze_run(inputs, tmp_path / "out", title="t", memory_budget=1000, quiet=True)
    assert time.perf_counter() - t0 < 1.0
    assert restored == [] and not (tmp_path / "out").exists()


def test_the_fingerprint_records_the_precision(tmp_path):
    """An analysis's key records the precision of the transforms, so a run resumed with x64
    off into a folder written with x64 on (or the reverse) is refused, never mixed."""
    import jax

    from interjax._files import write_npz_atomic
    from interjax._pipeline import analysis_key, analysis_settings, check_output_folder

    net = data.MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(0))
    state = nnx.split(net)[1]
    inputs = AnalysisInputs(
        model=ij.from_nnx(net, output=ij.log_odds(target=0)),
        steps=[0, 1],
        restore=lambda step: state,
        baseline_params=[state],
        x=np.zeros((2, 4), np.float32),
        y=np.zeros(2, np.int32),
        is_test=np.zeros(2, bool),
        players=ij.Players.features(4),
    )
    with jax.enable_x64(False):
        settings32 = analysis_settings(tol=1e-2)
    settings64 = analysis_settings(tol=1e-2)
    assert (settings32["precision"], settings64["precision"]) == ("float32", "float64")
    key32, key64 = analysis_key(inputs, settings32), analysis_key(inputs, settings64)
    assert key32 != key64
    write_npz_atomic(tmp_path / "stages" / "baselines.npz", fingerprint=np.asarray(key32))
    check_output_folder(tmp_path, key32)  # the same analysis: resumes
    with pytest.raises(RuntimeError, match="holds the results of another analysis"):
        check_output_folder(tmp_path, key64)


def test_files_get_the_users_umask(tmp_path):
    import os

    from interjax._files import write_json_atomic

    old = os.umask(0o027)
    try:
        path = write_json_atomic(tmp_path / "a.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
