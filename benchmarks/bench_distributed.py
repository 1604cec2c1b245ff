"""Benchmark: one analysis on 1 process against 2 processes (jax.distributed) of one machine.

    python benchmarks/bench_distributed.py [--quick] [--rounds R] [--out DIR] [--device-name TEXT]

The run: an MLP (12 features, hidden 32) trained with the real optax loop on planted rules and
saved at 30 log-spaced steps (fewer where the schedule repeats a step: the JSON records the
count); ``interjax analyze`` with n = 10 players, 8 + 8 samples, 2
baseline models (100 steps each), so 3 checkpoint groups and the baselines' unit: process 0
computes groups 0 and 2, process 1 group 1 and the baselines (docs/distributed.md).

Timed, as the user runs it: the wall time of ``interjax analyze`` on 1 process, and of the same
command as 2 processes (``--coordinator 127.0.0.1:PORT --num-processes 2 --process-id I``,
started together, timed until both end), each process with ``XLA_FLAGS`` of one CPU device (on
an accelerator host: its devices as they are, with ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` so
the two processes share the device). The two configurations alternate, ``--rounds`` times (the
first round of each is kept too: every run compiles afresh in its processes); medians are
reported with the CPU seconds of all processes (user + system). The persistent compilation
cache is off (``INTERJAX_COMPILE_CACHE=0``), so no run loads what another compiled. Every
2-process report is checked against the 1-process one: ``arrays.npz`` equal bit for bit.

On a 2-core machine the two processes share the two cores that one process already uses (XLA
runs its CPU work on several threads), so the speed-up is bounded by the cores, not by the
division of the work; it mostly measures the overhead of a second process (its start, its own
compilation, the runtime). ``--quick``: 10 checkpoints, 2 + 2 samples, 1 round.

Writes ``bench_distributed.json`` into ``--out`` (default ``benchmarks/results/distributed``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MODULE = textwrap.dedent("""
    from flax import nnx
    from interjax.data import MLP

    def make_model(seed=0):
        return MLP(12, 2, hidden=(32,), rngs=nnx.Rngs(seed))
""")


def make_run(root: Path, saves: int) -> int:
    """The run in ``root``; returns its number of checkpoints (the schedule's distinct steps)."""
    from flax import nnx

    from interjax import data

    (root / "usermodel.py").write_text(MODULE)
    ds = data.planted_rules(num_train=256, num_test=256, num_features=12, seed=3)
    np.savez(root / "data.npz", x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test,
             y_test=ds.y_test)  # fmt: skip

    def factory(seed=0):
        return data.MLP(12, 2, hidden=(32,), rngs=nnx.Rngs(seed))

    run = data.train_run(factory, ds, root / "run", total_steps=2000, num_saves=saves,
                         batch_size=64)  # fmt: skip
    return len(run.steps)


def command(out: Path, samples: int) -> list[str]:
    return [sys.executable, "-m", "interjax.cli", "analyze", "run/checkpoints", "--model",
            "usermodel:make_model", "--data", "data.npz", "--players", "10", "--samples",
            str(samples), "--baselines", "2", "--baseline-steps", "100", "--quiet", "--out",
            str(out)]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(root: Path, cmds: list[list[str]], env: dict) -> tuple[float, float]:
    """Wall seconds until every command ended, CPU seconds of all their processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=root, env=env, stderr=subprocess.PIPE, text=True)
             for c in cmds]  # fmt: skip
    errs = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for p, err in zip(procs, errs, strict=True):
        if p.returncode:
            sys.exit(f"bench_distributed: a run failed ({p.returncode}): {err[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def same_arrays(a: Path, b: Path) -> bool:
    with np.load(a / "arrays.npz") as x, np.load(b / "arrays.npz") as y:
        return sorted(x.files) == sorted(y.files) and all(
            x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=True) for k in x.files
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--device-name", default=None)
    args = p.parse_args()
    import jax
    from _common import machine_info, median, result_row, write_json

    saves, samples = (10, 2) if args.quick else (30, 8)
    rounds = args.rounds or (1 if args.quick else 3)
    # every run compiles afresh: with the command line's persistent compilation cache the runs
    # after the first would load what an earlier run (of the other configuration) compiled
    env = {**os.environ, "INTERJAX_COMPILE_CACHE": "0"}
    if jax.default_backend() == "cpu":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
    else:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # two processes share the device
    info = machine_info(args.device_name)  # at the start: the commit measured
    root = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    try:
        # where the timed processes import interjax from: a frozen copy (PYTHONPATH=<git
        # archive of a commit>) is immune to edits others make in the checkout meanwhile
        where = [sys.executable, "-c", "import interjax; print(interjax.__file__)"]
        info["interjax_imported_from"] = subprocess.run(
            where, cwd=root, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        saves = make_run(root, saves)
        times: dict[str, list] = {"1 process": [], "2 processes": []}
        identical = []
        for r in range(rounds):
            one, two = root / f"one_{r}", root / f"two_{r}"
            times["1 process"].append(timed(root, [command(one, samples)], env))
            port = free_port()
            flags = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
            cmds = [[*command(two, samples), *flags, "--process-id", str(i)] for i in range(2)]
            times["2 processes"].append(timed(root, cmds, env))
            identical.append(same_arrays(one, two))
            print(f"round {r}: " + ", ".join(f"{k} {v[-1][0]:.1f} s wall {v[-1][1]:.1f} s CPU"
                                            for k, v in times.items()), flush=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = {k: median([w for w, _ in v]) for k, v in times.items()}
    cpu = {k: median([c for _, c in v]) for k, v in times.items()}
    speedup = wall["1 process"] / wall["2 processes"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    case = f"{saves} checkpoints x {2 * samples} samples, n = 10, 2 baselines"
    result = {
        "benchmark": "bench_distributed",
        "machine": info,
        "settings": {"checkpoints": saves, "samples": 2 * samples, "players": 10,
                     "baselines": 2, "baseline_steps": 100, "rounds": rounds,
                     "devices_per_process": 1 if jax.default_backend() == "cpu" else None},
        "runs": {k: [{"wall_s": w, "cpu_s": c} for w, c in v] for k, v in times.items()},
        "median_wall_s": wall,
        "median_cpu_s": cpu,
        "speedup_2_processes": speedup,
        "arrays_identical": all(identical),
        "bound": (
            f"{cores} cores shared by both processes (and other work on the machine): the "
            "speed-up is bounded by the cores, not by the division of the work"
        ),
        "rows": [
            result_row(
                "distributed",
                f"{case}: 2 processes (jax.distributed) vs 1",
                wall["2 processes"],
                peer="1 process",
                peer_s=wall["1 process"],
                quality=f"arrays.npz identical: {all(identical)}",
                note=f"wall time of interjax analyze end to end; {cores} shared cores",
            )
        ],
    }  # fmt: skip
    out = Path(args.out or HERE / "results" / "distributed")
    path = write_json(out / "bench_distributed.json", result)
    print(f"1 process {wall['1 process']:.1f} s, 2 processes {wall['2 processes']:.1f} s: "
          f"speed-up {speedup:.2f}x on {cores} cores; identical arrays {all(identical)}; "
          f"{path}")  # fmt: skip


if __name__ == "__main__":
    main()
