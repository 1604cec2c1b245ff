"""Interrupted analyses: Ctrl-C (SIGINT) and SIGKILL in the middle, then the same command again.

``interjax analyze`` works in checkpoint groups of 10, each saved atomically to ``OUT/stages``;
a rerun into the same ``--out`` resumes and must give the byte-identical report of an
uninterrupted run. SIGINT ends the run at once with one line (exit 130) and no partial files;
SIGKILL leaves a stale lock, which the rerun takes over; a second run into a folder another run
is writing is refused before it does any work. The checkpoint folder is never written.

Fast versions (default run): the CLI interrupted while it analyses its baselines, the resume
checked in-process on a small run; the whole CLI scenario (30 checkpoints = 3 groups, killed once
the first group's stage file exists, rerun, compared byte for byte) is marked slow.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import analyze, data
from interjax._pipeline import OutputLock, analyze_run
from interjax.analyze import AnalysisSettings, prepare_analysis
from interjax.checkpoints import orbax_source
from tests.helpers import folder_hash, write_user_data

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

USER_MODULE = textwrap.dedent("""
    from flax import nnx
    from interjax.data import MLP

    def make_model(seed=0):
        return MLP(6, 2, hidden=(8,), rngs=nnx.Rngs(seed))
""")
ARGS = [
    "--model", "usermodel:make_model", "--data", "data.npz", "--players", "4", "--samples", "2",
    "--baselines", "2", "--baseline-steps", "20", "--quiet",
]  # fmt: skip
PROMPT_S = 30.0  # SIGINT to exit: the main thread leaves a running XLA call first


def factory(seed=0):
    return data.MLP(6, 2, hidden=(8,), rngs=nnx.Rngs(seed))


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """30 Orbax checkpoints of a tiny MLP from the real training loop: 3 groups of 10."""
    root = tmp_path_factory.mktemp("interrupt")
    (root / "usermodel.py").write_text(USER_MODULE)
    ds = data.planted_rules(num_train=64, num_test=64, num_features=6, seed=1)
    write_user_data(root / "data.npz", ds)
    run = data.train_run(factory, ds, root / "run", total_steps=120, num_saves=30, batch_size=32)
    assert len(run.steps) == 30
    return root


def command(out):
    """``interjax analyze`` of the run into ``out`` (the same command every time)."""
    return [
        sys.executable,
        "-m",
        "interjax.cli",
        "analyze",
        "run/checkpoints",
        "--out",
        str(out),
        *ARGS,
    ]


def start(root, out):
    return subprocess.Popen(
        command(out),
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc, timeout=600.0):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, f"ended before {path.name} appeared: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.01)


def stop(proc, sig):
    """Send ``sig``; ``(returncode, stderr, seconds until the process ended)``."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err, time.monotonic() - t0


def leftovers(out: Path) -> list[str]:
    """Temporary files of atomic writes (``.NAME.XXXX.tmp``) or anything half-written."""
    return [str(p.relative_to(out)) for p in out.rglob("*") if p.name.endswith(".tmp")]


def assert_whole_stage_files(out: Path) -> list[str]:
    names = sorted(p.name for p in (out / "stages").iterdir())
    for name in names:
        with np.load(out / "stages" / name) as z:  # a complete zip with its fingerprint
            assert "fingerprint" in z.files
    return names


def assert_one_line_interrupt(rc, err, seconds, out):
    assert rc == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"interjax analyze: interrupted; the finished checkpoint groups are kept in "
        f"{out / 'stages'}: run the same command again to resume"
    )
    assert seconds < PROMPT_S


# ---------------------------------------------------------------- fast versions (default run)


def test_sigint_ends_the_cli_at_once_with_one_line(user_run, tmp_path):
    """Ctrl-C while the run analyses its baselines: exit 130 with one line, lock released, no
    partial file, the checkpoint folder untouched."""
    ckpt = user_run / "run" / "checkpoints"
    before = folder_hash(ckpt)
    out = tmp_path / "out"
    proc = start(user_run, out)
    wait_for(out / ".interjax.lock", proc)  # the analysis proper has started
    rc, err, seconds = stop(proc, signal.SIGINT)
    assert_one_line_interrupt(rc, err, seconds, out)
    assert not (out / ".interjax.lock").exists() and leftovers(out) == []
    assert set(assert_whole_stage_files(out)) <= {"baselines.npz"}
    assert not (out / "summary.json").exists()
    assert folder_hash(ckpt) == before


