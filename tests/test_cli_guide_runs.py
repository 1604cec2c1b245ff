"""``interjax analyze`` on runs saved the way the Flax and Orbax guides save them.

Each run comes from a researcher-style training script (tests/guide_runs), trained in a fresh
process; the command is pointed at it as a new user would (``--model <script>:make_model``,
the script's own data file). Its numbers are checked against the guide's own restore
(``reference_logits``): v(N) of every analysed sample is the model's eval-mode log-odds, v(∅)
the log-odds of the fully masked input. Bad input ends with one line, exit status 2, before any
checkpoint is read or model trained, and the checkpoint folder is never touched.

The command runs in this process (``cli.main``) to share compiled programs; one case runs the
real command.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from interjax import _user_run, cli
from interjax.checkpoints import CheckpointSource
from tests.guide_runs.reference import HERE, log_odds, reference_logits, run_dir
from tests.helpers import folder_hash

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

FAST = ["--samples", "2", "--baselines", "1", "--baseline-steps", "20", "--quiet"]


@pytest.fixture
def user(guide_runs, tmp_path, monkeypatch, capsys):
    """A user's folder: the training scripts beside their runs; ``run(*args)`` calls the
    command line there and returns ``(exit status, stderr)``."""
    for script in ("nnx_mlp", "nnx_cnn", "nnx_tokens", "linen_mlp", "linen_cnn"):
        shutil.copy(HERE / f"{script}.py", tmp_path / f"{script}.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # cli puts the cwd first: undo it
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)

    def run(*args):
        try:
            code = cli.main(["analyze", *map(str, args)])
        except SystemExit as exit_:
            code = exit_.code
        return code, capsys.readouterr().err

    run.folder = tmp_path
    return run


def analysed(guide_runs, script, layout):
    folder = run_dir(guide_runs, script, layout)
    return folder / "checkpoints", folder / "data.npz"


def check_values(guide_runs, out, script, layout, masked_input):
    """v(N) and v(∅) of every analysed sample at the last checkpoint, against the guide's
    restore of that step."""
    summary = json.loads((out / "summary.json").read_text())
    run = summary["run"]
    data = np.load(run_dir(guide_runs, script, layout) / "data.npz")
    x = np.concatenate(
        [data["x_train"][run["samples"]["train_ids"]], data["x_test"][run["samples"]["test_ids"]]]
    )
    y = np.concatenate(
        [data["y_train"][run["samples"]["train_ids"]], data["y_test"][run["samples"]["test_ids"]]]
    ).astype(int)
    with np.load(out / "arrays.npz") as z:
        values, steps = z["values"], z["steps"]
    last = int(steps[-1])
    whole = reference_logits(guide_runs, script, layout, last, x)
    empty = reference_logits(guide_runs, script, layout, last, masked_input(x))
    for j, label in enumerate(y):
        assert abs(values[-1, j, -1] - log_odds(whole[j], label)) < 1e-4
        assert abs(values[-1, j, 0] - log_odds(empty[j], label)) < 1e-4
    return summary


def test_nnx_cnn_with_batchnorm_dropout_saved_beside_its_optimizer(guide_runs, user):
    ckpt, data = analysed(guide_runs, "nnx_cnn", "composite")
    before = folder_hash(ckpt)
    out = user.folder / "out"
    code, err = user(ckpt, "--model", "nnx_cnn:make_model", "--data", data, "--out", out,
                     "--players", "grid:2x2", "--mask-value", "mean", *FAST)  # fmt: skip
    assert code == 0, err
    assert folder_hash(ckpt) == before
    mean = np.load(data)["x_train"].astype(np.float32).mean(0)
    summary = check_values(guide_runs, out, "nnx_cnn", "composite",
                           lambda x: np.broadcast_to(mean, x.shape))  # fmt: skip
    run = summary["run"]
    assert run["layout"] == "model" and run["model_kind"] == "nnx"
    assert run["players"] == {"spec": "grid:2x2", "kind": "patches", "n": 4}
    assert run["mask"] == "mean of x_train" and run["input_dtype"] == "float32"
    assert run["model"] == "nnx_cnn:make_model" and run["checkpoints"] == str(ckpt.absolute())
    assert run["baselines"]["count"] == 1 and run["baselines"]["steps"] == 20
    assert summary["settings"]["precision"] == "float64"
    assert run["steps_listed"] == summary["steps"] == sorted(int(p.name) for p in ckpt.iterdir())
    page = (out / "report.md").read_text()
    assert f"| checkpoints | {ckpt.absolute()} (variables at model) |" in page
    assert "| players | grid:2x2 (4 patches) |" in page
    assert "| masked players become | mean of x_train |" in page
    assert (
        f"| held-out samples (x_test rows) | {', '.join(map(str, run['samples']['test_ids']))} |"
        in page
    )
    assert "transforms in float64." in page


def test_token_ids_with_a_mask_token(guide_runs, user):
    ckpt, data = analysed(guide_runs, "nnx_tokens", "state")
    out = user.folder / "out"
    code, err = user(ckpt, "--model", "nnx_tokens:make_model", "--data", data, "--out", out,
                     "--players", "tokens:6", "--mask-token", "1", *FAST)  # fmt: skip
    assert code == 0, err

    def masked(x):
        x = x.copy()
        x[:, :6] = 1
        return x

    summary = check_values(guide_runs, out, "nnx_tokens", "state", masked)
    assert summary["run"]["mask"] == "token id 1" and summary["run"]["input_dtype"] == "int32"
    assert summary["run"]["players"] == {"spec": "tokens:6", "kind": "tokens", "n": 6}


def test_linen_train_state_with_batch_stats_and_chosen_samples(guide_runs, user):
    ckpt, data = analysed(guide_runs, "linen_cnn", "trainstate")
    out = user.folder / "out"
    (user.folder / "ids.json").write_text(json.dumps({"train": [5, 9], "test": [3]}))
    code, err = user(ckpt, "--model", "linen_cnn:make_model", "--data", data, "--out", out,
                     "--players", "grid:2x2", "--sample-ids", "ids.json", *FAST)  # fmt: skip
    assert code == 0, err
    summary = check_values(guide_runs, out, "linen_cnn", "trainstate", np.zeros_like)
    run = summary["run"]
    assert run["samples"] == {"train_ids": [5, 9], "test_ids": [3]}
    assert run["layout"] == "params at params, batch_stats at batch_stats"
    assert run["model_kind"] == "linen" and 3 in run["heldout_ids"]


def test_linen_composite_with_baselines_from_the_users_own_runs(guide_runs, user):
    """``--baseline-dirs``: the user's baseline runs, read with the same layout detection (here
    saved as a bare params dict while the target is a TrainState in a Composite)."""
    ckpt, data = analysed(guide_runs, "linen_mlp", "composite")
    other, _ = analysed(guide_runs, "linen_mlp", "params")
    out = user.folder / "out"
    code, err = user(ckpt, "--model", "linen_mlp:make_model", "--data", data, "--out", out,
                     "--players", "5", "--baseline-dirs", other, *FAST)  # fmt: skip
    assert code == 0, err
    summary = check_values(guide_runs, out, "linen_mlp", "composite",
                           lambda x: np.where(np.arange(x.shape[1]) < 5, 0.0, x))  # fmt: skip
    baselines = summary["run"]["baselines"]
    assert baselines["from"] == [
        {"checkpoints": str(other.absolute()), "step": 60, "layout": "params at (root)"}
    ]
    assert summary["run"]["layout"] == "params at state/params"


@pytest.mark.slow  # six CLI runs (~2 min of the default run); the layouts above stay in it
@pytest.mark.parametrize(
    ("script", "layout"),
    [
        ("nnx_mlp", "pure"),
        ("nnx_mlp", "composite"),
        ("nnx_cnn", "state"),
        ("linen_mlp", "params"),
        ("linen_mlp", "trainstate"),
        ("linen_cnn", "variables"),
    ],
)
def test_every_other_layout(guide_runs, user, script, layout):
    """The layouts not covered above, on the smallest settings: the values are the model's."""
    ckpt, data = analysed(guide_runs, script, layout)
    images = script.endswith("cnn")
    out = user.folder / "out"
    code, err = user(ckpt, "--model", f"{script}:make_model", "--data", data, "--out", out,
                     "--players", "grid:1x2" if images else "2", "--samples", "1",
                     "--baselines", "1", "--baseline-steps", "1", "--quiet")  # fmt: skip
    assert code == 0, err

    def masked(x):
        return np.zeros_like(x) if images else np.where(np.arange(x.shape[1]) < 2, 0.0, x)

    check_values(guide_runs, out, script, layout, masked)


