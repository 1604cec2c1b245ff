"""The numbers ``interjax analyze`` writes, checked against the Python API on real Orbax runs.

The command runs in this process (``cli.main``) on runs of the researcher-style scripts of
``tests/guide_runs`` (trained once per session, ``guide_runs``), with baseline models read from
the user's own runs (``--baseline-dirs``: no training randomness) and chosen samples
(``--sample-ids``). The same analysis is then computed the way the README's Python recipe does
it: ``orbax_source(..., model_factory=...)``, the steps restored, ``analyze.trajectory`` with
``AnalysisSettings`` of the same options, ``analyze.summarize``. ``OUT/arrays.npz`` and
``OUT/summary.json`` must hold those numbers; options that must change them do; the same
command gives the same files; an output folder is never mixed with another analysis's results.

Every CLI run is made once per module (module-scoped fixtures) and shared by the tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import math
import shutil
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import interjax as ij
from interjax import analyze, cli
from interjax.analyze import AnalysisSettings
from interjax.checkpoints import CheckpointSource, orbax_source
from tests.guide_runs.reference import HERE, load_script, run_dir
from tests.helpers import folder_hash

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# A user's own model of (H, W) images, without a channel axis (the guide scripts' CNNs take
# (H, W, 1)): the command line's grid players on 2-D images.
HW_SCRIPT = '''"""An NNX model of (8, 8) digit images: flatten, then one linear layer."""
from flax import nnx


class Flat(nnx.Module):
    def __init__(self, rngs):
        self.linear = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        return self.linear(x.reshape(x.shape[0], -1))


def make_model(seed=0):
    return Flat(nnx.Rngs(seed))
'''


SEEDS = range(1, 11)  # the baseline runs' seeds: K = 10


@dataclasses.dataclass
class Case:
    """One analysed run: the CLI's arguments and what the Python API is given for them."""

    module: object  # the user's script (make_model)
    ckpt: Path
    data: Path
    baselines: list[Path]
    players_flag: str
    players: ij.Players
    mask_flags: list[str]
    mask_value: object  # what the Python recipe passes as mask_value
    train_ids: list[int]
    test_ids: list[int]
    ids_file: Path

    def args(self, out, *options) -> list:
        return [
            self.ckpt, "--model", f"{self.module.__name__.rsplit('.', 1)[-1]}:make_model",
            "--data", self.data, "--out", out, "--players", self.players_flag, *self.mask_flags,
            "--sample-ids", self.ids_file, "--baseline-dirs", *self.baselines, "--quiet",
            *options,
        ]  # fmt: skip

    def samples(self):
        with np.load(self.data) as d:
            x = np.concatenate([d["x_train"][self.train_ids], d["x_test"][self.test_ids]])
            y = np.concatenate([d["y_train"][self.train_ids], d["y_test"][self.test_ids]])
        return x, y, np.arange(len(y)) >= len(self.train_ids)


def run_cli(*args) -> tuple[int, str]:
    """``interjax analyze ARGS`` in this process: ``(exit status, stderr)``."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(["analyze", *map(str, args)])
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()


def api_trajectory(case: Case, settings: AnalysisSettings, with_losses: bool = False):
    """The README's Python recipe on the same run, baselines, samples and settings."""
    factory = case.module.make_model
    with orbax_source(case.ckpt, model_factory=factory) as source:
        steps, params = source.restore_many()
        model = source.model(ij.log_odds(target=0))
    baselines = []
    for folder in case.baselines:
        with orbax_source(folder, model_factory=factory) as b:
            baselines.append(b.restore(b.all_steps()[-1]))
    x, y, is_test = case.samples()
    traj = analyze.trajectory(
        model, params, baselines, x, y, case.players, steps=steps, is_test=is_test,
        mask_value=case.mask_value, settings=settings,
    )  # fmt: skip
    if not with_losses:
        return traj
    # losses of each checkpoint, as the report defines them: mean cross-entropy on the whole
    # training split and on the held-out half of the test split (float64 from the logits)
    with np.load(case.data) as z:
        d = dict(z)
    split = analyze.baseline_split(x_test=d["x_test"], y_test=d["y_test"])
    held = np.isin(np.arange(len(d["x_test"])), split.heldout_ids)

    def loss(p, xs, ys):
        logits = np.asarray(model.apply(p, xs), np.float64)
        top = logits.max(1, keepdims=True)
        logp = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
        return float(-logp[np.arange(len(ys)), ys].mean())

    train = [loss(p, d["x_train"], d["y_train"]) for p in params]
    test = [loss(p, d["x_test"][held], d["y_test"][held]) for p in params]
    return traj, train, test


