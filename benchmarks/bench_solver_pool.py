"""The solver pool against one ``vmap`` of the solver, same fits, same process.

    python benchmarks/bench_solver_pool.py [--batch 64] [--tol 1e-3] [--repeats 2]

Values as in ``bench_solver.py`` (breast-cancer MLP, n = 10, held-out log-odds). Contenders:

* ``vmap``: ``jax.vmap`` of :func:`interjax.solve._pdhg.pdhg_solve` over the batch (the
  solver before the pool): a converged fit stops changing, but every lane is computed until the
  slowest fit has converged;
* ``pool``: ``fit_and_or``'s default, :func:`interjax.solve._pdhg.pdhg_solve_pool` (lanes take
  the next fit when theirs converges; a narrower pool for the last fits).

Both give each fit the same iterations (checked here too). Prints and saves the steady times
(interleaved repeats), their ratio, and the iteration statistics.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    machine_info,
    result_row,
    round_ratios,
    time_interleaved,
    write_json,
)
from bench_solver import real_values  # noqa: E402

from interjax.solve._pdhg import and_or_problem, pdhg_solve, step_size  # noqa: E402
from interjax.solve._solvers import _solve_optimal, default_lanes  # noqa: E402


@functools.partial(jax.jit, static_argnames=("eta", "tol", "max_iters"))
def solve_vmap(flat, tau, *, eta, tol, max_iters):
    def one(v, t):
        problem, z, lam = and_or_problem(v, t)
        return pdhg_solve(problem, z, lam, eta=eta, tol=tol, max_iters=max_iters).iteration

    return jax.vmap(one)(flat, tau)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--max-iters", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    v, what = real_values(10, a.batch)
    flat = jnp.asarray(v)
    tau = 0.02 * jnp.abs(flat[:, -1] - flat[:, 0])
    kw = {"eta": step_size(10), "tol": a.tol, "max_iters": a.max_iters}
    lanes = default_lanes(10)

    def pool():
        return _solve_optimal(flat, tau, check_every=64, lanes=lanes, **kw)[4]

    def vmapped():
        return solve_vmap(flat, tau, **kw)

    it_pool, it_vmap = np.asarray(pool()), np.asarray(vmapped())
    if not np.array_equal(it_pool, it_vmap):
        raise AssertionError("the pool changed some fits' iteration counts")
    res = time_interleaved({"pool": pool, "vmap": vmapped}, a.repeats)
    ratio = round_ratios(res, "vmap", "pool")
    results = {
        "machine": machine_info(a.device_name),
        "values": what,
        "batch": a.batch,
        "tol": a.tol,
        "lanes": lanes,
        "iterations": {
            "mean": float(it_pool.mean()),
            "median": float(np.median(it_pool)),
            "max": int(it_pool.max()),
            "sum": int(it_pool.sum()),
        },
        "times": res,
        "vmap_over_pool": ratio,
    }
    for name, r in res.items():
        print(
            f"{name}: {r['median_s']:.1f} s per batch of {a.batch} "
            f"({r['median_s'] / a.batch:.3f} s per fit), compile {r['compile_s']:.1f} s"
        )
    print(
        f"iterations mean {it_pool.mean():.0f}, max {it_pool.max()}; vmap / pool = "
        f"{ratio['ratio_of_medians']:.2f} (median of round ratios "
        f"{ratio['median_of_round_ratios']:.2f})"
    )
    results["rows"] = rows(results)
    write_json(a.out / "bench_solver_pool.json", results)


def rows(results) -> list[dict]:
    t = results["times"]
    it = results["iterations"]
    return [
        result_row(
            "solver pool vs one vmap of the solver",
            f"n=10, batch {results['batch']}, tol {results['tol']:g}",
            t["pool"]["median_s"],
            peer="jax.vmap of the same PDHG solver",
            peer_s=t["vmap"]["median_s"],
            quality=f"identical iterations per fit (mean {it['mean']:.0f}, max {it['max']})",
        )
    ]


if __name__ == "__main__":
    main()
