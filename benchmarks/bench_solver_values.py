"""The certified solver on five kinds of values: its probe against each order weight alone.

    python benchmarks/bench_solver_values.py [--n 10] [--batch 12] [--out DIR]

The order weight of n (``w = 1.2`` up to n = 10, 1.25 beyond; docs/method.md §3) was chosen on
values with few, low-order interactions and is slow on unstructured ones, where weight 1 is
quick. The default ``ij.PDHG()`` probes both on each fit and keeps one. This benchmark puts it
beside ``ij.PDHG(order_weight=w)`` for each weight alone, on those kinds of values and on
unstructured ones, through ``ij.fit_and_or`` as a user calls it (``q_ratio`` 0.02, certified to
a relative gap of 1e-3):

* noisy planted: 12 AND and 12 OR terms plus 1% noise (``bench_solver_speed.planted_noisy``);
* MLP: log-odds of the breast-cancer MLP on held-out samples (``bench_solver.real_values``);
* Gaussian noise: ``v ~ N(0, 1)`` at every coalition;
* Student-t noise with 2 degrees of freedom (heavy tails);
* saturated logits: ``clip(30·(a·x_T − b), ±15)`` of the players' indicators ``x_T``, with
  ``a ~ N(0, I)`` and ``b ~ 0.3·N(0, 1)`` per fit: a confident linear classifier's log-odds.

Per kind: iterations (deterministic), CPU seconds per fit (process time, medians of alternating
calls: the contenders see the same load) and HiGHS interior point on the first ``--highs``
fits, for the objective and its time. Two rows per kind, the default against each weight alone:
the ratio is the weight's time over the default's, above 1 the default is quicker. Results go
to ``bench_solver_values.json`` (n = 10) or ``bench_solver_values_n{n}.json``.
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
from bench_solver import real_values  # noqa: E402
from bench_solver_speed import planted_noisy  # noqa: E402

import interjax as ij  # noqa: E402
from interjax.solve._highs import solve_lp_highs  # noqa: E402
from interjax.solve._pdhg import order_weight  # noqa: E402


def contenders(n: int) -> dict:
    """The default (the probe) and each of its two order weights alone."""
    w = order_weight(n)
    return {
        "default": ij.PDHG(),
        f"order_weight={w}": ij.PDHG(order_weight=w),
        "order_weight=1.0": ij.PDHG(order_weight=1.0),
    }


def saturated_logits(rng, n: int, batch: int) -> np.ndarray:
    x = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)  # (2**n, n) indicators
    return np.stack(
        [
            np.clip(30.0 * (x @ rng.normal(size=n) - 0.3 * rng.normal()), -15, 15)
            for _ in range(batch)
        ]
    )


def values(kind: str, n: int, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noisy planted":
        return planted_noisy(n, batch, seed)
    if kind == "MLP":
        return np.asarray(real_values(n, batch, seed)[0])
    if kind == "Gaussian noise":
        return rng.normal(size=(batch, 2**n))
    if kind == "Student-t noise":
        return rng.standard_t(2, size=(batch, 2**n))
    if kind == "saturated logits":
        return saturated_logits(rng, n, batch)
    raise ValueError(kind)


KINDS = ("noisy planted", "MLP", "Gaussian noise", "Student-t noise", "saturated logits")


def _highs_child(v, tau, limit, conn):
    c0 = time.process_time()
    try:
        sol = solve_lp_highs(v, tau, method="highs-ipm", time_limit=limit)
        conn.send((time.process_time() - c0, sol.objective, sol.code))
    except RuntimeError:  # no point at all within HiGHS's own limit
        conn.send((time.process_time() - c0, None, -1))


def highs_capped(v, tau, limit: float) -> dict:
    """HiGHS (``highs-ipm``) on one fit in a child process, stopped after ``limit`` seconds of
    wall time whatever HiGHS does (at n = 14 its own ``time_limit`` of 600 s was not honoured:
    it was still running after 20 minutes). A stopped or limited solve is ``capped``, with no
    objective; ``cpu_s`` is the child's CPU time, or the wall time where it was stopped."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    t0 = time.perf_counter()
    proc = ctx.Process(target=_highs_child, args=(v, tau, limit, child))
    proc.start()
    wait([parent, proc.sentinel], timeout=limit + 60.0)  # HiGHS's own limit, then ours
    got = parent.recv() if parent.poll() else None
    wall = time.perf_counter() - t0
    if got is None and not proc.is_alive():
        raise RuntimeError(f"the HiGHS child process ended without a result ({proc.exitcode})")
    if proc.is_alive():
        proc.terminate()
    proc.join()
    if got is None:
        return {"cpu_s": wall, "objective": None, "capped": True, "stopped_after_s": wall}
    cpu, objective, code = got
    capped = code != 0
    return {"cpu_s": cpu, "objective": None if capped else objective, "capped": capped}


