"""The whole benchmark suite, one script after another, then the results table.

    python benchmarks/suite.py [--quick | --gpu] [--out DIR] [--only NAME ...] [--device-name TEXT]
    interjax bench [--quick] [--out DIR] ...            (the same, from a source checkout)

Each benchmark runs in its own process (so one's compilation caches and memory do not colour the
next one's numbers, and a crash stops only that step) and writes its JSON into ``--out``
(default ``benchmarks/results``; with ``--quick``, ``benchmarks/results/quick``; with
``--gpu``, ``benchmarks/results/gpu``). The suite
writes ``suite.json`` there (each step's command, exit status and duration) and regenerates the
table: ``benchmarks/RESULTS.md`` for the default folder, ``DIR/RESULTS.md`` otherwise.

``--quick`` runs every benchmark on reduced settings in under 10 minutes on a 2-core CPU; the
full suite takes much longer (about an hour on that CPU, mostly the shapiq, HiGHS and SGD
peers). The steps and their settings are listed in ``STEPS``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: (script, quick arguments, full arguments)
STEPS: dict[str, tuple[str, list[str], list[str]]] = {
    "engine": (
        "bench_engine.py",
        ["--quick"],
        [
            "--ns",
            "12",
            "14",
            "16",
            "18",
            "20",
            "22",
            "--shapiq-ns",
            "8",
            "10",
            "12",
            "14",
            "16",
            "18",
        ],
    ),
    "shap": ("bench_shap.py", ["--quick"], []),
    "dense": ("bench_dense.py", ["--quick"], []),
    "solver": ("bench_solver.py", ["--quick"], []),
    "solver_pool": ("bench_solver_pool.py", ["--batch", "16", "--repeats", "1"], []),
    "scaling": ("bench_scaling.py", ["--quick"], []),
    "devices": ("bench_devices.py", ["--quick"], []),
    "analysis": ("bench_analysis.py", ["--checkpoints", "10", "--samples", "16"], []),
    "numerics": ("bench_numerics.py", ["--quick"], []),
    "load": ("bench_load.py", ["--checkpoints", "20", "--samples", "16"], []),
    # a researcher's own NNX CNN run (BatchNorm, Dropout) analysed stage by stage and by
    # `interjax analyze`; --quick: 2 + 2 samples, shorter training, about 2 min on 2 CPU cores
    "user_run": ("bench_user_run.py", ["--quick"], []),
}

# on an accelerator (benchmarks/gpu.sh): larger n where the GPU makes it cheap; fake CPU devices
# mean nothing there, so that step is left out
GPU: dict[str, list[str]] = {
    "engine": ["--ns", "12", "16", "20", "22", "24", "--chunk-n", "24", "--full-n", "24"],
    "shap": ["--quick"],
    "dense": [],
    "solver": [],
    "solver_pool": [],
    "scaling": ["--mlp-ns", "8", "10", "12", "14", "16", "18", "20", "22", "24"],
    "analysis": [],
}


def run_suite(
    quick: bool = False,
    out: Path | None = None,
    only: list[str] | None = None,
    device_name: str | None = None,
    extra: dict[str, list[str]] | None = None,
    timeout_s: float | None = None,
    gpu: bool = False,
) -> Path:
    """Run the selected steps in order; returns the path of the regenerated table."""
    if gpu and quick:
        raise ValueError("--gpu and --quick are separate presets; choose one")
    default_out = HERE / "results" / ("quick" if quick else "gpu" if gpu else "")
    out = Path(out or default_out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    names = only or (list(GPU) if gpu else list(STEPS))
    unknown = sorted(set(names) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {sorted(STEPS)}")
    record = {"quick": quick, "gpu": gpu, "out": str(out), "steps": []}
    for name in names:
        script, quick_args, full_args = STEPS[name]
        preset = quick_args if quick else GPU.get(name, full_args) if gpu else full_args
        cmd = [sys.executable, str(HERE / script), *preset]
        cmd += ["--out", str(out)]
        if device_name:
            cmd += ["--device-name", device_name]
        cmd += (extra or {}).get(name, [])
        print(f"\n== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        try:
            status = subprocess.run(cmd, timeout=timeout_s, env=os.environ.copy()).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        seconds = time.perf_counter() - t0
        record["steps"].append({"name": name, "command": cmd, "status": status, "seconds": seconds})
        print(f"== {name}: {'ok' if status == 0 else f'FAILED ({status})'} in {seconds:.0f} s")
        tmp = out / "suite.json.tmp"
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(out / "suite.json")

    sys.path.insert(0, str(HERE))
    import results_table

    table = HERE / "RESULTS.md" if out == (HERE / "results").absolute() else out / "RESULTS.md"
    results_table.main(["--results", str(out), "--out", str(table)])
    failed = [s["name"] for s in record["steps"] if s["status"] != 0]
    if failed:
        print(f"failed steps: {failed} (see {out / 'suite.json'})", file=sys.stderr)
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced settings, < 10 min on 2 cores")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON files")
    p.add_argument("--only", nargs="+", default=None, choices=sorted(STEPS))
    p.add_argument("--device-name", default=None, help="free text naming the machine")
    p.add_argument("--gpu", action="store_true", help="the accelerator preset (gpu.sh)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per step")
    a = p.parse_args(argv)
    run_suite(a.quick, a.out, a.only, a.device_name, timeout_s=a.timeout, gpu=a.gpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
