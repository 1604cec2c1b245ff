"""Load (issue 7): the resumable analysis of 100 checkpoints x 64 samples in bounded memory.

    python benchmarks/bench_load.py [--checkpoints 100] [--samples 64] [--n 8] [--device-name TEXT]

A planted-rule MLP (10 features, ``n`` feature players) is trained with optax while
``--checkpoints`` Orbax checkpoints are saved; 3 baselines are trained on half of the test
split. Then ``prepare_analysis`` and ``interjax._pipeline.analyze_run`` (what ``interjax analyze``
runs) analyse
``--samples`` samples (half training, half held out) at every checkpoint, in groups of 10
checkpoints, each group one sweep and one batched solve written as a stage file, then the
report. The process's resident memory (``VmRSS``) is sampled after every group and its peak
(``ru_maxrss``) at the end; the table compares the growth over the run with
``analysis_memory``'s up-front estimate, on which a run over the budget is refused before any
work. Bounded memory means: what grows with the number of checkpoints is the kept results
(28·2^n bytes per checkpoint and sample), not the working set of a group.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, result_row, write_json  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import analyze, data  # noqa: E402
from interjax._pipeline import analysis_memory, analyze_run  # noqa: E402
from interjax.analyze import prepare_analysis  # noqa: E402
from interjax.checkpoints import orbax_source  # noqa: E402

MIB = 2**20


def rss_bytes() -> int:
    """Current resident set size of this process (Linux ``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoints", type=int, default=100)
    p.add_argument("--samples", type=int, default=64, help="analysed samples (half held out)")
    p.add_argument("--n", type=int, default=8, help="players")
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    ds = data.planted_rules(num_train=256, num_test=512, num_features=10, seed=0)

    def factory(seed=0):
        return data.MLP(10, 2, hidden=(64, 64), rngs=nnx.Rngs(seed))

    tmp = Path(tempfile.mkdtemp())
    run = data.train_run(
        factory, ds, tmp / "run", total_steps=3000, num_saves=a.checkpoints, learning_rate=3e-3
    )
    split = analyze.baseline_split(ds)
    bases = analyze.train_baselines(
        factory, split, train=data.train_classifier, num=3, steps=1500, learning_rate=3e-3
    )
    k = a.samples // 2
    x = np.concatenate([ds.x_train[:k], split.x_heldout[: a.samples - k]])
    y = np.concatenate([ds.y_train[:k], split.y_heldout[: a.samples - k]])
    is_test = np.r_[np.zeros(k, bool), np.ones(a.samples - k, bool)]
    players = ij.Players.features(a.n, num_features=10)
    source = orbax_source(run.checkpoints, model_factory=factory)
    inputs = prepare_analysis(
        source,
        x,
        y,
        players,
        baseline_params=[nnx.state(b) for b in bases],
        is_test=is_test,
        metrics={
            "steps": list(run.steps),
            "train_loss": list(run.train_loss),
            "test_loss": list(run.test_loss),
        },
    )
    param_bytes = sum(d.itemsize * int(np.prod(sh)) for sh, d in source.stored_arrays().values())
    estimate = analysis_memory(a.n, len(run.steps), len(x), len(bases), 10, param_bytes)
    rss_before = rss_bytes()
    per_group = []

    def progress(done, total):
        per_group.append({"group": done, "of": total, "rss_mib": rss_bytes() / MIB})
        print(f"  group {done}/{total}: RSS {per_group[-1]['rss_mib']:.0f} MiB", flush=True)

    t0 = time.perf_counter()
    summary = analyze_run(
        inputs, tmp / "analysis", title="load benchmark", quiet=True, progress=progress
    )
    seconds = time.perf_counter() - t0
    source.close()
    rss_after = rss_bytes()
    rss = [g["rss_mib"] for g in per_group]
    results = {
        "machine": machine_info(a.device_name),
        "checkpoints": len(run.steps),
        "samples": len(x),
        "n": a.n,
        "baselines": len(bases),
        "group_size": 10,
        "fits": (len(run.steps) + len(bases)) * len(x),
        "analysis_s": seconds,
        "setup_s": t0 - t_start,
        "max_relative_gap": summary.max_relative_gap,
        "rss_before_analysis_mib": rss_before / MIB,
        "rss_after_analysis_mib": rss_after / MIB,
        "peak_rss_mib": peak_rss_bytes() / MIB,
        "rss_per_group_mib": per_group,
        "rss_growth_first_to_last_group_mib": rss[-1] - rss[0],
        "estimate_mib": {key: val / MIB for key, val in estimate.items()},
    }
    results["rows"] = rows(results)
    write_json(a.out / "bench_load.json", results)
    print(
        f"{results['checkpoints']} checkpoints x {results['samples']} samples, n={a.n}: "
        f"{seconds:.0f} s; RSS {rss_before / MIB:.0f} MiB before, {rss[0]:.0f} after group 1, "
        f"{rss[-1]:.0f} after the last group, peak {results['peak_rss_mib']:.0f} MiB; estimate "
        f"{estimate['total'] / MIB:.0f} MiB",
        flush=True,
    )


def rows(results) -> list[dict]:
    growth = results["rss_growth_first_to_last_group_mib"]
    return [
        result_row(
            "analysis load (resumable pipeline, bounded memory)",
            f"{results['checkpoints']} checkpoints x {results['samples']} samples, "
            f"n={results['n']}, {results['fits']} fits",
            results["analysis_s"],
            quality=(
                f"RSS grew {growth:+.0f} MiB from the first to the last of "
                f"{len(results['rss_per_group_mib'])} groups; peak "
                f"{results['peak_rss_mib']:.0f} MiB (process, incl. JAX and training); "
                f"up-front estimate {results['estimate_mib']['total']:.0f} MiB"
            ),
            note=f"first call with compilation; every fit certified within "
            f"{results['max_relative_gap']:.0e}",
        )
    ]


if __name__ == "__main__":
    main()