def _sigint_during_a_loop_that_swallows_its_cancellation():
    """``asyncio.run`` of a coroutine that ignores cancellation (as a library's may), with
    SIGINT sent to this process while it runs: what Orbax's checkpoint reads look like to
    Ctrl-C. Returns the coroutine's result."""
    import asyncio

    async def stubborn():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass
        return "finished"

    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    return asyncio.run(stubborn())


def test_ctrl_c_in_an_event_loop_is_not_lost():
    """Under Python's own SIGINT handler, asyncio.run turns Ctrl-C into a cancellation, which the
    coroutine swallows: the interrupt is lost (CI once saw the analysis run to its end after
    Ctrl-C). Under the command line's handler it raises at once."""
    from interjax.cli import ctrl_c_raises

    # Python's default handler, as in a command started from a shell (pytest-xdist's workers
    # ignore SIGINT instead); the test's own handler is put back at the end
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert _sigint_during_a_loop_that_swallows_its_cancellation() == "finished"  # lost
        with pytest.raises(KeyboardInterrupt), ctrl_c_raises():
            _sigint_during_a_loop_that_swallows_its_cancellation()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_swallowed_in_the_block_still_ends_it():
    """A Ctrl-C that code inside the block caught and dropped (as a library's ``except
    BaseException`` might) still ends the block: the command exits 130, not 0."""
    from interjax.cli import ctrl_c_raises

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), ctrl_c_raises():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
    assert signal.getsignal(signal.SIGINT) is before


