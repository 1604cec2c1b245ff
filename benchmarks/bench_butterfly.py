"""Butterfly passes of one player against several players at once, and what it does to the solver.

    python benchmarks/bench_butterfly.py [--ns 10 12 14 16] [--fit-ns 10 12 14] [--out DIR]

Every transform of interjax (Möbius, OR, subset and superset sums, the solver's Gram rotations) is
a butterfly: ``n`` passes, pass ``i`` combining each coalition without player ``i`` with the same
coalition with it. ``interjax._core.butterfly`` takes ``k`` players a pass (the same operations in
the same order, read and written once per ``k`` players instead of once per player).

* Section 1, passes: one Möbius transform (one subtraction a pair) and one rotation by the
  solver's Gram eigenvectors (four multiplications a pair) of ``(2, 2**n)`` (one fit's pair of
  vectors) and ``(lanes, 2, 2**n)`` (the solver's pool at that ``n``), for ``k = 1 … 4``, in
  interleaved rounds; each output is checked bit for bit against ``k = 1``.
* Section 2, fits: the default certified solver (``ij.fit_and_or``, tol 1e-3) on noisy planted
  values, with every pass at one player (``interjax._core.PLAYERS_PER_PASS = 1``, the code
  before) against the default, alternating in one process (JAX's caches cleared at each
  switch and the program compiled again by a call on zeros of the same shape, timed apart as
  the compile time). Iterations must agree exactly, objectives to rounding (XLA fuses the two
  programs differently); times are the process's CPU seconds per fit (medians).
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
from _common import machine_info, median, result_row, timed_rounds, write_json  # noqa: E402
from bench_solver_speed import planted_noisy  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import _core  # noqa: E402
from interjax.solve import _operators  # noqa: E402
from interjax.solve._pdhg import order_weight  # noqa: E402
from interjax.solve._solvers import default_lanes  # noqa: E402

FIT_BATCH = {8: 64, 10: 32, 12: 8, 14: 1, 16: 1}


def combines(n: int) -> dict:
    # the rotation U₁ of the Gram inverse (it does not depend on the shift)
    (a, b), (c, d) = _operators.operators(n).gram_factors(order_weight(n))[0]
    return {
        "Möbius": lambda lo, hi: (lo, hi - lo),
        "Gram rotation": lambda lo, hi: (a * lo + b * hi, c * lo + d * hi),
    }


def bench_passes(n: int, repeats: int, calls: int = 20) -> list[dict]:
    out = []
    rng = np.random.default_rng(n)
    for shape in [(2, 2**n), (default_lanes(n), 2, 2**n)]:
        x = jnp.asarray(rng.normal(size=shape))
        for name, combine in combines(n).items():
            fns = {
                k: jax.jit(lambda v, k=k, c=combine: _core.butterfly(v, n, c, k))
                for k in (1, 2, 3, 4)
            }
            ref = np.asarray(fns[1](x))
            identical = {
                str(k): bool(np.array_equal(np.asarray(f(x)), ref)) for k, f in fns.items()
            }

            def many(f, x=x):
                def run():
                    for _ in range(calls):
                        y = f(x)
                    return y

                return run

            timed = timed_rounds({k: many(f) for k, f in fns.items()}, repeats)
            seconds = {str(k): median(t["times_s"]) / calls for k, t in timed.items()}
            out.append(
                {
                    "n": n,
                    "shape": list(shape),
                    "combine": name,
                    "seconds": seconds,
                    "identical": identical,
                }
            )
            print(
                f"  n={n} {name} {shape}: "
                + ", ".join(f"k={k} {s * 1e6:.0f} µs" for k, s in seconds.items())
                + ("" if all(identical.values()) else f"  NOT IDENTICAL {identical}"),
                flush=True,
            )
    return out


DEFAULT = _core.PLAYERS_PER_PASS


def set_passes(one_player: bool) -> None:
    """One player a pass everywhere (the code before), or the default; JAX's caches cleared so
    that the next call traces and compiles with it."""
    _core.PLAYERS_PER_PASS = 1 if one_player else DEFAULT
    jax.clear_caches()


def bench_fits(n: int, repeats: int) -> dict:
    batch = FIT_BATCH[n]
    v = jnp.asarray(planted_noisy(n, batch, seed=1))
    zeros = jnp.zeros_like(v)  # converges at once: compiles the same program
    names = ["one player a pass", "default"]
    cpu, wall, compile_s = ({k: [] for k in names} for _ in range(3))
    fits = {}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            set_passes(name == "one player a pass")
            t0 = time.perf_counter()
            jax.block_until_ready(ij.fit_and_or(zeros).objective)
            compile_s[name].append(time.perf_counter() - t0)
            c0, t0 = time.process_time(), time.perf_counter()
            fit = ij.fit_and_or(v)
            jax.block_until_ready(fit.objective)
            cpu[name].append((time.process_time() - c0) / batch)
            wall[name].append((time.perf_counter() - t0) / batch)
            fits[name] = {
                "iterations": np.asarray(fit.iterations).reshape(-1).tolist(),
                "objective": np.asarray(fit.objective).reshape(-1).tolist(),
                "relative_gap": np.asarray(fit.relative_gap).reshape(-1).tolist(),
            }
            print(
                f"  n={n} {name}: {cpu[name][-1]:.3f} CPU s, {wall[name][-1]:.3f} s per fit, "
                f"compile {compile_s[name][-1]:.1f} s",
                flush=True,
            )
    set_passes(False)
    one, default = fits["one player a pass"], fits["default"]
    objective_diff = np.abs(np.asarray(default["objective"]) / np.asarray(one["objective"]) - 1)
    return {
        "n": n,
        "batch": batch,
        "cpu_s_per_fit": cpu,
        "wall_s_per_fit": wall,
        "compile_s": compile_s,
        "fits": fits,
        "same_iterations": one["iterations"] == default["iterations"],
        "objective_max_relative_difference": float(objective_diff.max()),
    }


def rows(results) -> list[dict]:
    out = []
    for p in results["passes"]:
        s = p["seconds"]
        best = min(s, key=lambda k: s[k])
        shape = "x".join(str(d) for d in p["shape"])
        out.append(
            result_row(
                "butterfly: the default players a pass vs one",
                f"n={p['n']}, {p['combine']}, {shape}",
                s[str(results["players_per_pass"])],
                peer="one player a pass",
                peer_s=s["1"],
                quality="bit for bit identical"
                if all(p["identical"].values())
                else f"NOT identical: {p['identical']}",
                note=f"best k = {best}; "
                + ", ".join(f"k={k}: {v * 1e6:.1f} µs" for k, v in s.items())
                + "; wall medians of interleaved rounds",
            )
        )
    for f in results["fits"]:
        one, default = f["cpu_s_per_fit"]["one player a pass"], f["cpu_s_per_fit"]["default"]
        its = f["fits"]["default"]["iterations"]
        out.append(
            result_row(
                "certified AND-OR fit: butterflies of several players a pass",
                f"n={f['n']}, {f['batch']} noisy planted fits",
                median(default),
                peer="one player a pass",
                peer_s=median(one),
                quality=("iterations identical" if f["same_iterations"] else "iterations DIFFER")
                + f", objectives within {f['objective_max_relative_difference']:.0e} relative; "
                f"max gap {max(f['fits']['default']['relative_gap']):.1e}",
                note=f"CPU seconds per fit, medians of {len(default)} alternating calls (wall: "
                f"{median(f['wall_s_per_fit']['default']):.3g} s against "
                f"{median(f['wall_s_per_fit']['one player a pass']):.3g} s); "
                f"iterations mean {np.mean(its):.0f}, max {max(its)}; default: "
                f"{results['players_per_pass']} players a pass; compile "
                f"{median(f['compile_s']['default']):.1f} s against "
                f"{median(f['compile_s']['one player a pass']):.1f} s",
            )
        )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ns", type=int, nargs="*", default=[10, 12, 14, 16])
    p.add_argument("--fit-ns", type=int, nargs="*", default=[10, 12, 14])
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--fit-repeats", type=int, default=4)
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    args = p.parse_args(argv)
    results = {
        "machine": machine_info(args.device_name),
        "players_per_pass": DEFAULT,
    }
    print("section 1: passes", flush=True)
    results["passes"] = [row for n in args.ns for row in bench_passes(n, args.repeats)]
    print("section 2: fits", flush=True)
    results["fits"] = [bench_fits(n, args.fit_repeats) for n in args.fit_ns]
    results["rows"] = rows(results)
    print(write_json(args.out / "bench_butterfly.json", results))


if __name__ == "__main__":
    main()