def cli_arrays(out: Path) -> dict:
    with np.load(out / "arrays.npz") as z:
        return {k: z[k] for k in z.files}


def assert_arrays_match(out: Path, traj) -> None:
    """``OUT/arrays.npz`` against the trajectory's arrays.

    Bitwise: the samples, steps and targets, the values, and everything thresholded or
    labelled from the fits (salient sets, generalizable labels). The values come from the
    same sweeps: the K = 10 baselines are one stack of 10 on both sides; the checkpoints a
    stack of 10 (the CLI pads its group to ``group_size``) against one of T = 4, and XLA on
    CPU computes each model's forward pass the same in either.

    To 1e-6: the interactions and certified gaps, whose batch shapes differ (the CLI solves
    its 10 x B checkpoint fits and its K x B baseline fits in two batched solves, 40 fits
    each; ``trajectory`` all (T + K) x B = 56 in one). Each fit is its own solver lane, so
    the iterates need not depend on the batch, but the compiled arithmetic may (measured: the
    interactions bitwise equal, the relative gaps within 6.4e-16).
    """
    ours, run = traj.arrays(), cli_arrays(out)
    assert sorted(run) == sorted(ours)
    for name, ref in ours.items():
        assert run[name].shape == np.shape(ref), name
    exact = ("steps", "is_test", "targets", "values", "salient", "generalizable")
    for name in (*exact, "baseline_salient"):
        np.testing.assert_array_equal(run[name], ours[name], err_msg=name)
    for name in ("interactions", "baseline_interactions", "relative_gap", "baseline_relative_gap"):
        np.testing.assert_allclose(run[name], ours[name], rtol=0, atol=1e-6, err_msg=name)


def assert_json_close(a, b, where="summary") -> None:
    """Equal JSON trees; floats to 1e-6 relative (NaN equals NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), (where, a, b)
        for k in a:
            assert_json_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), (where, a, b)
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_json_close(u, v, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, (where, a, b)
        both_nan = math.isnan(a) and math.isnan(b)
        assert both_nan or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


def files_of(out: Path) -> dict[str, bytes]:
    """Every file of an output folder (stage files included) by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# -- the user's folder and runs ---------------------------------------------------------------


def save_models(folder: Path, models: dict) -> Path:
    """An Orbax run as the NNX guide saves one: ``{step: model}``, ``nnx.state`` per step."""
    import orbax.checkpoint as ocp
    from flax import nnx

    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    with ocp.CheckpointManager(folder.absolute(), options=options) as mgr:
        for step, model in models.items():
            mgr.save(step, args=ocp.args.StandardSave(nnx.state(model)))
        mgr.wait_until_finished()
    return folder


