"""The certified solver before and after issue 14, side by side in one process, with HiGHS.

    python benchmarks/bench_solver_speed.py [--ns 10 12] [--out DIR]

Values: planted sparse AND-OR models (12 AND and 12 OR terms at random coalitions, normal
weights) plus Gaussian noise of 1% of ``|v(N) - v(∅)|``, fitted at ``q_ratio`` 0.02 to a
certified relative gap of 1e-3 (the case the issue found slow: noise makes the fits long).

* ``before``: the solver's settings as issue 14 found them (box weight ``c = 1``, no necessary
  restarts, the earlier CPU pool width of 2^17 entries per pass: 128 lanes at n = 10), with the
  code of the time otherwise (its order weights and primal weight too);
* ``after``: the defaults now (``c = 0.5``, PDLP's necessary restarts at 0.8, the pool width of
  :func:`~interjax.solve._solvers.default_lanes`);
* HiGHS interior point (``highs-ipm``, SciPy) on the first ``--highs`` samples, time-capped.

Iteration counts are deterministic; times are the process's CPU seconds (medians of
alternating repeats; wall times are in the JSON too): on a shared machine wall times swung 2-4x
between identical calls, CPU times far less. Compare the ratios, not absolute times across runs.
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
from _common import (  # noqa: E402
    fit_quality,
    iteration_summary,
    machine_info,
    median,
    result_row,
    timed_rounds,
    write_json,
)

import interjax as ij  # noqa: E402
from interjax.solve._highs import solve_lp_highs  # noqa: E402
from interjax.solve._pdhg import BOX_WEIGHT, RESTART_NECESSARY, step_size  # noqa: E402
from interjax.solve._solvers import _solve_optimal, default_lanes  # noqa: E402


def planted_noisy(n: int, batch: int, seed: int = 0, terms: int = 12, noise: float = 0.01):
    """``(batch, 2**n)`` values of planted AND-OR models plus noise."""
    rng = np.random.default_rng(seed)
    a, o = np.zeros((batch, 2**n)), np.zeros((batch, 2**n))
    for b in range(batch):
        a[b, rng.choice(2**n, terms, replace=False)] = rng.normal(size=terms)
        o[b, rng.choice(2**n, terms, replace=False)] = rng.normal(size=terms)
    v = np.asarray(ij.reconstruct(jnp.asarray(a), jnp.asarray(o)))
    return v + noise * rng.normal(size=v.shape) * np.abs(v[:, -1:] - v[:, :1])


def variants(n: int) -> dict:
    return {
        "before": {"box_weight": 1.0, "lanes": max(1, 2**17 >> n), "restart_necessary": 0.0},
        "after": {
            "box_weight": BOX_WEIGHT,
            "lanes": default_lanes(n),
            "restart_necessary": RESTART_NECESSARY,
        },
    }


def bench_n(n, batch, highs, repeats, highs_limit):
    v = jnp.asarray(planted_noisy(n, batch))
    tau = 0.02 * jnp.abs(v[:, -1] - v[:, 0])
    out = {"n": n, "batch": batch, "variants": {}}
    calls = {}
    for name, kw in variants(n).items():
        eta = step_size(n, kw["box_weight"])

        def call(kw=kw, eta=eta):
            res = _solve_optimal(v, tau, eta=eta, tol=1e-3, max_iters=50_000, check_every=64, **kw)
            return jax.block_until_ready(res)

        t0 = time.perf_counter()
        res = call()
        first = time.perf_counter() - t0
        calls[name] = call
        obj, low, it = (np.asarray(x) for x in res[2:5])
        out["variants"][name] = {
            **kw,
            "first_call_s": first,
            "iterations": it.tolist(),
            "objective": obj.tolist(),
            "relative_gap": ((obj - low) / obj).tolist(),
        }
        print(
            f"  n={n} {name}: first call {first:.1f} s, iterations mean {it.mean():.0f} "
            f"max {it.max()}",
            flush=True,
        )
    for name, timed in timed_rounds(calls, repeats, rotate=False).items():  # the same load for both
        r = out["variants"][name]
        r.update(timed, per_fit_s=median(timed["cpu_s"]) / batch)  # wall times in the JSON too
        r["compile_s"] = max(r["first_call_s"] - median(r["times_s"]), 0.0)
    hs = []
    for i in range(min(highs, batch)):
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            sol = solve_lp_highs(np.asarray(v[i]), float(tau[i]), method="highs-ipm",
                                 time_limit=highs_limit)  # fmt: skip
        except RuntimeError as err:  # no point at all within the limit: capped
            hs.append({"sample": i, "seconds": time.perf_counter() - t0, "objective": None,
                       "cpu_s": time.process_time() - c0, "status": str(err)})  # fmt: skip
            print(f"  n={n} HiGHS sample {i}: capped ({err})", flush=True)
            continue
        hs.append({"sample": i, "seconds": sol.seconds, "cpu_s": time.process_time() - c0,
                   "objective": sol.objective, "status": sol.status})  # fmt: skip
        print(f"  n={n} HiGHS sample {i}: {sol.seconds:.1f} s, {sol.status}", flush=True)
    out["highs"] = hs
    return out


def rows(results) -> list[dict]:
    out = []
    for run in results["runs"]:
        n, b = run["n"], run["batch"]
        before, after = run["variants"]["before"], run["variants"]["after"]
        solved = [h for h in run["highs"] if "Optimal" in h["status"]]
        opt = np.array([h["objective"] for h in solved])
        idx = [h["sample"] for h in solved]

        def q(r, idx=idx, opt=opt):
            return fit_quality(r, idx, opt)

        its = iteration_summary

        out.append(
            result_row(
                "certified AND-OR fit, noisy planted values (issue 14)",
                f"n={n}, {b} fits, after vs before",
                after["per_fit_s"],
                peer=f"before (c = 1, {before['lanes']} lanes)",
                peer_s=before["per_fit_s"],
                quality=f"after: {q(after)}; before: {q(before)}",
                note="CPU seconds per fit (process time; wall times in the JSON); "
                f"after: c = {after['box_weight']}, {after['lanes']} lanes, "
                f"{its(after)}, compile {after['compile_s']:.1f} s; before: {its(before)}, "
                f"compile {before['compile_s']:.1f} s; medians of "
                f"{len(after['times_s'])} alternating calls",
            )
        )
        if run["highs"]:
            capped = len(run["highs"]) - len(solved)
            limit = f"{results['highs_limit_s']:.0f} s"
            if solved:
                note = f"CPU seconds; HiGHS median of {len(solved)} fits" + (
                    f", {capped} capped at {limit}" if capped else ""
                )
            else:
                note = f"HiGHS capped: no optimum within {limit} (wall) on {capped} fit(s)"
            out.append(
                result_row(
                    "certified AND-OR fit vs HiGHS, noisy planted values (issue 14)",
                    f"n={n}",
                    after["per_fit_s"],
                    peer="HiGHS interior point (highs-ipm), one fit",
                    peer_s=median([h["cpu_s"] for h in solved]) if solved else None,
                    quality=q(after),
                    note=note + "; goal: ratio >= 20",
                )
            )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ns", type=int, nargs="+", default=[10, 12])
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--highs-time-limit", type=float, default=300.0)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    results = {"machine": machine_info(a.device_name), "highs_limit_s": a.highs_time_limit,
               "runs": []}  # fmt: skip
    setups = {10: (16, 3), 12: (4, 1), 14: (1, 0)}
    for n in a.ns:
        batch, highs = setups.get(n, (1, 0))
        results["runs"].append(
            bench_n(n, batch, highs, a.repeats if n <= 12 else 1, a.highs_time_limit)
        )
        results["rows"] = rows(results)
        write_json(a.out / "bench_solver_speed.json", results)


if __name__ == "__main__":
    main()
