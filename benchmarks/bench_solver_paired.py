"""The PDHG step with M and O applied as one stacked butterfly ("paired") against one by one
("separate"), side by side in one process: compile time and time per iteration.

    python benchmarks/bench_solver_paired.py [--ns 10 12 14] [--iterations 2048] [--out DIR]

Both variants do the same arithmetic; they differ in the program XLA gets, whose fusion may
round differently (checked here: the same iterations, and the largest relative difference of
the objectives). For each n: noisy planted values (``bench_solver_speed.planted_noisy``, ``q_ratio``
0.02), the pool of the default width, a fixed number of iterations (``tol`` far below reach, so
every fit runs ``--iterations``). Compile time is ``lower`` plus ``compile`` of the solve
program; steady times alternate the two compiled programs ``--repeats`` times (wall and CPU
seconds of the process, medians). The default ``paired`` choice (``_pdhg.PAIRED_MAX_N``) comes
from this benchmark.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median, result_row, write_json  # noqa: E402
from bench_solver_speed import planted_noisy  # noqa: E402

from interjax.solve._pdhg import BOX_WEIGHT, PAIRED_MAX_N, RESTART_NECESSARY, step_size  # noqa: E402
from interjax.solve._solvers import _solve_optimal, default_lanes  # noqa: E402


def bench_n(n: int, batch: int, iterations: int, repeats: int) -> dict:
    v = jnp.asarray(planted_noisy(n, batch))
    tau = 0.02 * jnp.abs(v[:, -1] - v[:, 0])
    static = dict(
        eta=step_size(n),
        tol=1e-12,
        max_iters=iterations,
        check_every=64,
        lanes=default_lanes(n),
        box_weight=BOX_WEIGHT,
        restart_necessary=RESTART_NECESSARY,
    )
    out = {"n": n, "batch": batch, "iterations": iterations, "variants": {}}
    compiled, results = {}, {}
    for name, paired in (("paired", True), ("separate", False)):
        t0 = time.perf_counter()
        lowered = _solve_optimal.lower(v, tau, paired=paired, **static)
        t1 = time.perf_counter()
        compiled[name] = lowered.compile()
        t2 = time.perf_counter()
        results[name] = jax.block_until_ready(compiled[name](v, tau))
        out["variants"][name] = {"trace_lower_s": t1 - t0, "compile_s": t2 - t1, "wall_s": [],
                                 "cpu_s": []}  # fmt: skip
    (_, _, obj_p, _, it_p), (_, _, obj_s, _, it_s) = results["paired"], results["separate"]
    same_iterations = bool(np.array_equal(it_p, it_s))
    obj_diff = float(np.max(np.abs(np.asarray(obj_p) - np.asarray(obj_s)) / np.asarray(obj_s)))
    for _ in range(repeats):
        for name, fn in compiled.items():
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(v, tau))
            out["variants"][name]["wall_s"].append(time.perf_counter() - t0)
            out["variants"][name]["cpu_s"].append(time.process_time() - c0)
    for r in out["variants"].values():
        r["wall_ms_per_fit_iteration"] = median(r["wall_s"]) / (batch * iterations) * 1e3
        r["cpu_ms_per_fit_iteration"] = median(r["cpu_s"]) / (batch * iterations) * 1e3
    out["same_iterations"] = same_iterations
    out["objective_max_relative_difference"] = obj_diff
    p, s = out["variants"]["paired"], out["variants"]["separate"]
    print(
        f"  n={n}: compile {p['compile_s']:.2f} s paired vs {s['compile_s']:.2f} s separate; "
        f"wall ms per fit-iteration {p['wall_ms_per_fit_iteration']:.4f} vs "
        f"{s['wall_ms_per_fit_iteration']:.4f}; CPU {p['cpu_ms_per_fit_iteration']:.4f} vs "
        f"{s['cpu_ms_per_fit_iteration']:.4f}; objectives within {obj_diff:.1e}",
        flush=True,
    )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ns", type=int, nargs="+", default=[10, 12, 14])
    ap.add_argument("--iterations", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="benchmarks/results", type=Path)
    ap.add_argument("--device-name", default=None)
    a = ap.parse_args(argv)
    machine = machine_info(a.device_name)
    runs = [bench_n(n, 16 if n <= 12 else 4, a.iterations, a.repeats) for n in a.ns]
    rows = []
    for r in runs:
        p, s = r["variants"]["paired"], r["variants"]["separate"]
        rows.append(
            result_row(
                "PDHG step: M and O as one stacked butterfly (issue 14)",
                f"n={r['n']}, {r['batch']} noisy planted fits x {r['iterations']} iterations",
                median(p["wall_s"]),
                peer="the same step with M and O one by one",
                peer_s=median(s["wall_s"]),
                quality=f"same iterations: {r['same_iterations']}; objectives within "
                f"{r['objective_max_relative_difference']:.1e} relative",
                note=f"wall seconds per batch, medians of {a.repeats} alternating calls; compile "
                f"{p['compile_s']:.1f} s vs {s['compile_s']:.1f} s; CPU seconds "
                f"{median(p['cpu_s']):.2f} vs {median(s['cpu_s']):.2f}; default paired up to "
                f"n = {PAIRED_MAX_N}",
            )
        )
    write_json(
        a.out / "bench_solver_paired.json",
        {"machine": machine, "runs": runs, "rows": rows, "paired_max_n": PAIRED_MAX_N},
    )


if __name__ == "__main__":
    main()