@pytest.fixture(scope="module")
def user(guide_runs, tmp_path_factory):
    """A user's folder holding the training scripts, the current folder while the module
    runs, and the analysed cases. The targets are the guide scripts' runs (4 steps each) and
    a run of the (H, W) model written here; the baselines are the user's own runs of other
    seeds (saved without training: this is about the numbers, not the models).

    Every case has n = 8 players, T = 4 steps, K = 10 baselines and B = 2 + 2 samples: the
    batched solver compiles once per batch shape and tolerance (tens of seconds each on 2
    cores, most of this module's time), and these shapes are shared by every case. The CLI
    fits its checkpoints in a group padded to ``group_size`` = 10 and its K = 10 baselines:
    both 40 fits; ``trajectory`` fits T + K = 14 models at once: 56."""
    folder = tmp_path_factory.mktemp("user")
    for script in ("nnx_mlp", "nnx_cnn", "nnx_tokens"):
        shutil.copy(HERE / f"{script}.py", folder / f"{script}.py")
    (folder / "digits_hw.py").write_text(HW_SCRIPT)
    spec = importlib.util.spec_from_file_location("digits_hw", folder / "digits_hw.py")
    hw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hw)
    mlp, cnn, tok = (load_script(s) for s in ("nnx_mlp", "nnx_cnn", "nnx_tokens"))

    runs = folder / "runs"
    bases = {
        name: [save_models(runs / f"{name}_seed{s}", {30: mod.make_model(s)}) for s in SEEDS]
        for name, mod in (("mlp", mlp), ("cnn", cnn), ("tokens", tok), ("hw", hw))
    }
    x_train, y_train, x_test, y_test = cnn.load_data()
    hw_data = folder / "digits_hw.npz"
    np.savez(hw_data, x_train=x_train[..., 0], y_train=y_train, x_test=x_test[..., 0],
             y_test=y_test)  # fmt: skip
    hw_ckpt = save_models(runs / "hw", {5 * s: hw.make_model(10 + s) for s in range(4)})

    def case(name, module, ckpt, data, players_flag, players, mask_flags, mask_value,
             train_ids, test_pick):  # fmt: skip
        with np.load(data) as d:
            held = analyze.baseline_split(x_test=d["x_test"], y_test=d["y_test"]).heldout_ids
        test_ids = [int(held[i]) for i in test_pick]
        ids = folder / f"{name}_ids.json"
        ids.write_text(json.dumps({"train": train_ids, "test": test_ids}))
        return Case(module, ckpt, data, bases[name], players_flag, players, mask_flags,
                    mask_value, train_ids, test_ids, ids)  # fmt: skip

    mlp_run = run_dir(guide_runs, "nnx_mlp", "state")
    cnn_run = run_dir(guide_runs, "nnx_cnn", "state")
    tok_run = run_dir(guide_runs, "nnx_tokens", "state")
    with np.load(cnn_run / "data.npz") as d:
        cnn_x = d["x_train"]
    grid = ij.Players.grid((8, 8), 2, 4)
    cases = {
        "mlp": case("mlp", mlp, mlp_run / "checkpoints", mlp_run / "data.npz", "8",
                    ij.Players.features(8, num_features=30), [], None, [3, 17], [0, 5]),
        "cnn": case("cnn", cnn, cnn_run / "checkpoints", cnn_run / "data.npz", "grid:2x4",
                    grid, ["--mask-value", "mean"], ij.mean_mask_value(cnn_x), [2, 40], [1, 7]),
        "tokens": case("tokens", tok, tok_run / "checkpoints", tok_run / "data.npz", "tokens",
                       ij.Players.tokens(8), ["--mask-token", "1"], tok.MASK_ID, [0, 9], [2, 3]),
        "hw": case("hw", hw, hw_ckpt, hw_data, "grid:2x4", grid, ["--mask-value", "0.5"], 0.5,
                   [1, 2], [0, 3]),
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setattr(sys, "path", list(sys.path))  # cli puts the cwd first: undo it afterwards
        mp.setattr(sys, "unraisablehook", sys.unraisablehook)
        yield folder, cases


@pytest.fixture(scope="module")
def mlp_default(user):
    """The MLP run with the default settings. x64 is off before the command starts (as in a
    fresh process): the command line must turn it on itself."""
    folder, cases = user
    out = folder / "mlp_default"
    jax.config.update("jax_enable_x64", False)
    try:
        code, err = run_cli(*cases["mlp"].args(out))
        x64_after = jax.config.jax_enable_x64
    finally:
        jax.config.update("jax_enable_x64", True)
    assert code == 0, err
    return out, x64_after


@pytest.fixture(scope="module")
def mlp_with(user):
    """``mlp_with(*options)``: the MLP run with other options, each made once."""
    folder, cases = user
    made = {}

    def run(*options):
        if options not in made:
            out = folder / ("mlp_" + "_".join(o.strip("-") for o in options))
            code, err = run_cli(*cases["mlp"].args(out, *options))
            assert code == 0, err
            made[options] = out
        return made[options]

    return run


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if a checkpoint is restored or a model evaluated and fitted."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started: a checkpoint was restored or a model fitted")

    monkeypatch.setattr(CheckpointSource, "restore", forbidden)
    monkeypatch.setattr(analyze, "fit_models", forbidden)


