"""Broken checkpoint folders: every damaged step is skipped with a warning naming it (or, if no
step is readable, one clear error), and the folder is never written, also when an analysis
stops part-way.

How Orbax (0.12.x) marks a finished step on a local disk: a save writes into
``<step>.orbax-checkpoint-tmp`` (older versions: ``...-tmp-<timestamp>``) and commits by renaming
it to ``<step>``; ``commit_success.txt`` is written inside before the rename and is consulted only
on filesystems without atomic rename (GCS). So an interrupted save leaves a temporary folder
(which Orbax does not list), and a folder under its final name counts as committed.
"""

import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import data
from interjax._pipeline import analyze_run
from interjax.analyze import AnalysisSettings, prepare_analysis
from interjax.checkpoints import CheckpointError, orbax_source
from tests.helpers import folder_hash, write_user_data

# Orbax's background threads may log a closed asyncio loop at interpreter exit: not ours
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

STEPS = [0, 1, 2, 5, 12]  # data.save_schedule(12, 5)

USER_MODULE = textwrap.dedent("""
    import jax.numpy as jnp
    from flax import nnx
    from interjax.data import MLP

    def make_model(seed=0):
        return MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(seed))

    class LogInputMLP(MLP):
        # reads log|x|: a masked feature (baseline 0) gives -inf, so the values are not finite
        def __call__(self, x):
            return super().__call__(jnp.log(jnp.abs(x)))

    def log_model(seed=0):
        return LogInputMLP(8, 2, hidden=(8,), rngs=nnx.Rngs(seed))
""")


def factory():
    return data.MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """A real training run (interjax.data.train_run: optax + Orbax), a user module and data."""
    root = tmp_path_factory.mktemp("broken")
    (root / "usermodel.py").write_text(USER_MODULE)
    ds = data.planted_rules(num_train=64, num_test=64, num_features=8, seed=1)
    write_user_data(root / "data.npz", ds)
    run = data.train_run(factory, ds, root / "run", total_steps=12, num_saves=5, batch_size=32)
    assert list(run.steps) == STEPS
    with orbax_source(run.checkpoints, model_factory=factory) as src:
        saved = {s: jax.tree.map(np.asarray, nnx.to_pure_dict(src.restore(s))) for s in STEPS}
    return root, saved


def damaged_copy(user_run, tmp_path, damage) -> Path:
    """A copy of the run's checkpoints (mtimes kept) with ``damage(folder)`` applied."""
    root, _ = user_run
    copy = tmp_path / "ckpt"
    shutil.copytree(root / "run" / "checkpoints", copy)
    damage(copy)
    return copy