def bench_kind(kind, n, batch, highs, repeats, highs_limit=None):
    v = jnp.asarray(values(kind, n, batch))
    out = {"kind": kind, "n": n, "batch": batch, "contenders": {}}
    calls = {}
    for name, solver in contenders(n).items():

        def call(solver=solver):
            fit = ij.fit_and_or(v, q_ratio=0.02, solver=solver)
            return jax.block_until_ready((fit.objective, fit.lower_bound, fit.iterations))

        t0 = time.perf_counter()
        obj, low, it = (np.asarray(x) for x in call())
        calls[name] = call
        out["contenders"][name] = {
            "first_call_s": time.perf_counter() - t0,
            "iterations": it.tolist(),
            "objective": obj.tolist(),
            "relative_gap": ((obj - low) / np.abs(obj)).tolist(),
        }
        print(f"  {kind} {name}: iterations mean {it.mean():.0f} max {it.max()}", flush=True)
    for name, timed in timed_rounds(calls, repeats, rotate=False).items():  # the same load for all
        r = out["contenders"][name]
        r.update(timed, per_fit_s=median(timed["cpu_s"]) / batch)
    tau = 0.02 * np.abs(np.asarray(v[:, -1] - v[:, 0]))
    out["highs"] = []
    for i in range(min(highs, batch)):
        if highs_limit is None:
            c0 = time.process_time()
            sol = solve_lp_highs(np.asarray(v[i]), float(tau[i]), method="highs-ipm")
            res = {"cpu_s": time.process_time() - c0, "objective": sol.objective, "capped": False}
        else:
            res = highs_capped(np.asarray(v[i]), float(tau[i]), highs_limit)
        out["highs"].append({"sample": i, **res})
        capped = res["capped"]
        print(f"  {kind} HiGHS sample {i}: {'capped' if capped else 'optimal'}", flush=True)
    return out


def rows(results) -> list[dict]:
    out = []
    for run in results["runs"]:
        d = run["contenders"]["default"]
        solved = [h for h in run["highs"] if not h.get("capped")]
        capped = [h for h in run["highs"] if h.get("capped")]
        idx = [h["sample"] for h in solved]
        opt = np.array([h["objective"] for h in solved])

        def q(r, idx=idx, opt=opt):
            return fit_quality(r, idx, opt)

        its = iteration_summary
        highs = (
            f"HiGHS ipm {median([h['cpu_s'] for h in solved]):.3g} s per fit (median of {len(idx)})"
            if solved
            else "HiGHS ipm not solved"
        ) + (
            f"; {len(capped)} fit(s) capped at {results['highs_limit_s']:.0f} s without the "
            f"optimum ("
            + (
                f"stopped after {max(h.get('stopped_after_s', 0) for h in capped):.0f} s wall"
                if any("stopped_after_s" in h for h in capped)
                else f"{max(h['cpu_s'] for h in capped):.0f} CPU s"
            )
            + ")"
            if capped
            else ""
        )
        for name, peer in run["contenders"].items():
            if name == "default":
                continue
            out.append(
                result_row(
                    "certified AND-OR fit by kind of values: the default's probe vs one order "
                    "weight",
                    f"{run['kind']}, n={run['n']}, {run['batch']} fits",
                    d["per_fit_s"],
                    peer=f"ij.PDHG({name})",
                    peer_s=peer["per_fit_s"],
                    quality=f"default: {q(d)}; {name}: {q(peer)}",
                    note=f"CPU seconds per fit, medians of {len(d['cpu_s'])} alternating calls; "
                    f"default: {its(d)}; {name}: {its(peer)}; {highs}",
                )
            )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--highs", type=int, default=3, help="fits per kind solved by HiGHS too")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument(
        "--highs-time-limit",
        type=float,
        default=None,
        help="seconds after which HiGHS stops; such a fit is recorded as capped (default: none)",
    )
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    results = {
        "machine": machine_info(a.device_name),
        "highs_limit_s": a.highs_time_limit,
        "runs": [],
    }
    for kind in a.kinds:
        results["runs"].append(
            bench_kind(kind, a.n, a.batch, a.highs, a.repeats, a.highs_time_limit)
        )
        results["rows"] = rows(results)
        name = "bench_solver_values" + ("" if a.n == 10 else f"_n{a.n}")
        write_json(a.out / f"{name}.json", results)


if __name__ == "__main__":
    main()
