"""The first fit of a new shape with and without the CLI's persistent compilation cache (issue 14).

    python benchmarks/bench_solver_cache.py [--ns 10 12] [--batch 16] [--out DIR]

Each case runs in a fresh Python process, as a new ``interjax`` command would: JAX and interjax
are imported, :func:`interjax._compile_cache.enable_compile_cache` is called as ``cli.main``
does (or not), and ``ij.fit_and_or`` runs twice on the same planted values (``--batch`` fits of
``n`` players, tol 1e-3). ``first`` is the first call (tracing, compiling or loading the program,
and solving), ``steady`` the second; ``first - steady`` is what the first call costs on top.
Three processes per ``n``: cache off, cache on with an empty folder (cold: compiles and writes),
cache on again (warm: loads what the cold run wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, result_row, write_json

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    from interjax._compile_cache import enable_compile_cache
    folder = enable_compile_cache(disabled=sys.argv[1] == "off")
    import numpy as np, jax.numpy as jnp
    import interjax as ij
    n, batch = int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    a = np.zeros((batch, 2**n)); o = np.zeros((batch, 2**n))
    for b in range(batch):
        a[b, rng.choice(2**n, 12, replace=False)] = rng.normal(size=12)
        o[b, rng.choice(2**n, 12, replace=False)] = rng.normal(size=12)
    v = ij.reconstruct(jnp.asarray(a), jnp.asarray(o))
    times = []
    for _ in range(2):
        t = time.perf_counter()
        fit = ij.fit_and_or(v)
        fit.objective.block_until_ready()
        times.append(time.perf_counter() - t)
    print(json.dumps({"first": times[0], "steady": times[1],
                      "converged": bool(np.asarray(fit.converged).all())}))
    """
)


def run_case(mode: str, n: int, batch: int, cache: Path) -> dict:
    env = {**os.environ, "INTERJAX_COMPILE_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(n), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ns", type=int, nargs="+", default=[10, 12])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    results = {"machine": machine_info(a.device_name), "batch": a.batch, "cases": {}}
    rows = []
    for n in a.ns:
        cache = Path(tempfile.mkdtemp()) / "cache"
        case = {m: run_case(m if m == "off" else "on", n, a.batch, cache) for m in ("off", "cold")}
        case["warm"] = run_case("on", n, a.batch, cache)
        case["cache_bytes"] = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
        results["cases"][str(n)] = case
        extra = {m: case[m]["first"] - case[m]["steady"] for m in ("off", "cold", "warm")}
        print(f"n={n}: " + ", ".join(f"{m} first {case[m]['first']:.2f} s" for m in extra))
        rows.append(
            result_row(
                "first fit of a new shape (persistent compilation cache)",
                f"n={n}, batch {a.batch}, fresh process, cache warm",
                case["warm"]["first"],
                peer="the same process without the cache",
                peer_s=case["off"]["first"],
                quality="all fits certified within 1e-3"
                if all(case[m]["converged"] for m in extra)
                else "some fit did not converge",
                note=f"first call minus steady call: off {extra['off']:.1f} s, cold (compile and "
                f"write) {extra['cold']:.1f} s, warm (load) {extra['warm']:.1f} s; cache "
                f"{case['cache_bytes'] / 2**20:.1f} MiB",
            )
        )
    results["rows"] = rows
    write_json(a.out / "bench_solver_cache.json", results)


if __name__ == "__main__":
    main()