def read_all(folder):
    """``(steps read, params, warning messages)`` of restore_many over the whole folder."""
    with (
        orbax_source(folder, model_factory=factory) as src,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        steps, params = src.restore_many()
    return steps, params, [str(w.message) for w in caught if "checkpoint step" in str(w.message)]


def assert_params_are_the_saved_ones(user_run, steps, params):
    _, saved = user_run
    for step, p in zip(steps, params, strict=True):
        got = jax.tree.map(np.asarray, nnx.to_pure_dict(p))
        jax.tree.map(np.testing.assert_array_equal, got, saved[step])


def truncate_data(step_dir: Path):
    for path in step_dir.rglob("*"):
        if path.is_file() and path.stat().st_size > 0 and "METADATA" not in path.name:
            if path.name != "commit_success.txt":
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def empty_folder(step_dir: Path):
    shutil.rmtree(step_dir)
    step_dir.mkdir()


def interrupted_save(folder: Path, step: int, suffix: str):
    """What an interrupted save leaves: the temporary folder, data partly written, no commit."""
    tmp = folder / f"{step}{suffix}"
    (folder / str(step)).rename(tmp)
    for marker in tmp.rglob("commit_success.txt"):
        marker.unlink()
    shutil.rmtree(tmp / "default" / "d")


def another_format(step_dir: Path):
    shutil.rmtree(step_dir)
    step_dir.mkdir()
    np.savez(step_dir / "params.npz", w=np.zeros((8, 8), np.float32))  # e.g. a numpy dump


# case -> (damage, steps read, step named in a warning or None, what the warning says)
CASES = {
    "truncated data files": (lambda d: truncate_data(d / "5"), 5, "it cannot be read"),
    "empty step folder": (lambda d: empty_folder(d / "5"), 5, "it cannot be read"),
    "step folder of another format": (lambda d: another_format(d / "5"), 5, "it cannot be read"),
    "interrupted save (Orbax 0.12 temporary folder)": (
        lambda d: interrupted_save(d, 5, ".orbax-checkpoint-tmp"),
        5,
        "its save did not finish",
    ),
    "interrupted save (older Orbax, timestamped temporary folder)": (
        lambda d: interrupted_save(d, 5, ".orbax-checkpoint-tmp-1718000000123456"),
        5,
        "its save did not finish",
    ),
    "uncommitted step data missing (no commit_success.txt, no array data)": (
        lambda d: (
            [m.unlink() for m in (d / "5").rglob("commit_success.txt")],
            shutil.rmtree(d / "5" / "default" / "d"),
            shutil.rmtree(d / "5" / "default" / "ocdbt.process_0"),
        ),
        5,
        "it cannot be read",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_step_is_skipped_with_a_warning_naming_it(user_run, tmp_path, case):
    damage, bad, says = CASES[case]
    folder = damaged_copy(user_run, tmp_path, damage)
    before = folder_hash(folder)
    steps, params, messages = read_all(folder)
    assert steps == [s for s in STEPS if s != bad]
    assert_params_are_the_saved_ones(user_run, steps, params)
    assert len(messages) == 1, messages
    assert f"skipping checkpoint step {bad} in {folder}" in messages[0] and says in messages[0]
    assert folder_hash(folder) == before


def test_a_deleted_step_folder_is_simply_absent(user_run, tmp_path):
    """Nothing records that a step existed: the others are read, without a warning."""
    folder = damaged_copy(user_run, tmp_path, lambda d: shutil.rmtree(d / "5"))
    before = folder_hash(folder)
    steps, params, messages = read_all(folder)
    assert steps == [0, 1, 2, 12] and messages == []
    assert_params_are_the_saved_ones(user_run, steps, params)
    assert folder_hash(folder) == before


def test_a_complete_step_without_commit_marker_is_read(user_run, tmp_path):
    """On a local disk the rename is Orbax's commit: a step under its final name whose
    commit_success.txt is gone but whose data is complete is read like Orbax itself reads it."""
    folder = damaged_copy(
        user_run, tmp_path, lambda d: [m.unlink() for m in (d / "5").rglob("commit_success.txt")]
    )
    before = folder_hash(folder)
    steps, params, messages = read_all(folder)
    assert steps == STEPS and messages == []
    assert_params_are_the_saved_ones(user_run, steps, params)
    assert folder_hash(folder) == before


def test_foreign_files_beside_the_steps_are_ignored(user_run, tmp_path):
    """Files and folders that are not Orbax steps (a Flax msgpack checkpoint, notes, a file
    named like a step) are not steps; the steps are read and the folder is untouched."""

    def clutter(d):
        (d / "checkpoint_7").write_bytes(b"\x81\xa6params\x80")  # flax.training msgpack file
        (d / "checkpoint_9").mkdir()
        (d / "checkpoint_9" / "weights.msgpack").write_bytes(b"\x80")
        (d / "13").write_bytes(b"a file named like a step")
        (d / "notes.txt").write_text("run notes")

    folder = damaged_copy(user_run, tmp_path, clutter)
    before = folder_hash(folder)
    steps, params, messages = read_all(folder)
    assert steps == STEPS and messages == []
    assert_params_are_the_saved_ones(user_run, steps, params)
    assert folder_hash(folder) == before


def test_nothing_readable_is_one_clear_error(user_run, tmp_path):
    """Every step damaged in its own way: CheckpointError naming the steps, a warning for each."""

    def damage_all(d):
        truncate_data(d / "0")
        empty_folder(d / "1")
        another_format(d / "2")
        interrupted_save(d, 5, ".orbax-checkpoint-tmp")
        [m.unlink() for m in (d / "12").rglob("commit_success.txt")]
        shutil.rmtree(d / "12" / "default")

    folder = damaged_copy(user_run, tmp_path, damage_all)
    before = folder_hash(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = orbax_source(folder, model_factory=factory)
        with pytest.raises(CheckpointError, match=r"none of the steps \[0, 1, 2, 12\] in .* could"):
            src.restore_many()
        src.close()
    named = {s for s in STEPS if any(f"checkpoint step {s} " in str(w.message) for w in caught)}
    assert named == set(STEPS)
    assert folder_hash(folder) == before


def test_only_unfinished_saves_is_a_clear_error(user_run, tmp_path):
    def all_interrupted(d):
        for s in STEPS:
            interrupted_save(d, s, ".orbax-checkpoint-tmp")

    folder = damaged_copy(user_run, tmp_path, all_interrupted)
    before = folder_hash(folder)
    with pytest.raises(
        CheckpointError,
        match=r"no Orbax checkpoint steps .* Only unfinished saves .*\[0, 1, 2, 5, 12\]",
    ):
        orbax_source(folder, model_factory=factory)
    assert folder_hash(folder) == before


def test_a_step_unreadable_during_the_analysis_is_skipped_and_named(user_run, tmp_path):
    """A step listed at the start but deleted or emptied before its group is analysed (as a
    training run's ``max_to_keep`` does to old steps) is skipped with a warning naming it, as
    an unreadable step at the start is; the analysis goes on with the others, the folder is
    not written, the output keeps only whole files and no lock."""
    folder = damaged_copy(user_run, tmp_path, lambda d: None)
    src = orbax_source(folder, model_factory=factory)
    steps = src.all_steps()  # all listed now
    before = folder_hash(folder)
    empty_folder(folder / "5")  # while the analysis runs ...
    shutil.rmtree(folder / "12")
    damaged = folder_hash(folder)
    ds = data.planted_rules(num_train=64, num_test=64, num_features=8, seed=1)
    prepared = prepare_analysis(
        src,
        ds.x_test[:4],  # 2 baselines, 4 samples, 4 players, groups of 2: the solver's shapes
        ds.y_test[:4],  # of tests/test_interruptions.py and tests/test_determinism.py
        ij.Players.features(4, num_features=8),
        baseline_params=[nnx.state(factory()), nnx.state(factory())],
        is_test=np.ones(4, bool),
        steps=steps,
    )
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = analyze_run(
            prepared, out, title="t", quiet=True, settings=AnalysisSettings(group_size=2)
        )
    src.close()
    skipped = {s for s in steps if any(f"checkpoint step {s} " in str(w.message) for w in caught)}
    assert skipped == {5, 12} and list(summary.steps) == [0, 1, 2]
    assert folder_hash(folder) == damaged != before  # only our own damage
    left = sorted(p.name for p in (out / "stages").iterdir())
    groups = ["checkpoints_000.npz", "checkpoints_001.npz", "checkpoints_002.npz"]
    assert left == ["baselines.npz", *groups]  # groups {0, 1}, {2, 5}, {12}: each one done
    with np.load(out / "stages" / groups[2]) as unreadable:  # ... {12} with no step read,
        assert unreadable["steps"].size == 0 and "values" not in unreadable  # so no fits
    assert not (out / ".interjax.lock").exists() and not list(out.rglob("*.tmp"))


def cli(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "interjax.cli", "analyze", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_on_a_damaged_folder_stopped_by_an_error_leaves_it_untouched(user_run, tmp_path):
    """``interjax analyze`` on a folder with a truncated step and an interrupted save: both are
    named in warnings, the others are read (losses, baselines); the model's values are then not
    finite, so the run stops with one line (exit 2). The folder's names, bytes and mtimes are
    unchanged; nothing is left in the output but whole files."""
    root, _ = user_run

    def damage(d):
        truncate_data(d / "2")
        interrupted_save(d, 12, ".orbax-checkpoint-tmp")

    folder = damaged_copy(user_run, tmp_path, damage)
    before = folder_hash(folder)
    out = tmp_path / "out"
    common = ["--data", "data.npz", "--players", "3", "--samples", "2", "--baselines", "1"]
    proc = cli(
        root, str(folder), "--model", "usermodel:log_model", "--out", str(out), *common,
        "--baseline-steps", "5", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"skipping checkpoint step 2 in {folder}: it cannot be read" in proc.stderr
    assert f"skipping checkpoint step 12 in {folder}: its save did not finish" in proc.stderr
    assert "interjax analyze: error: the model's value is NaN or infinite" in proc.stderr
    assert folder_hash(folder) == before
    assert not (out / ".interjax.lock").exists() and not list(out.rglob("*.tmp"))
    assert not (out / "summary.json").exists()

    # nothing readable: one line, exit 2, no output folder created, the folder untouched
    for s in (0, 1, 5):
        truncate_data(folder / str(s))
    before = folder_hash(folder)
    proc = cli(root, str(folder), "--model", "usermodel:make_model", "--out", "out2", *common)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "interjax analyze: error: none of the steps [0, 1, 2, 5] in" in proc.stderr
    assert folder_hash(folder) == before and not (root / "out2").exists()


@pytest.mark.slow
def test_summary_of_a_run_with_a_skipped_step_names_only_the_read_steps(user_run, tmp_path):
    """Sanity of the CLI's bookkeeping when a step is skipped: only read steps are analysed."""
    root, _ = user_run
    folder = damaged_copy(user_run, tmp_path, lambda d: empty_folder(d / "1"))
    before = folder_hash(folder)
    out = tmp_path / "out"
    proc = cli(
        root, str(folder), "--model", "usermodel:make_model", "--out", str(out), "--data",
        "data.npz", "--players", "3", "--samples", "1", "--baselines", "1", "--baseline-steps",
        "5", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"skipping checkpoint step 1 in {folder}" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == [0, 2, 5, 12]
    assert folder_hash(folder) == before