@pytest.fixture
def no_work(monkeypatch):
    """Bad input must be refused before any checkpoint is restored or model trained."""

    def forbidden(*args, **kwargs):
        raise AssertionError("heavy work started before the input was validated")

    monkeypatch.setattr(CheckpointSource, "restore", forbidden)
    monkeypatch.setattr(_user_run, "train_user_baselines", forbidden)


def ema_run(folder):
    """A Linen run saving params and an exponential moving average of them side by side."""
    import jax
    import orbax.checkpoint as ocp

    sys.path.insert(0, str(HERE))
    try:
        import linen_mlp
    finally:
        sys.path.remove(str(HERE))
    params = linen_mlp.make_model().init(jax.random.key(0), np.zeros((1, 30), np.float32))
    tree = {"step": 0, "params": params["params"], "ema_params": params["params"]}
    with ocp.CheckpointManager(folder.absolute()) as mgr:
        mgr.save(0, args=ocp.args.StandardSave(tree))
        mgr.wait_until_finished()
    return folder


BAD = {
    "integer inputs without --mask-token": (
        ("nnx_tokens", "state"),
        ["--model", "nnx_tokens:make_model", "--players", "tokens:4"],
        "integer token ids: say which id stands for a masked token with --mask-token ID",
    ),
    "more token players than positions": (
        ("nnx_tokens", "state"),
        ["--model", "nnx_tokens:make_model", "--players", "tokens:9", "--mask-token", "1"],
        "--players tokens:9 asks for 9 token players but the sequences have 8 positions",
    ),
    "a mask token for real inputs": (
        ("nnx_mlp", "state"),
        ["--model", "nnx_mlp:make_model", "--players", "4", "--mask-token", "1"],
        "--mask-token applies to integer token ids; these inputs are float32",
    ),
    "a grid that does not divide the image": (
        ("nnx_cnn", "state"),
        ["--model", "nnx_cnn:make_model", "--players", "grid:3x3"],
        "--players grid:3x3: a 3x3 grid does not divide a 8x8 image into equal patches",
    ),
    "feature players on images": (
        ("linen_cnn", "variables"),
        ["--model", "linen_cnn:make_model", "--players", "4"],
        "these inputs are (8, 8, 1) per sample: use --players grid:RxC",
    ),
    "a factory returning neither NNX nor Linen": (
        ("nnx_mlp", "state"),
        ["--model", "helpers:apply_fn", "--players", "4"],
        "--model helpers:apply_fn must return a flax.nnx.Module or a flax.linen.Module, got "
        "function",
    ),
    "another architecture's checkpoint": (
        ("linen_mlp", "trainstate"),
        ["--model", "nnx_mlp:make_model", "--players", "4"],
        "no subtree of the checkpoint holds the model's variables (4 arrays, e.g. linear1/bias "
        "(16,), linear1/kernel (30, 16)). Items found: (single item) (top-level keys: opt_state, "
        "params, step).",
    ),
    "an item that does not exist": (
        ("nnx_mlp", "composite"),
        ["--model", "nnx_mlp:make_model", "--players", "4", "--item", "nope"],
        "the checkpoint has no array item 'nope'; items: model (top-level keys: linear1, "
        "linear2); optimizer (top-level keys: opt_state, step); metrics (Json, no arrays)",
    ),
    "test samples the baselines trained on": (
        ("nnx_mlp", "state"),
        ["--model", "nnx_mlp:make_model", "--players", "4", "--sample-ids", "seen.json"],
        "--sample-ids: test samples [",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_before_any_work(guide_runs, user, no_work, case):
    (script, layout), args, message = BAD[case]
    ckpt, data = analysed(guide_runs, script, layout)
    (user.folder / "helpers.py").write_text("def apply_fn(seed=0):\n    return lambda x: x\n")
    n_test = len(np.load(data)["x_test"])
    (user.folder / "seen.json").write_text(json.dumps({"test": list(range(n_test))}))
    before = folder_hash(ckpt)
    code, err = user(ckpt, "--data", data, "--out", user.folder / "out", *args, "--quiet")
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert folder_hash(ckpt) == before
    assert not (user.folder / "out" / "stages").exists()


def test_two_candidate_subtrees_name_both_and_the_flag(guide_runs, user, no_work):
    ckpt = ema_run(user.folder / "ema")
    _, data = analysed(guide_runs, "linen_mlp", "params")
    before = folder_hash(ckpt)
    code, err = user(ckpt, "--model", "linen_mlp:make_model", "--data", data, "--out", "out",
                     "--players", "4")  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "2 subtrees of the checkpoint match the model's 'params' collection: ema_params, " in err
    assert "with --item NAME and --params-path a/b (the item's name" in err  # flags, not args
    assert folder_hash(ckpt) == before


NO_SWITCH = """
import flax.linen as nn

class Net(nn.Module):  # BatchNorm always in training mode: no switch interjax could set
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(nn.BatchNorm(use_running_average=False)(nn.Dense(4)(x)))

def make_model(seed=0):
    return Net()
"""


def test_linen_model_without_an_inference_switch(guide_runs, user, no_work):
    import jax
    import orbax.checkpoint as ocp

    (user.folder / "noswitch.py").write_text(NO_SWITCH)
    _, data = analysed(guide_runs, "linen_mlp", "params")
    sys.path.insert(0, str(user.folder))
    import noswitch

    variables = noswitch.make_model().init(jax.random.key(0), np.zeros((1, 30), np.float32))
    with ocp.CheckpointManager((user.folder / "ckpt").absolute()) as mgr:
        mgr.save(0, args=ocp.args.StandardSave(variables))
        mgr.wait_until_finished()
    code, err = user(user.folder / "ckpt", "--model", "noswitch:make_model", "--data", data,
                     "--out", "out", "--players", "4")  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "updates its batch statistics whenever it is called" in err
    assert "give its __call__ a train argument" in err


def test_reused_output_folder_is_refused_before_training(guide_runs, user, monkeypatch):
    ckpt, data = analysed(guide_runs, "nnx_mlp", "params")
    args = [ckpt, "--model", "nnx_mlp:make_model", "--data", data, "--out", "out", "--players", "4"]
    code, err = user(*args, *FAST)
    assert code == 0, err
    trained = []
    real = _user_run.train_user_baselines
    monkeypatch.setattr(_user_run, "train_user_baselines",
                        lambda *a, **k: trained.append(1) or real(*a, **k))  # fmt: skip
    code, err = user(*args, *FAST, "--q-ratio", "0.04")
    assert code == 2 and "holds the results of another analysis" in err and not trained, err
    code, err = user(*args, *FAST)  # the same command: resumes from the stage files
    assert code == 0 and not trained, err


def test_the_real_command_on_an_nnx_state(guide_runs, tmp_path):
    """What a user sees: the command in a fresh process, files with the user's umask."""
    ckpt, data = analysed(guide_runs, "nnx_mlp", "state")
    shutil.copy(HERE / "nnx_mlp.py", tmp_path / "nnx_mlp.py")
    proc = subprocess.run(
        [sys.executable, "-m", "interjax.cli", "analyze", str(ckpt), "--data", str(data),
         "--model", "nnx_mlp:make_model", "--out", "out", "--players", "4", *FAST],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir() if p.is_file()}
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    assert set(modes.values()) == {0o666 & ~umask}, modes
