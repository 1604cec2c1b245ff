"""Benchmark of the AND-OR extraction (issue 3): the optimal solver against the LP optimum
(HiGHS) and the lab's SGD schedule, on values of real trained models.

    python benchmarks/bench_solver.py [--quick] [--out DIR] [--device-name TEXT]

Values: a Flax NNX MLP trained on the breast-cancer table (n = 10 players: the 10 measurements),
a small CNN trained on digits (n = 12: 2×2 patches; n = 16: all 16 patches), log-odds of the
true class of held-out samples, baseline = training mean / black.

For every n and a batch of samples it reports, per sample, the objective of each method divided
by the LP optimum (HiGHS, on the first ``--highs-samples`` samples) and by the optimal solver's
certified lower bound (all samples: objective / lower bound is an upper bound on objective /
optimum), and the time per sample (steady state of the batched call, compile reported apart).
SGD runs the published schedule (momentum 0.9, learning rate decaying to a tenth) for each step
count and each learning rate in ``--sgd-lrs``; the table shows every learning rate.

HiGHS runs its interior-point method with crossover (``highs-ipm``, about 3x quicker than the dual
simplex at n = 10) under a per-solve limit (``--highs-time-limit``, 300 s); a solve stopped by the
limit is recorded under ``"capped"`` and left out of the ratios. At n = 12 the batch is 16 and HiGHS
solves 2 samples (about a minute each on 2 CPU cores).
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
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    call_seconds,
    machine_info,
    median,
    result_row,
    write_json,
)

import interjax as ij  # noqa: E402
from interjax import data  # noqa: E402
from interjax.solve._highs import solve_lp_highs  # noqa: E402


def real_values(n: int, batch: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """``(batch, 2**n)`` log-odds values of a trained model on held-out samples."""
    if n in (8, 10):
        ds = data.breast_cancer(seed=seed)
        net = data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(seed))
        data.train_classifier(net, ds.x_train, ds.y_train, steps=600, seed=seed)
        players, baseline = data.breast_cancer_players(), ij.mean_mask_value(ds.x_train)
        if n == 8:  # the first 8 measurements are players, the other two are kept
            groups = [[i, i + 10, i + 20] for i in range(8)]
            players = ij.Players.segments(groups=groups, shape=30)
        what = f"MLP on breast cancer, {n} measurement players"
    elif n in (12, 16):
        ds = data.digits(seed=seed)
        net = data.SmallCNN(rngs=nnx.Rngs(seed))
        data.train_classifier(net, ds.x_train, ds.y_train, steps=600, seed=seed)
        players = data.digit_patch_players() if n == 12 else ij.Players.patches((8, 8), 2)
        baseline = None
        what = f"CNN on digits, {n} patch players"
    else:
        raise ValueError(f"no real model for n={n}; use 8, 10, 12 or 16")
    x, y = ds.x_test[:batch], ds.y_test[:batch]
    model = ij.from_nnx(net, output=ij.log_odds(target=jnp.asarray(y)))
    return np.asarray(ij.evaluate(model, x, players, mask_value=baseline, batched=True)), what


def timed_fit(v, repeats, **kwargs):
    """First call (compile + run), then ``repeats`` steady calls; with ``repeats=0`` the first
    call's time stands for the steady time and no compile time is reported."""
    t0 = time.perf_counter()
    fit = jax.block_until_ready(ij.fit_and_or(v, **kwargs))
    first = time.perf_counter() - t0
    times = [call_seconds(lambda: ij.fit_and_or(v, **kwargs)) for _ in range(repeats)]
    steady = median(times) if times else first
    return fit, {
        "first_call_s": first,
        "times_s": times,
        "median_s": steady,
        "compile_s": max(first - steady, 0.0) if times else None,
    }