# -- 1. the command line's numbers are the Python API's ---------------------------------------


def test_cli_equals_the_python_api(user, mlp_default):
    """arrays.npz is the trajectory of the same checkpoints, baselines, samples and settings;
    summary.json's numbers are ``summarize``'s (losses computed independently from the
    restored models' logits)."""
    _, cases = user
    out, _ = mlp_default
    traj, train_loss, test_loss = api_trajectory(cases["mlp"], AnalysisSettings(),
                                                 with_losses=True)  # fmt: skip
    assert_arrays_match(out, traj)
    run = json.loads((out / "summary.json").read_text())
    np.testing.assert_allclose(run["metrics"]["train_loss"], train_loss, rtol=1e-5)
    np.testing.assert_allclose(run["metrics"]["test_loss"], test_loss, rtol=1e-5)
    ours = analyze.summarize(traj, train_loss, test_loss).as_dict()
    keys = ("steps", "settings", "profile_all", "profile_train", "profile_test", "phases",
            "loss_gap", "removal", "solver")  # fmt: skip
    for key in keys:
        assert_json_close(run[key], ours[key], key)
    assert run["steps"] == [0, 20, 40, 60]
    assert run["run"]["samples"] == {
        "train_ids": cases["mlp"].train_ids,
        "test_ids": cases["mlp"].test_ids,
    }
    # not a vacuous comparison: salient interactions at every step, some generalizable
    z = cli_arrays(out)
    assert z["salient"].any(axis=(1, 2, 3)).all() and z["generalizable"].any()
    assert (z["generalizable"] <= z["salient"]).all()


# -- 2. the command line runs the transforms and the solver in float64 -------------------------


def test_the_cli_runs_in_float64(mlp_default):
    out, x64_after = mlp_default
    assert x64_after  # turned on by the command itself (it was off when it started)
    z = cli_arrays(out)
    for name in ("values", "interactions", "baseline_interactions", "relative_gap",
                 "baseline_relative_gap"):  # fmt: skip
        assert z[name].dtype == np.float64, (name, z[name].dtype)
    for name in ("salient", "generalizable", "baseline_salient", "is_test"):
        assert z[name].dtype == np.bool_, (name, z[name].dtype)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["precision"] == "float64"
    assert "transforms in float64." in (out / "report.md").read_text()


# -- 3. options that must change the output do; the same command gives the same files ----------


