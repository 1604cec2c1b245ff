"""``interjax analyze`` on several processes (jax.distributed), with real processes on 127.0.0.1.

Every multi-process test starts real ``interjax analyze`` processes (each with its coordinator
flags, a free loopback port chosen here, ``XLA_FLAGS`` faking 1 or 2 CPU devices per process),
on a real Orbax run of a small MLP: 11 checkpoints, so 2 checkpoint groups and the baselines'
unit, divided between 2 processes. Every wait is bounded (subprocess timeouts).

Default run: the option checks made before any process starts (wrong process id, options
missing, port in use) and a process whose peer never joins (stops after ``--join-timeout``
with one line); these fail before any checkpoint is read, so they need no run. Slow: 2
processes write the byte-identical report of 1 process (1 and 2 fake devices each), a killed
process ends the run on the other within the heartbeat timeout with one line and the same
command resumes it to the identical report (the checkpoints untouched), and processes started
with different ``--num-processes`` or different inputs are refused.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from interjax._distributed import check_coordinator
from tests.helpers import folder_hash, write_user_run

ARGS = [
    "run/checkpoints", "--model", "usermodel:make_model", "--data", "data.npz", "--players", "4",
    "--samples", "2", "--baselines", "2", "--baseline-steps", "20", "--quiet",
]  # fmt: skip
RUN_S = 400  # bound on one analysis run by a test (2 shared cores, other tests running)
HEARTBEAT_S = 5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """11 Orbax checkpoints of a tiny MLP from the real training loop (2 groups of <= 10)."""
    root = tmp_path_factory.mktemp("distributed")
    assert len(write_user_run(root, features=6, total_steps=48, num_saves=12)) == 11
    return root


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(devices: int, cold: bool = False) -> dict:
    """The environment of a test's process; ``cold``: without the test session's persistent
    compilation cache (root conftest), so that the process compiles, as a first run does."""
    out = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    if cold:
        out.pop("JAX_COMPILATION_CACHE_DIR", None)
        out["INTERJAX_COMPILE_CACHE"] = "0"
    return out


def start(root, out, *extra, devices=1, process=None, num=2, port=None, timeout=None, cold=False):
    """``interjax analyze`` of the run into ``out``; as process ``process`` of ``num`` when
    ``process`` is given (coordinator 127.0.0.1:``port``)."""
    cmd = [sys.executable, "-m", "interjax.cli", "analyze", *ARGS, "--out", str(out), *extra]
    if process is not None:
        cmd += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(num),
                "--process-id", str(process)]  # fmt: skip
        cmd += ["--heartbeat-timeout", str(HEARTBEAT_S), "--join-timeout", str(timeout or 60)]
    return subprocess.Popen(cmd, cwd=root, env=env(devices, cold), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def finish(proc, timeout=RUN_S) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"still running after {timeout} s") from None
    return proc.returncode, err


def run_processes(root, out, num=2, devices=1, **kw) -> list[tuple[int, str]]:
    port = free_port()
    procs = [start(root, out, devices=devices, process=i, num=num, port=port, **kw)
             for i in range(num)]  # fmt: skip
    return [finish(p) for p in procs]


def last_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if not line.startswith("[Gloo]")]
    return lines[-1] if lines else ""


def assert_same_report(a: Path, b: Path):
    """The two reports' arrays equal bit for bit (values, dtypes, names); summaries equal."""
    with np.load(a / "arrays.npz") as x, np.load(b / "arrays.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=True), k
    assert json.loads((a / "summary.json").read_text()) == json.loads(
        (b / "summary.json").read_text()
    )


# ---------------------------------------------------------------------- default run: checks


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("127.0.0.1:1", 2, 2), "--process-id 2 is out of range: expected 0 .. 1"),
        (("127.0.0.1:1", None, 0), "--num-processes missing: give --coordinator HOST:PORT"),
        (("localhost", 2, 1), "--coordinator localhost is not HOST:PORT"),
        (("127.0.0.1:1", 0, 0), "--num-processes 0 is out of range: expected >= 1"),
        (("127.0.0.1:70000", 2, 1), "--coordinator 127.0.0.1:70000 is not HOST:PORT"),
    ],
)  # fmt: skip
def test_wrong_coordinator_options_are_refused(options, message):
    with pytest.raises(ValueError) as err:
        check_coordinator(*options)
    assert message in str(err.value)
    assert check_coordinator(None, None, None) is None  # none given: one process, or detected