def bench_n(n, batch, highs_samples, sgd_steps, sgd_lrs, repeats, highs_limit=300.0):
    v_np, what = real_values(n, batch)
    v = jnp.asarray(v_np)
    print(f"n={n}: {what}, batch {batch}", flush=True)
    out = {"n": n, "model": what, "batch": batch, "q_ratio": 0.02}
    fit, timing = timed_fit(v, repeats)
    lower = np.asarray(fit.lower_bound)
    out["optimal"] = {
        **timing,
        "per_sample_s": timing["median_s"] / batch,
        "objective": np.asarray(fit.objective).tolist(),
        "lower_bound": lower.tolist(),
        "relative_gap": np.asarray(fit.relative_gap).tolist(),
        "iterations": np.asarray(fit.iterations).tolist(),
        "converged": np.asarray(fit.converged).tolist(),
    }
    print(
        f"  optimal: {timing['median_s']:.2f} s per batch, {timing['median_s'] / batch:.3f} s "
        f"per sample, compile {timing['compile_s']} s, converged "
        f"{np.asarray(fit.converged).mean():.0%}",
        flush=True,
    )
    optima, highs_times, capped, solved = [], [], [], []
    for i in range(min(highs_samples, batch)):
        try:
            sol = solve_lp_highs(
                v_np[i], float(fit.tau[i]), method="highs-ipm", time_limit=highs_limit
            )
        except RuntimeError as e:  # no point at all within the limit
            capped.append({"sample": i, "status": str(e)})
            print(f"  HiGHS sample {i}: no solution within {highs_limit:.0f} s", flush=True)
            continue
        if "Optimal" not in sol.status:  # stopped at the time limit: not an optimum
            capped.append({"sample": i, "status": sol.status, "seconds": sol.seconds})
            print(f"  HiGHS sample {i}: {sol.status}", flush=True)
            continue
        optima.append(sol.objective)
        solved.append(i)
        highs_times.append(sol.seconds)
        print(f"  HiGHS sample {i}: {sol.seconds:.1f} s", flush=True)
    out["highs"] = {
        "method": "highs-ipm",
        "time_limit_s": highs_limit,
        "objective": optima,
        "seconds": highs_times,
        "per_sample_s": median(highs_times) if highs_times else None,
        "capped": capped,
        "samples": solved,
    }
    opt = np.asarray(optima)
    obj = np.asarray(fit.objective)
    out["optimal"]["ratio_to_optimum"] = (obj[solved] / opt).tolist()
    out["optimal"]["ratio_to_lower_bound"] = (obj / lower).tolist()
    out["sgd"] = []
    for steps in sgd_steps:
        for lr in sgd_lrs:
            sfit, t = timed_fit(v, 1, solver=ij.SGD(num_steps=steps, learning_rate=lr))
            sobj = np.asarray(sfit.objective)
            out["sgd"].append(
                {
                    "num_steps": steps,
                    "learning_rate": lr,
                    **t,
                    "per_sample_s": t["median_s"] / batch,
                    "objective": sobj.tolist(),
                    "ratio_to_optimum": (sobj[solved] / opt).tolist(),
                    "ratio_to_lower_bound": (sobj / lower).tolist(),
                }
            )
            print(
                f"  sgd {steps} steps lr {lr}: median objective / lower bound "
                f"{np.median(sobj / lower):.2f}, {t['median_s'] / batch:.3f} s per sample",
                flush=True,
            )
    return out


def _sec(x) -> str:
    return "–" if x is None else f"{x:.1f}"


def table(results) -> str:
    rows = [
        "| n | method | objective / LP optimum (median, max) | objective / certified bound "
        "(median, max) | s per sample | compile s |",
        "|---|---|---|---|---:|---:|",
    ]
    for r in results["runs"]:

        def fmt(xs):
            return f"{np.median(xs):.4f}, {np.max(xs):.4f}" if len(xs) else "–"

        o = r["optimal"]
        rows.append(
            f"| {r['n']} | optimal (PDHG) | {fmt(o['ratio_to_optimum'])} | "
            f"{fmt(o['ratio_to_lower_bound'])} | {o['per_sample_s']:.3f} | "
            f"{o['compile_s']:.1f} |"
        )
        h = r["highs"]
        if h["seconds"]:
            rows.append(
                f"| {r['n']} | HiGHS LP ({len(h['seconds'])} samples) | 1 | – | "
                f"{h['per_sample_s']:.2f} | – |"
            )
        for s in r["sgd"]:
            rows.append(
                f"| {r['n']} | SGD {s['num_steps']} steps, lr {s['learning_rate']:g} | "
                f"{fmt(s['ratio_to_optimum'])} | {fmt(s['ratio_to_lower_bound'])} | "
                f"{s['per_sample_s']:.3f} | {_sec(s['compile_s'])} |"
            )
    return "\n".join(rows)


