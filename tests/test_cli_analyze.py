"""``interjax analyze`` on a user's own run: a module with a factory, an npz, checkpoints."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

from interjax import data
from tests.helpers import write_user_data

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

USER_MODULE = textwrap.dedent("""
    from flax import nnx
    from interjax.data import MLP

    def make_model(seed=0):
        return MLP(8, 2, hidden=(32,), rngs=nnx.Rngs(seed))

    def wrong_model():
        return MLP(8, 2, hidden=(16,), rngs=nnx.Rngs(0))
""")


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    (root / "usermodel.py").write_text(USER_MODULE)
    ds = data.planted_rules(num_train=128, num_test=128, num_features=8, seed=1)
    write_user_data(root / "data.npz", ds)
    data.train_run(
        lambda: data.MLP(8, 2, hidden=(32,), rngs=nnx.Rngs(0)),
        ds,
        root / "run",
        total_steps=100,
        num_saves=4,
    )
    return root


def cli(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "interjax.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_analyze_a_user_run(user_run):
    proc = cli(
        user_run,
        "analyze",
        "run/checkpoints",
        "--model",
        "usermodel:make_model",
        "--data",
        "data.npz",
        "--out",
        "out",
        "--players",
        "6",
        "--samples",
        "4",
        "--baselines",
        "2",
        "--baseline-steps",
        "50",
        "--protocol",
        "paper",
        "--same-sign",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((user_run / "out" / "summary.json").read_text())
    assert summary["steps"] == data.save_schedule(100, 4)
    assert summary["settings"]["n"] == 6 and summary["settings"]["num_baselines"] == 2
    assert summary["settings"]["same_sign"] is True
    assert (user_run / "out" / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["missing_dir", "--model", "usermodel:make_model", "--data", "data.npz"],
            "does not exist",
        ),
        (
            [
                "run/checkpoints",
                "--model",
                "usermodel:wrong_model",
                "--data",
                "data.npz",
                "--players",
                "6",
            ],
            "step 0: no subtree of the checkpoint holds the model's variables",
        ),
        (["run/checkpoints", "--model", "usermodel:nothing", "--data", "data.npz"], "no callable"),
        (["run/checkpoints", "--model", "nomodule:f", "--data", "data.npz"], "cannot import"),
        (
            ["run/checkpoints", "--model", "usermodel:make_model", "--data", "nodata.npz"],
            "does not exist",
        ),
        (
            [
                "run/checkpoints",
                "--model",
                "usermodel:make_model",
                "--data",
                "data.npz",
                "--players",
                "9",
            ],
            "exceeds the 8 input features",
        ),
        (
            [
                "run/checkpoints",
                "--model",
                "usermodel:make_model",
                "--data",
                "data.npz",
                "--tol",
                "0",
            ],
            "--tol 0.0 is out of range: expected a relative gap > 0",
        ),
        (
            [
                "run/checkpoints",
                "--model",
                "usermodel:make_model",
                "--data",
                "data.npz",
                "--order-weight",
                "-1",
            ],
            "--order-weight -1.0 is out of range: expected a weight > 0",
        ),
    ],
)
def test_bad_input_is_one_clear_line(user_run, args, message):
    proc = cli(user_run, "analyze", *args, "--out", "bad_out", "--quiet")
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_memory_budget_refuses_before_any_work(user_run):
    """A run over the budget stops at once (no baseline trained, nothing but the lock's folder
    written), naming the estimate and the way out."""
    proc = cli(
        user_run,
        "analyze",
        "run/checkpoints",
        "--model",
        "usermodel:make_model",
        "--data",
        "data.npz",
        "--out",
        "budget_out",
        "--players",
        "8",
        "--memory-budget",
        "0.001",
        "--quiet",
    )
    assert proc.returncode == 2, proc.stderr
    assert "would hold about" in proc.stderr and "memory budget is 0.00 GiB" in proc.stderr
    assert "fewer checkpoints or samples" in proc.stderr
    assert not (user_run / "budget_out").exists()
    bad = cli(
        user_run,
        "analyze",
        "run/checkpoints",
        "--model",
        "usermodel:make_model",
        "--data",
        "data.npz",
        "--out",
        "budget_out",
        "--memory-budget",
        "-1",
    )
    assert bad.returncode == 2 and "--memory-budget -1.0 is out of range" in bad.stderr


def test_data_file_without_keys(user_run):
    np.savez(user_run / "partial.npz", x_train=np.zeros((3, 8)))
    proc = cli(
        user_run,
        "analyze",
        "run/checkpoints",
        "--model",
        "usermodel:make_model",
        "--data",
        "partial.npz",
        "--out",
        "bad_out2",
        "--quiet",
    )
    assert proc.returncode == 2 and "lacks ['y_train', 'x_test', 'y_test']" in proc.stderr
