"""Side check: the optimal solver's float64 vs float32 iterations at n = 10, batch 64, on the
same real values as ``bench_solver.py`` (breast-cancer MLP, seed 0), timed in one process.

    python benchmarks/bench_solver_dtype.py

Prints, per iteration dtype, the steady time per sample (min and max of two calls after the
compiling one), the mean and maximum iterations and the largest certified gap.
"""

import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_solver import real_values  # noqa: E402

import interjax as ij  # noqa: E402

v, _ = real_values(10, 64)
v = jnp.asarray(v)
for dt in (None, "float32"):
    jax.block_until_ready(ij.fit_and_or(v, solver=ij.PDHG(iterate_dtype=dt)))
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        fit = jax.block_until_ready(ij.fit_and_or(v, solver=ij.PDHG(iterate_dtype=dt)))
        times.append(time.perf_counter() - t0)
    it = np.asarray(fit.iterations)
    print(
        f"{dt or 'float64'}: {min(times) / 64:.3f}-{max(times) / 64:.3f} s per sample, "
        f"iterations mean {it.mean():.0f} max {it.max()}, converged "
        f"{bool(np.asarray(fit.converged).all())}, max gap {float(fit.relative_gap.max()):.1e}"
    )