def _spread(xs) -> str:
    return f"median {np.median(xs):.4f}, max {np.max(xs):.4f}"


def _highs_note(h: dict) -> str:
    method = h.get("method", "highs")
    note = f"HiGHS ({method}) on {len(h['seconds'])} samples"
    if h.get("capped"):
        note += f"; {len(h['capped'])} stopped at the {h['time_limit_s']:.0f} s limit"
    return note


def rows(results) -> list[dict]:
    """The results-table lines: per n, the optimal solver against HiGHS and each SGD setting
    (times per sample; quality as objective / LP optimum on the samples HiGHS solved)."""
    out = []
    for r in results["runs"]:
        o, case = r["optimal"], f"n={r['n']}, batch {r['batch']}"
        gap = f"certified gap <= {max(o['relative_gap']):.0e}"
        if r.get("highs", {}).get("seconds"):
            out.append(
                result_row(
                    "AND-OR split vs HiGHS (LP optimum)",
                    case,
                    o["per_sample_s"],
                    peer="HiGHS via SciPy",
                    peer_s=r["highs"]["per_sample_s"],
                    quality=f"interjax objective / optimum {_spread(o['ratio_to_optimum'])}; {gap}",
                    note=_highs_note(r["highs"]),
                )
            )
        else:
            out.append(
                result_row(
                    "AND-OR split vs HiGHS (LP optimum)",
                    case,
                    o["per_sample_s"],
                    peer="HiGHS via SciPy",
                    quality=gap,
                    note=_highs_note(r.get("highs"))
                    if r.get("highs")
                    else "HiGHS not run at this n",
                )
            )
        for sg in r["sgd"]:
            ratios = sg.get("ratio_to_optimum") or sg["ratio_to_lower_bound"]
            what = "optimum" if sg.get("ratio_to_optimum") else "certified lower bound"
            out.append(
                result_row(
                    "AND-OR split vs the lab's SGD schedule",
                    f"{case}, {sg['num_steps']} steps, lr {sg['learning_rate']:g}",
                    o["per_sample_s"],
                    peer="SGD (momentum 0.9, lr decaying to 1/10)",
                    peer_s=sg["per_sample_s"],
                    quality=f"SGD objective / {what} {_spread(ratios)}",
                )
            )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="n = 10, batch 16, fewer contenders")
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--ns", type=int, nargs="+", default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--highs-samples", type=int, default=None)
    p.add_argument(
        "--highs-time-limit", type=float, default=300.0, help="seconds per HiGHS solve (capped)"
    )
    p.add_argument("--sgd-steps", type=int, nargs="+", default=None)
    p.add_argument("--sgd-lrs", type=float, nargs="+", default=None)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    ns = a.ns or ([8, 10] if a.quick else [8, 10, 12])
    batch = a.batch or (16 if a.quick else 64)
    highs = a.highs_samples if a.highs_samples is not None else (2 if a.quick else 4)
    steps = a.sgd_steps or ([10_000] if a.quick else [10_000, 20_000])
    lrs = a.sgd_lrs or ([1e-4] if a.quick else [1e-5, 1e-4, 1e-3])
    t0 = time.perf_counter()
    results = {
        "machine": machine_info(a.device_name),
        "mode": "quick" if a.quick else "full",
        "runs": [],
    }
    for n in ns:
        b = batch if n <= 10 else min(batch, 16 if n == 12 else 4)
        h = highs if n <= 10 else min(highs, 2) if n == 12 else 0
        reps = a.repeats if n <= 12 else 1
        results["runs"].append(bench_n(n, b, h, steps, lrs, reps, a.highs_time_limit))
        write_json(a.out / "bench_solver.json", results)
    results["total_seconds"] = time.perf_counter() - t0
    results["rows"] = rows(results)
    write_json(a.out / "bench_solver.json", results)
    md = table(results)
    (a.out / "bench_solver.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