class _SendsCtrlCWhenFreed:
    """Ctrl-C that arrives while Python runs a finalizer, where exceptions are only reported: as
    when it lands in JAX's gc callback."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_a_finalizer_is_delivered_again():
    """Under Python's own handler, a KeyboardInterrupt raised in a finalizer is printed and lost
    (CI once saw this in JAX's gc callback: the run went on and exited 0). Under the command
    line's handler it reaches the main code at once, and a block that swallowed it all the same
    still ends with it."""
    from interjax.cli import ctrl_c_raises

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    hook_before = sys.unraisablehook
    lost = []
    sys.unraisablehook = lost.append  # what Python would print as "Exception ignored in ..."
    try:
        _SendsCtrlCWhenFreed()  # freed at once
        assert [type(u.exc_value) for u in lost] == [KeyboardInterrupt]  # and nothing else
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt), ctrl_c_raises():
            _SendsCtrlCWhenFreed()
            while time.monotonic() < start + 5:  # the main code goes on: interrupted here, soon
                pass
        assert time.monotonic() - start < 2.5  # not only at the end of the block
        assert len(lost) == 1 and sys.unraisablehook == lost.append  # hook put back
        # a block that ends before the second delivery: it ends as Ctrl-C, and nothing more
        # arrives after it (a late one would interrupt the command's own exit)
        with pytest.raises(KeyboardInterrupt), ctrl_c_raises():
            _SendsCtrlCWhenFreed()
        time.sleep(0.2)  # a delivery to the main code would raise here, after the sleep
    finally:
        signal.signal(signal.SIGINT, before)
        sys.unraisablehook = hook_before


def test_sigkill_leaves_a_stale_lock_that_is_taken_over(user_run, tmp_path):
    """SIGKILL cannot clean up: the lock of the dead run stays. A later run neither refuses it
    (its process is gone) nor mistakes it for its own."""
    ckpt = user_run / "run" / "checkpoints"
    before = folder_hash(ckpt)
    out = tmp_path / "out"
    proc = start(user_run, out)
    wait_for(out / ".interjax.lock", proc)
    rc, _, _ = stop(proc, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    lock = out / ".interjax.lock"
    assert lock.read_text() == str(proc.pid)  # stale: its process is gone
    OutputLock(out).check()  # a rerun is not refused ...
    with OutputLock(out):  # ... and takes the lock over
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists() and leftovers(out) == []
    assert folder_hash(ckpt) == before


def test_a_second_run_into_the_same_folder_is_refused_at_once(user_run, tmp_path):
    """While a live process holds OUT's lock, ``interjax analyze`` into OUT stops before any
    work (no checkpoint read, no baseline trained) with one line naming that process."""
    out = tmp_path / "out"
    with OutputLock(out):
        proc = subprocess.run(
            command(out),
            cwd=user_run,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip() == (
            f"interjax analyze: error: {out} is being written by another interjax run (pid "
            f"{os.getpid()}); wait for it or choose another --out (if no such run is active, "
            f"remove {out / '.interjax.lock'})."
        )
        assert sorted(p.name for p in out.iterdir()) == [".interjax.lock"]
        with pytest.raises(RuntimeError, match="being written by another interjax run"):
            with OutputLock(out):  # the same process, a second analysis: refused too
                pass
    assert list(out.iterdir()) == []


def test_a_stale_lock_with_our_own_pid_is_taken_over(tmp_path):
    """pids are reused (a container restarted runs interjax under the dead run's pid): a lock
    naming this process that this process does not hold is stale."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".interjax.lock").write_text(str(os.getpid()))
    OutputLock(out).check()
    with OutputLock(out):
        assert (out / ".interjax.lock").read_text() == str(os.getpid())
    assert not (out / ".interjax.lock").exists()


@pytest.fixture(scope="module")
def small_inputs(user_run):
    """Analysis inputs of 6 checkpoints built as the CLI builds them (restored from Orbax,
    baselines trained with seeds); with group_size=2: 3 groups, every fit of one shape."""
    src = orbax_source(user_run / "run" / "checkpoints", model_factory=factory)
    steps = src.all_steps()[:6]
    ds = data.planted_rules(num_train=64, num_test=64, num_features=6, seed=1)
    split = analyze.baseline_split(ds, protocol="paper")
    baselines = analyze.train_baselines(
        factory, split, train=data.train_classifier, num=2, steps=20
    )
    inputs = prepare_analysis(
        src,
        np.concatenate([ds.x_train[:2], ds.x_test[:2]]),
        np.concatenate([ds.y_train[:2], ds.y_test[:2]]),
        ij.Players.features(4, num_features=6),
        baseline_params=[nnx.state(m) for m in baselines],
        is_test=np.array([False, False, True, True]),
        steps=steps,
    )
    yield inputs
    src.close()


def analyze_small(inputs, out, progress=None):
    return analyze_run(
        inputs, out, title="t", settings=AnalysisSettings(group_size=2), quiet=True,
        progress=progress,
    )  # fmt: skip


def report_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in (".json", ".npz", ".md", ".html")
    }


def test_interrupted_analysis_resumes_to_the_identical_report(user_run, small_inputs, tmp_path):
    """A real SIGINT once the first group's stage file is written (the progress hook), then the
    same analysis again: summary.json, arrays.npz, stage files and report byte-identical to an
    uninterrupted run's. After a kill (a stale lock and the stage files of a dead run) the
    rerun takes over and resumes to the same bytes."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    ckpt = user_run / "run" / "checkpoints"
    before = folder_hash(ckpt)
    analyze_small(small_inputs, tmp_path / "ref")
    ref = report_files(tmp_path / "ref")
    assert {"summary.json", "arrays.npz", "stages/checkpoints_002.npz"} <= set(ref)

    def interrupt(done, total):
        if done == 1:
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "out"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            analyze_small(small_inputs, out, progress=interrupt)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert assert_whole_stage_files(out) == ["baselines.npz", "checkpoints_000.npz"]
    assert not (out / ".interjax.lock").exists() and leftovers(out) == []
    analyze_small(small_inputs, out)
    assert report_files(out) == ref

    # as a SIGKILL leaves it: the stage files written so far, the dead run's lock, and (if it
    # died while writing) the temporary file of the next stage
    killed = tmp_path / "killed"
    (killed / "stages").mkdir(parents=True)
    for name in ("baselines.npz", "checkpoints_000.npz"):
        (killed / "stages" / name).write_bytes(ref[f"stages/{name}"])
    half = ref["stages/checkpoints_001.npz"][:100]
    (killed / "stages" / ".checkpoints_001.npz.k1ll3d_x.tmp").write_bytes(half)
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead.kill()
    dead.wait()
    (killed / ".interjax.lock").write_text(str(dead.pid))
    analyze_small(small_inputs, killed)
    assert report_files(killed) == ref and leftovers(killed) == []
    assert folder_hash(ckpt) == before


# ------------------------------------------------- the whole CLI scenario (slow: ~5 CLI runs)


@pytest.fixture(scope="module")
def reference(user_run, tmp_path_factory):
    """An uninterrupted ``interjax analyze`` of the 30 checkpoints."""
    out = tmp_path_factory.mktemp("reference") / "out"
    proc = start(user_run, out)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    assert assert_whole_stage_files(out) == [
        "baselines.npz", "checkpoints_000.npz", "checkpoints_001.npz", "checkpoints_002.npz"
    ]  # fmt: skip
    return out


def assert_same_report(out: Path, reference: Path):
    for name in ("summary.json", "arrays.npz", "report.md"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    for p in (reference / "stages").iterdir():
        assert (out / "stages" / p.name).read_bytes() == p.read_bytes(), p.name
    assert json.loads((out / "summary.json").read_text())["steps"] == data.save_schedule(120, 30)


@pytest.mark.slow
def test_cli_sigint_mid_run_then_rerun_is_byte_identical(user_run, reference, tmp_path):
    """Two runs at once: the second is refused, naming the first. Ctrl-C to the first once the
    first checkpoint group is saved: one line, exit 130, no lock, no partial file. The same
    command again resumes; its report is byte-identical to the uninterrupted run's."""
    ckpt = user_run / "run" / "checkpoints"
    before = folder_hash(ckpt)
    out = tmp_path / "out"
    proc = start(user_run, out)
    wait_for(out / ".interjax.lock", proc)
    second = start(user_run, out)
    _, err2 = second.communicate(timeout=300)
    assert second.returncode == 2 and "Traceback" not in err2
    assert f"being written by another interjax run (pid {proc.pid})" in err2
    wait_for(out / "stages" / "checkpoints_000.npz", proc)
    rc, err, seconds = stop(proc, signal.SIGINT)
    assert_one_line_interrupt(rc, err, seconds, out)
    assert not (out / ".interjax.lock").exists() and leftovers(out) == []
    stages = assert_whole_stage_files(out)
    assert stages[:2] == ["baselines.npz", "checkpoints_000.npz"] and len(stages) < 4
    assert not (out / "summary.json").exists()
    rerun = start(user_run, out)
    _, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    assert_same_report(out, reference)
    assert leftovers(out) == [] and not (out / ".interjax.lock").exists()
    assert folder_hash(ckpt) == before


@pytest.mark.slow
def test_cli_sigkill_mid_run_then_rerun_is_byte_identical(user_run, reference, tmp_path):
    """SIGKILL once the first checkpoint group is saved: the dead run's lock stays; the same
    command again takes it over, resumes, and writes the uninterrupted run's bytes."""
    ckpt = user_run / "run" / "checkpoints"
    before = folder_hash(ckpt)
    out = tmp_path / "out"
    proc = start(user_run, out)
    wait_for(out / "stages" / "checkpoints_000.npz", proc)
    rc, _, _ = stop(proc, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert (out / ".interjax.lock").read_text() == str(proc.pid)
    stages = assert_whole_stage_files(out)
    assert stages[:2] == ["baselines.npz", "checkpoints_000.npz"] and len(stages) < 4
    assert not (out / "summary.json").exists()
    rerun = start(user_run, out)
    _, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    assert_same_report(out, reference)
    assert leftovers(out) == [] and not (out / ".interjax.lock").exists()
    assert folder_hash(ckpt) == before
