"""Bad options and data on the command line: one line on stderr, exit status 2, no traceback,
before any checkpoint is read or model trained (issue 7, item 1).

Reading a checkpoint is forbidden in these tests: each case must be refused before. Most cases
run ``interjax.cli.main`` in this process (a subprocess costs a second of imports per case);
two run the real command to check what a user sees.
"""

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from flax import nnx

from interjax import cli
from interjax.checkpoints import CheckpointSource
from interjax.data import MLP, CheckpointWriter

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

USER_MODULE = textwrap.dedent("""
    from flax import nnx
    from interjax.data import MLP

    def make_model(seed=0):
        return MLP(8, 2, hidden=(4,), rngs=nnx.Rngs(seed))
""")


def _arrays(n=16, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.normal(size=(n, d)).astype(np.float32),
        "y_train": rng.integers(0, 2, n),
        "x_test": rng.normal(size=(n, d)).astype(np.float32),
        "y_test": rng.integers(0, 2, n),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_bad")
    (root / "cli_bad_usermodel.py").write_text(USER_MODULE)
    with CheckpointWriter(root / "ckpts") as writer:  # the factory's architecture
        writer.save(0, nnx.split(MLP(8, 2, hidden=(4,), rngs=nnx.Rngs(0)))[1])
    good = _arrays()
    np.savez(root / "data.npz", **good)
    variants = {
        "short_y.npz": {"y_train": good["y_train"][:10]},
        "float_y.npz": {"y_train": good["y_train"] + 0.5},
        "negative_y.npz": {"y_train": good["y_train"] - 1},
        "text_y.npz": {"y_train": good["y_train"].astype(str)},
        "big_y.npz": {"y_train": good["y_train"] * 7},
        "text_x.npz": {"x_train": good["x_train"].astype(str)},
        "nan_x.npz": {"x_train": np.where(np.eye(16, 8) > 0, np.nan, good["x_train"])},
        "test_width.npz": {"x_test": good["x_test"][:, :6]},
        "object_x.npz": {"x_train": np.array([[1, "a"]] * 16, dtype=object)},
    }
    for name, change in variants.items():
        np.savez(root / name, **{**good, **change})
    narrow = {k: (v[:, :6] if k.startswith("x") else v) for k, v in good.items()}
    np.savez(root / "narrow.npz", **narrow)
    np.savez(root / "partial.npz", x_train=good["x_train"], y_train=good["y_train"])
    np.save(root / "one_array.npy", good["x_train"])
    (root / "text.npz").write_text("not an archive")
    return root


@pytest.fixture
def run_main(folder, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", list(sys.path))  # cli puts the cwd first: undo it
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint was read before the input was validated")

    monkeypatch.setattr(CheckpointSource, "restore", forbidden)
    monkeypatch.setattr(CheckpointSource, "restore_many", forbidden)

    def run(*args):
        t0 = time.perf_counter()
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse
            code = exit_.code
        seconds = time.perf_counter() - t0
        return code, capsys.readouterr().err, seconds

    return run


ANALYZE = ["analyze", "ckpts", "--model", "cli_bad_usermodel:make_model", "--quiet"]
ANALYZE += ["--out", "bad_out"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--players", "0"], "--players 0 is out of range: expected 1..16"),
        (["--players", "-3"], "--players '-3' is not understood: expected N (features), grid"),
        (["--players", "17"], "--players 17 is out of range"),
        (["--samples", "0"], "--samples 0 is out of range: expected at least 1"),
        (["--q-ratio", "-1"], "--q-ratio -1.0 is out of range: expected a number >= 0"),
        (["--q-ratio", "nan"], "--q-ratio nan is out of range"),
        (["--q-ratio", "inf"], "--q-ratio inf is out of range"),
        (["--tol", "-1"], "--tol -1.0 is out of range: expected a relative gap > 0"),
        (["--tol", "inf"], "--tol inf is out of range"),
        (["--ratio", "2"], "--ratio 2.0 is out of range: expected a share in [0, 1]"),
        (["--ratio", "nan"], "--ratio nan is out of range"),
        (["--baselines", "0"], "--baselines 0 is out of range"),
        (["--baseline-steps", "0"], "--baseline-steps 0 is out of range"),
        (["--memory-budget", "inf"], "--memory-budget inf is out of range"),
        (["--baseline-dirs", "nowhere"], "--baseline-dirs: nowhere is not a folder"),
        (["--players", "abc"], "--players 'abc' is not understood"),
        (["--players", "grid:2y3"], "--players 'grid:2y3' is not understood"),
        (["--players", "grid:5x4"], "--players grid:5x4 is out of range: expected 1..16"),
        (["--players", "tokens:0"], "--players tokens:0 is out of range"),
        (["--mask-value", "half"], "--mask-value 'half' is not understood"),
        (["--mask-value", "nan"], "--mask-value nan must be a finite number"),
        (["--mask-token", "-1"], "--mask-token -1 is out of range: expected a token id >= 0"),
        (["--baseline-lr", "0"], "--baseline-lr 0.0 is out of range"),
    ],
)
def test_bad_options(run_main, args, message):
    code, err, seconds = run_main(*ANALYZE, "--data", "data.npz", *args)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert seconds < 5.0  # coarse backstop; the fixture forbids any checkpoint read


def test_more_players_than_features(run_main, monkeypatch):
    """Checked with the data, before any checkpoint is read or baseline trained."""
    from interjax import _user_run

    def forbidden(*args, **kwargs):
        raise AssertionError("a baseline was trained before the input was validated")

    monkeypatch.setattr(_user_run, "train_user_baselines", forbidden)
    code, err, _ = run_main(*ANALYZE, "--data", "data.npz", "--players", "9")
    assert code == 2 and "--players 9 exceeds the 8 input features" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("missing.npz", "data file missing.npz does not exist"),
        ("text.npz", "text.npz is not an .npz archive of arrays"),
        ("one_array.npy", "one_array.npy holds one array, not an .npz archive"),
        ("partial.npz", "partial.npz lacks ['x_test', 'y_test']"),
        ("object_x.npz", "object_x.npz holds a non-numeric array"),
        ("short_y.npz", "x_train (16, 8) and y_train (10,) must be (N, ...) and (N,)"),
        ("float_y.npz", "y_train must hold class labels 0, 1, ..., K-1 (integers >= 0)"),
        ("negative_y.npz", "got int64 values like [-1"),
        ("text_y.npz", "y_train must hold class labels 0, 1, ..., K-1, got dtype <U"),
        ("text_x.npz", "x_train must hold real numbers, got dtype <U"),
        ("nan_x.npz", "x_train holds NaN or inf (first at [0, 0])"),
        ("test_width.npz", "x_train and x_test must have the same shape per sample"),
        ("narrow.npz", "cannot take the data's inputs of shape (6,) per sample"),
        ("big_y.npz", "y_train holds class 7 but the model of --model"),
    ],
)
def test_bad_data(run_main, data, message):
    code, err, seconds = run_main(*ANALYZE, "--data", data, "--players", "4")
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert seconds < 5.0  # coarse backstop; the fixture forbids any checkpoint read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--steps", "0"], "interjax demo: error: --steps must be >= 1, got 0"),
        (["demo", "--seed", "-1"], "interjax demo: error: --seed must be >= 0, got -1"),
        (["demo", "--only", "all"], "argument --only: invalid choice: 'all'"),
        (["bench", "--only"], "interjax bench: error: argument --only: expected at least one"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["analyze", "ckpts", "--data", "data.npz"], "the following arguments are required"),
    ],
)
def test_other_commands(run_main, args, message):
    code, err, _ = run_main(*args)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        [*ANALYZE, "--data", "float_y.npz"],
        [*ANALYZE, "--data", "data.npz", "--samples", "many"],
    ],
)
def test_the_real_command_prints_one_line(folder, args):
    proc = subprocess.run(
        [sys.executable, "-m", "interjax.cli", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("interjax analyze: error: ")