def test_ratio_only_thresholds_the_same_fits(mlp_default, mlp_with):
    """``--ratio 0.2``: the same values and interactions (the fits do not depend on the
    threshold), salient sets that are subsets of ``--ratio 0.05``'s and strictly smaller
    somewhere; so are the generalizable sets."""
    loose, strict = cli_arrays(mlp_default[0]), cli_arrays(mlp_with("--ratio", "0.2"))
    for name in ("values", "interactions", "baseline_interactions", "relative_gap"):
        np.testing.assert_array_equal(strict[name], loose[name], err_msg=name)
    for name in ("salient", "baseline_salient", "generalizable"):
        assert (strict[name] <= loose[name]).all(), name
    assert strict["salient"].sum() < loose["salient"].sum()
    assert strict["baseline_salient"].sum() < loose["baseline_salient"].sum()
    # the threshold itself: |I| >= ratio * max |I| over the fit's non-empty sets
    inter = np.abs(strict["interactions"])
    top = inter[..., 1:].max(axis=(-2, -1), keepdims=True)
    assert not strict["salient"][..., 0].any()
    assert (np.where(strict["salient"], inter - 0.2 * top, 0.0) >= 0).all()
    summary = json.loads((mlp_with("--ratio", "0.2") / "summary.json").read_text())
    assert summary["settings"]["ratio"] == 0.2


def test_q_ratio_changes_the_interactions(mlp_default, mlp_with):
    """``--q-ratio 0`` (no error allowance) against 0.02: the same values, other interactions."""
    default, exact = cli_arrays(mlp_default[0]), cli_arrays(mlp_with("--q-ratio", "0"))
    np.testing.assert_array_equal(exact["values"], default["values"])
    diff = np.abs(exact["interactions"] - default["interactions"]).max()
    assert diff > 1e-3, diff
    summary = json.loads((mlp_with("--q-ratio", "0") / "summary.json").read_text())
    assert summary["settings"]["q_ratio"] == 0.0


def test_looser_tol_stops_the_fits_earlier(mlp_default, mlp_with):
    """``--tol 0.5``: every certified gap within 0.5, and the gaps (where the solver stopped)
    differ from those of ``--tol 1e-2``, each within its own tolerance."""
    default, loose = cli_arrays(mlp_default[0]), cli_arrays(mlp_with("--tol", "0.5"))
    np.testing.assert_array_equal(loose["values"], default["values"])
    for name in ("relative_gap", "baseline_relative_gap"):
        assert (default[name] <= 1e-2).all() and (loose[name] <= 0.5).all(), name
    assert not np.array_equal(loose["relative_gap"], default["relative_gap"])
    assert loose["relative_gap"].max() > default["relative_gap"].max()
    summary = json.loads((mlp_with("--tol", "0.5") / "summary.json").read_text())
    assert summary["settings"]["tol"] == 0.5
    assert summary["solver"]["max_relative_gap"] == float(loose["relative_gap"].max())


def test_order_weight_runs_that_weight_alone(user, mlp_default, mlp_with):
    """``--order-weight 1.2`` (the weight of n = 8 alone, no probe): the Python API's numbers
    with ``AnalysisSettings(order_weight=1.2)``, recorded in the settings. On these fits the
    probe goes on with weight 1, so the fixed weight stops its fits elsewhere: the same values,
    other gaps, each within the tolerance (the setting reaches the solver)."""
    _, cases = user
    out = mlp_with("--order-weight", "1.2")
    assert_arrays_match(out, api_trajectory(cases["mlp"], AnalysisSettings(order_weight=1.2)))
    default, fixed = cli_arrays(mlp_default[0]), cli_arrays(out)
    np.testing.assert_array_equal(fixed["values"], default["values"])
    assert (fixed["relative_gap"] <= 1e-2).all()
    assert not np.array_equal(fixed["relative_gap"], default["relative_gap"])
    assert json.loads((out / "summary.json").read_text())["settings"]["order_weight"] == 1.2
    default_settings = json.loads((mlp_default[0] / "summary.json").read_text())["settings"]
    assert "order_weight" not in default_settings


def test_the_same_command_twice_gives_identical_files(user, mlp_default):
    folder, cases = user
    again = folder / "mlp_default_again"
    code, err = run_cli(*cases["mlp"].args(again))
    assert code == 0, err
    first, second = files_of(mlp_default[0]), files_of(again)
    assert sorted(first) == sorted(second)
    assert "stages/checkpoints_000.npz" in first and "stages/baselines.npz" in first
    for name in first:
        assert first[name] == second[name], name


