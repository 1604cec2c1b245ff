"""A batch of certified fits on one XLA CPU device against the same batch dealt over one device
per core (what the command line does), in child processes started side by side.

    python benchmarks/bench_solver_devices.py [--n 10] [--batch 64] [--tol 1e-2]
                                              [--values real|planted] [--out DIR]

Values: ``real`` (default), a trained model's log-odds on held-out samples
(``bench_solver.real_values``: the breast-cancer MLP at n = 8 and 10, the digits CNN at 12 and
16; the analysis's kind of values), or ``planted``, noisy planted values
(``bench_solver_speed.planted_noisy``, any n), fitted at ``q_ratio`` 0.02 to a certified gap
``--tol`` (the analysis's 1e-2 by default). Each child sets ``jax_num_cpu_devices`` before its
first computation, compiles (``first_s``: the first call, on the values themselves, or with
``--warmup-zeros`` on zeros of the same shape, which converge at once: the compile alone, for
large n), then times one call; the children alternate ``--repeats`` times, so both see the same
load. The fits of every device count must equal those of one device, bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median, result_row, write_json

CHILD = """
import json, sys, time
import jax
jax.config.update("jax_num_cpu_devices", {devices})
jax.config.update("jax_enable_x64", True)
import numpy as np
sys.path.insert(0, {bench!r})
from bench_solver import real_values
from bench_solver_speed import planted_noisy
import interjax as ij
v = real_values({n}, {batch})[0] if {values!r} == "real" else planted_noisy({n}, {batch}, seed=1)
solver = ij.PDHG(tol={tol})
t0 = time.perf_counter()
fit = ij.fit_and_or(np.zeros_like(v) if {warmup_zeros} else v, solver=solver)
jax.block_until_ready(fit.and_)
first = time.perf_counter() - t0
walls, cpus = [], []
for _ in range({repeats}):
    t0, c0 = time.perf_counter(), time.process_time()
    fit = ij.fit_and_or(v, solver=solver)
    jax.block_until_ready(fit.and_)
    walls.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
np.savez({out!r}, and_=np.asarray(fit.and_), or_=np.asarray(fit.or_),
         objective=np.asarray(fit.objective), lower=np.asarray(fit.lower_bound))
print(json.dumps({{"devices": len(jax.local_devices()), "first_s": first, "wall_s": walls,
                  "cpu_s": cpus, "iterations": np.asarray(fit.iterations).tolist(),
                  "max_gap": float(np.max(fit.relative_gap))}}))
"""


def run_child(devices: int, a, out: Path) -> dict:
    code = CHILD.format(
        devices=devices,
        bench=str(Path(__file__).resolve().parent),
        n=a.n,
        batch=a.batch,
        tol=a.tol,
        values=a.values,
        warmup_zeros=a.warmup_zeros,
        repeats=1,
        out=str(out),
    )
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--tol", type=float, default=1e-2)
    p.add_argument("--values", choices=["real", "planted"], default="real")
    p.add_argument(
        "--warmup-zeros",
        action="store_true",
        help="compile on zeros of the values' shape (converge at once) instead of a first full "
        "run: for large n",
    )
    p.add_argument("--repeats", type=int, default=3, help="alternating child runs per count")
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    counts = sorted({1, cores})
    runs = {k: [] for k in counts}
    scratch = a.out / "solver_devices_scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for _ in range(a.repeats):
        for k in counts:
            runs[k].append(run_child(k, a, scratch / f"fits_{k}.npz"))
            print(f"  {k} device(s): {runs[k][-1]['wall_s'][0]:.1f} s wall", flush=True)
    fits = {k: dict(np.load(scratch / f"fits_{k}.npz")) for k in counts}
    ref = fits[1]
    identical = {k: all(np.array_equal(fits[k][f], ref[f]) for f in ref) for k in counts}
    # below n = 10 a device's pool has several lanes, and fewer fits per device vmap the
    # iterations differently: the same iterations, the results equal to rounding (the pool's
    # contract, tests/solve/test_fit.py); from n = 10 one lane, bit for bit
    max_diff = {
        k: max(float(np.max(np.abs(fits[k][f] - ref[f]))) for f in ("and_", "or_")) for k in counts
    }
    for f in scratch.iterdir():
        f.unlink()
    scratch.rmdir()
    summary = {
        k: {
            "devices": runs[k][0]["devices"],
            "wall_s": median([r["wall_s"][0] for r in runs[k]]),
            "cpu_s": median([r["cpu_s"][0] for r in runs[k]]),
            "first_call_s": median([r["first_s"] for r in runs[k]]),
            "fits_identical_to_one_device": identical[k],
            "max_abs_diff_to_one_device": max_diff[k],
            "max_gap": max(r["max_gap"] for r in runs[k]),
            "iterations_mean": float(np.mean(runs[k][0]["iterations"])),
        }
        for k in counts
    }
    results = {
        "machine": machine_info(a.device_name),
        "n": a.n,
        "batch": a.batch,
        "tol": a.tol,
        "values": a.values,
        "first_call": "compile on zeros" if a.warmup_zeros else "compile and one run",
        "cores": cores,
        "repeats": a.repeats,
        "runs": {str(k): v for k, v in runs.items()},
        "summary": {str(k): v for k, v in summary.items()},
        "total_seconds": time.perf_counter() - t0,
    }
    one, many = summary[1], summary[cores]
    results["rows"] = [
        result_row(
            "certified AND-OR fits dealt over CPU devices (issue 14)",
            f"n={a.n}, {a.batch} {'noisy planted' if a.values == 'planted' else 'network'} "
            f"fits to {a.tol:g}, {many['devices']} devices (one per core)",
            many["wall_s"],
            peer="the same batch on 1 device",
            peer_s=one["wall_s"],
            quality=f"fits identical to 1 device: {many['fits_identical_to_one_device']} "
            f"(max abs difference {many['max_abs_diff_to_one_device']:.0e}); "
            f"max certified gap {many['max_gap']:.1e}",
            note=f"wall seconds per batch, medians of {a.repeats} alternating child processes; "
            f"CPU seconds {many['cpu_s']:.1f} vs {one['cpu_s']:.1f}; first call (compile) "
            f"{many['first_call_s']:.1f} s vs {one['first_call_s']:.1f} s",
        )
    ]
    write_json(a.out / "bench_solver_devices.json", results)
    print(json.dumps(results["summary"], indent=1))


if __name__ == "__main__":
    main()