def test_wrong_options_are_refused_before_any_process_starts(tmp_path):
    """The command line checks the options in the supervisor: exit status 2, one line,
    nothing written, no worker started."""
    t0 = time.monotonic()
    extra = ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"]
    rc, err = finish(start(tmp_path, tmp_path / "out", *extra), timeout=120)
    assert rc == 2 and "Traceback" not in err, err
    assert last_line(err) == (
        "interjax analyze: error: --process-id 2 is out of range: expected 0 .. 1 "
        "(--num-processes 2), a different id for each process"
    )
    assert not (tmp_path / "out").exists()
    assert time.monotonic() - t0 < 60


def test_distributed_without_a_cluster_says_what_to_give(tmp_path):
    """``--distributed`` where JAX detects no cluster (no SLURM, Open MPI, TPU pod here)."""
    cmd = [sys.executable, "-m", "interjax.cli", "analyze", *ARGS, "--out", str(tmp_path / "o"),
           "--distributed"]  # fmt: skip
    clean = {k: v for k, v in env(1).items() if not k.startswith(("SLURM_", "OMPI_", "JAX_"))}
    proc = subprocess.run(cmd, cwd=tmp_path, env=clean, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert last_line(proc.stderr).startswith(
        "interjax analyze: error: --distributed: JAX found no cluster to join here"
    )
    assert "give --coordinator HOST:PORT --num-processes N --process-id I" in proc.stderr


def test_a_coordinator_port_in_use_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc, err = finish(start(tmp_path, tmp_path / "out", process=0, port=port), timeout=120)
    assert rc == 2, err
    assert last_line(err) == (
        f"interjax analyze: error: port {port} of --coordinator 127.0.0.1:{port} is in use on "
        "this host (another program, or the coordinator of a run still going); choose another "
        "port for every process"
    )


def test_a_process_that_never_joins_stops_the_others_with_one_line(tmp_path):
    """Process 0 of 2 alone: it stops after --join-timeout (3 s) with one line, exit status 1."""
    port = free_port()
    t0 = time.monotonic()
    rc, err = finish(
        start(tmp_path, tmp_path / "out", process=0, port=port, timeout=3), timeout=120
    )
    assert rc == 1, err
    assert "Traceback" not in err and "Check failure" not in err
    assert last_line(err) == (
        f"interjax analyze: error: not every process joined the coordinator at 127.0.0.1:{port}"
        " within 3 s: start all --num-processes processes (ids 0 .. N-1, the same "
        "--num-processes) and check that this host reaches the coordinator's address; the "
        f"finished checkpoint groups are kept in {tmp_path / 'out' / 'stages'}: run the same "
        "command on every process again to resume (the runtime's log: "
        f"{tmp_path / 'out' / 'logs' / 'process-0.log'})"
    )
    assert time.monotonic() - t0 < 3 + 60  # the join timeout, plus starting Python and JAX


# ------------------------------------------------------------- slow: whole runs, faults


@pytest.fixture(scope="module")
def reference(run, tmp_path_factory):
    """The single-process report, with 2 fake CPU devices."""
    out = tmp_path_factory.mktemp("one_process")
    rc, err = finish(start(run, out, devices=2))
    assert rc == 0, err
    return out


@pytest.mark.slow
def test_two_processes_write_the_report_of_one(run, reference, tmp_path):
    """2 processes with 2 fake CPU devices each: the same arrays.npz, bit for bit, and the
    same summary as 1 process with 2 devices (the same chunking of the sweep, the same
    checkpoint groups: each group's fits are computed whole by one process)."""
    before = folder_hash(run / "run")
    results = run_processes(run, tmp_path / "out", devices=2)
    assert [rc for rc, _ in results] == [0, 0], results
    assert_same_report(reference, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out" / "stages").iterdir())
    assert names == ["baselines.npz", "checkpoints_000.npz", "checkpoints_001.npz"]
    assert folder_hash(run / "run") == before  # checkpoints only read


@pytest.mark.slow
def test_a_killed_process_stops_the_other_and_the_rerun_resumes(run, reference, tmp_path):
    """Process 1 is killed (SIGKILL, its worker with it) during its share: process 0 ends
    within the heartbeat timeout with one line naming process 1; the same two commands then
    complete the run to the report of one process; the checkpoints are untouched."""
    before, out, port = folder_hash(run / "run"), tmp_path / "out", free_port()
    # process 1 compiles (no warm cache): its share lasts seconds after it joins, long enough
    # to be killed in the middle of it (with the session's cache it could finish unseen)
    p0 = start(run, out, process=0, port=port, devices=2)
    p1 = start(run, out, process=1, port=port, devices=2, cold=True)
    # its lock: taken once it has joined the runtime, held until its share is done
    joined, t0 = out / ".interjax.process-1.lock", time.monotonic()
    while not joined.exists():
        assert p1.poll() is None and time.monotonic() - t0 < RUN_S, p1.communicate()
        time.sleep(0.05)
    time.sleep(1.0)  # into its share (compiling)
    assert p1.poll() is None, p1.communicate()
    os.killpg(p1.pid, signal.SIGKILL)
    killed = time.monotonic()
    rc, err = finish(p0)
    assert rc == 1, err
    assert "Traceback" not in err and "Check failure" not in err
    line = last_line(err)
    assert line.startswith(
        f"interjax analyze: error: process 1 stopped: no heartbeat for {HEARTBEAT_S} s (it "
        "died, was killed or lost the network); the finished checkpoint groups are kept in "
        f"{out / 'stages'}: run the same command on every process again to resume"
    ), line
    assert time.monotonic() - killed < HEARTBEAT_S + 30
    p1.communicate()

    results = run_processes(run, out, devices=2)  # the same commands again
    assert [rc for rc, _ in results] == [0, 0], results
    assert_same_report(reference, out)
    assert folder_hash(run / "run") == before


@pytest.mark.slow
def test_processes_with_different_counts_or_inputs_are_refused(run, tmp_path):
    """--num-processes 3 on process 1 while the coordinator runs 2, and (another run) an
    other --samples on process 1: every process ends with exit status 2 and a line naming the
    cause, nothing analysed."""
    port = free_port()
    p0 = start(run, tmp_path / "a", process=0, port=port)
    p1 = start(run, tmp_path / "a", process=1, num=3, port=port)
    (rc0, err0), (rc1, err1) = finish(p0), finish(p1)
    assert (rc0, rc1) == (2, 2), (err0, err1)
    for err in (err0, err1):
        assert last_line(err) == (
            "interjax analyze: error: process 1 was started with --num-processes 3, but the "
            "coordinator runs 2 processes; start every process with the same --num-processes"
        ), err

    port = free_port()
    p0 = start(run, tmp_path / "b", process=0, port=port)
    p1 = start(run, tmp_path / "b", "--samples", "3", process=1, port=port)
    (rc0, err0), (rc1, err1) = finish(p0), finish(p1)
    assert (rc0, rc1) == (2, 2), (err0, err1)
    assert "process 1 (on " in last_line(err0) and "analyses something else" in last_line(err0)
    assert "analyses something else" in last_line(err1)
    assert not list((tmp_path / "b" / "stages").glob("*.npz"))


PYTHON_SCRIPT = textwrap.dedent("""
    import sys

    import jax

    out, rest = sys.argv[1], sys.argv[2:]
    if rest:  # the one line a user adds: join the run of several processes
        jax.distributed.initialize(f"127.0.0.1:{rest[0]}", 2, int(rest[1]),
                                   initialization_timeout=120, heartbeat_timeout_seconds=30)
    jax.config.update("jax_enable_x64", True)  # the user's own choice, as the CLI's

    import numpy as np
    from flax import nnx

    import interjax as ij
    from interjax import data
    from interjax._pipeline import analyze_run
    from interjax.analyze import prepare_analysis
    from interjax.checkpoints import orbax_source
    sys.path.insert(0, ".")  # the run's folder: usermodel.py
    from usermodel import make_model

    ds = data.planted_rules(num_train=64, num_test=64, num_features=6, seed=1)
    with orbax_source("run/checkpoints", model_factory=make_model) as source:
        prepared = prepare_analysis(
            source, ds.x_test[:4], ds.y_test[:4], ij.Players.features(4),
            baseline_params=[nnx.state(make_model(seed)) for seed in (7, 8)],
        )
        summary = analyze_run(prepared, out, title="python", quiet=True)
    print(jax.process_index(), len(summary.steps), summary.fingerprint)
""")


@pytest.mark.slow
def test_the_python_api_under_jax_distributed_needs_no_other_change(run, tmp_path):
    """``prepare_analysis`` and the resumable run called by a script whose only change is
    ``jax.distributed.initialize``: 2 processes (1 device each) write the arrays of 1 process,
    and both return the same summary."""
    (tmp_path / "script.py").write_text(PYTHON_SCRIPT)
    script = [sys.executable, str(tmp_path / "script.py")]

    def launch(*args):
        return subprocess.Popen([*script, *args], cwd=run, env=env(1), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    rc, err = finish(launch(str(tmp_path / "one")))
    assert rc == 0, err
    port = free_port()
    procs = [launch(str(tmp_path / "two"), str(port), str(i)) for i in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=RUN_S)
        assert p.returncode == 0, err
        outs.append(out.split())
    assert [o[0] for o in outs] == ["0", "1"] and outs[0][1:] == outs[1][1:] == ["11", outs[0][2]]
    assert_same_report(tmp_path / "one", tmp_path / "two")