# -- 4. an output folder is never mixed with another analysis's results ------------------------


def test_other_settings_into_a_used_folder_are_refused_and_the_same_resume(
    user, mlp_default, no_work
):
    """Another ``--ratio`` into the folder of a finished run: refused before any checkpoint is
    read, one line, exit 2, the folder untouched. The same command again resumes: nothing is
    restored or fitted (the stage files are read) and the files come out identical."""
    folder, cases = user
    out = folder / "mlp_reused"
    shutil.copytree(mlp_default[0], out)
    before_hash, before = folder_hash(out), files_of(out)
    code, err = run_cli(*cases["mlp"].args(out, "--ratio", "0.2"))
    assert code == 2, err
    assert err.startswith("interjax analyze: error: ") and err.count("\n") == 1, err
    assert "holds the results of another analysis" in err and "Traceback" not in err
    assert folder_hash(out) == before_hash
    code, err = run_cli(*cases["mlp"].args(out))
    assert code == 0, err
    assert files_of(out) == before


# -- 5. --baseline-dirs -------------------------------------------------------------------------


def test_baseline_dirs_are_named_in_the_summary(user, mlp_default):
    _, cases = user
    summary = json.loads((mlp_default[0] / "summary.json").read_text())
    baselines = summary["run"]["baselines"]
    assert baselines["count"] == len(SEEDS)
    assert [b["checkpoints"] for b in baselines["from"]] == [
        str(Path(b).absolute()) for b in cases["mlp"].baselines
    ]
    assert [b["step"] for b in baselines["from"]] == [30] * len(SEEDS)
    assert all(b["layout"] == "(root)" for b in baselines["from"])  # nnx.state at the root
    assert summary["settings"]["num_baselines"] == len(SEEDS)
    assert cli_arrays(mlp_default[0])["baseline_interactions"].shape[0] == len(SEEDS)


@pytest.mark.parametrize("which", ["missing folder", "another architecture"])
def test_bad_baseline_dirs_are_refused_before_work(user, guide_runs, no_work, which):
    folder, cases = user
    bad = (
        folder / "no_such_run"
        if which == "missing folder"
        else run_dir(guide_runs, "linen_mlp", "params") / "checkpoints"
    )
    out = folder / f"bad_baselines_{which.replace(' ', '_')}"
    case = dataclasses.replace(cases["mlp"], baselines=[cases["mlp"].baselines[0], bad])
    before = folder_hash(bad) if bad.exists() else None
    code, err = run_cli(*case.args(out))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    if which == "missing folder":
        assert f"--baseline-dirs: {bad} is not a folder of Orbax checkpoints" in err
    else:
        assert "no subtree of the checkpoint holds the model's variables" in err
        assert folder_hash(bad) == before
    assert not out.exists()


# -- 6. image and token inputs ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cnn", "hw", "tokens"])
def test_images_and_tokens_through_the_cli_equal_the_python_api(user, name):
    """(H, W, C) images (the guide's CNN with BatchNorm and Dropout, ``grid:2x4``, mean
    masking), (H, W) images (``grid:2x4``, a number as mask value) and token ids
    (``--players tokens --mask-token 1``): arrays.npz is the trajectory's. ``--mask-value
    mean`` must be the README recipe's ``ij.mean_mask_value(x_train)`` to the bit (a NumPy
    mean differs from it by one float32 ulp in some pixels, the values by up to 1.9e-6)."""
    folder, cases = user
    case = cases[name]
    out = folder / f"{name}_out"
    code, err = run_cli(*case.args(out))
    assert code == 0, err
    assert_arrays_match(out, api_trajectory(case, AnalysisSettings()))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["players"]["n"] == case.players.n
    if name == "tokens":
        assert summary["run"]["input_dtype"] == "int32" and summary["run"]["mask"] == "token id 1"
