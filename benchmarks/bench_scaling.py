"""Scaling with the number of players n: time and peak memory of the exact pipeline.

What: ``evaluate + and_interactions + or_interactions + shapley_values`` on one sample, for

* a small MLP (``interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0))``, float32,
  untrained) on a breast-cancer test input, players ``ij.Players.features(n, num_features=30)``
  (features 0..n-1, the rest kept), n = 8, 10, ..., 22;
* a small CNN (``interjax.data.SmallCNN(rngs=nnx.Rngs(0))``, untrained) on a digits test image,
  players = 2x2 patches of the 8x8 image (``ij.Players.patches((8, 8), 2)``, all 16 patches at
  n = 16; for n < 16 the n patches nearest the centre via ``select=``, the rest of the image
  kept), n = 8, 12, 16;

and, apart, the sparse AND-OR split ``ij.fit_and_or(v)`` (optimal solver, default tol 1e-3) of the
same values for n <= ``--fit-max-n``. Value: log-odds of the true class; baseline: zeros; JAX x64
on (values and transforms in float64, the models in float32).

How: every (model, n) runs in a fresh subprocess (this script with the hidden ``--child`` flag;
it prints one JSON line), so that its compile time is a cold compile and its peak memory is its
own: the process's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, read
after the pipeline and again after the fit) and XLA's own ``memory_analysis()`` of the compiled
sweep and of the compiled pipeline (buffers XLA allocates: arguments, outputs, temporaries). A
child that only imports interjax and builds the model and input gives the *floor* (JAX runtime,
libraries, data), so the memory above the floor is visible. Peak RSS includes XLA's compiler
(at small n that is most of what lies above the floor). Times: compile = first call - steady,
steady = median of ``--repeats`` further calls, each ending in ``block_until_ready``.

Run::

    python benchmarks/bench_scaling.py --quick       # MLP n = 8 12 16 18, CNN n = 8 12
    python benchmarks/bench_scaling.py               # MLP n = 8..22, CNN n = 8 12 16
    python benchmarks/bench_scaling.py --mlp-ns 8 12 --cnn-ns 8 --fit-max-n 10   # smoke

Writes ``bench_scaling_<backend>[_quick].json`` (machine, settings, every repetition, medians,
memory, and ``"rows"`` for the results table) and ``scaling_<backend>[_quick].png`` (left: steady
and compile time against n; right: peak RSS against n) into ``--out``, and prints a table.
"""

from __future__ import annotations

import os

# one process's preallocation of accelerator memory must not starve the next child's
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists: transforms in float64

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import jax.numpy as jnp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    machine_info,
    result_row,
    time_interleaved,
    write_json,
)

import interjax as ij  # noqa: E402

NUM_FEATURES = 30
# 2x2 patches of the 8x8 digit image (4x4 grid, row-major ids), nearest the centre first:
# the 4 central patches, then the 8 edge-middle ones, then the 4 corners (n = 12 gives the
# 12 patches of interjax.data.digit_patch_players)
CNN_PATCH_ORDER = [5, 6, 9, 10, 1, 2, 4, 7, 8, 11, 13, 14, 0, 3, 12, 15]
CHILD_PREFIX = "BENCH_SCALING_CHILD "
MODELS = {"mlp": "MLP", "cnn": "CNN"}


# ----------------------------------------------------------------------------------------------
# child: one (model, n) in this process
# ----------------------------------------------------------------------------------------------
def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes on macOS
        kib /= 1024
    return kib / 1024


def setup(kind: str, n: int, sample: int):
    """Model (with the true class as target), input and players; ``n = 0``: no players."""
    from flax import nnx

    from interjax import data

    if kind == "mlp":
        ds = data.breast_cancer()
        net = data.MLP(NUM_FEATURES, 2, hidden=(64, 64), rngs=nnx.Rngs(0))
    elif kind == "cnn":
        ds = data.digits()
        net = data.SmallCNN(rngs=nnx.Rngs(0))
    else:
        raise ValueError(f"unknown model {kind!r}")
    x = jnp.asarray(ds.x_test[sample])
    y = int(ds.y_test[sample])
    model = ij.from_nnx(net, output=ij.log_odds(target=y))
    players = None
    if n and kind == "mlp":
        players = ij.Players.features(n, num_features=NUM_FEATURES)
    elif n:
        if not 1 <= n <= 16:
            raise ValueError(f"the CNN has 16 patches of 2x2; n={n} is out of range")
        select = None if n == 16 else sorted(CNN_PATCH_ORDER[:n])
        players = ij.Players.patches((8, 8), 2, select=select)
    jax.block_until_ready((x, model.params))
    return model, x, players


def pipeline(model, x, players):
    v = ij.evaluate(model, x, players)
    return v, ij.and_interactions(v), ij.or_interactions(v), ij.shapley_values(v)


_MEMORY_FIELDS = (
    "argument_size_in_bytes",
    "output_size_in_bytes",
    "alias_size_in_bytes",
    "temp_size_in_bytes",
    "generated_code_size_in_bytes",
    "host_temp_size_in_bytes",
    "peak_memory_in_bytes",
)


def xla_memory(fn, model, x) -> dict:
    """XLA's ``memory_analysis()`` of ``jax.jit(fn)(model, x)``: bytes of its buffers.

    ``buffers_bytes = argument + output + temp - alias`` is what XLA allocates for one call
    (model parameters and input as arguments). ``peak_memory_in_bytes`` is recorded as XLA
    reports it; on CPU it can be far below ``temp_size_in_bytes``, so it is not used.
    """
    try:
        stats = jax.jit(fn).lower(model, x).compile().memory_analysis()
    except Exception as err:  # not every backend / version implements it
        return {"available": False, "error": f"{type(err).__name__}: {err}"}
    if stats is None:
        return {"available": False, "error": "memory_analysis() returned None"}
    out: dict[str, Any] = {"available": True}
    for f in _MEMORY_FIELDS:
        val = getattr(stats, f, None)
        out[f] = int(val) if val is not None else None
    out["buffers_bytes"] = (
        (out["argument_size_in_bytes"] or 0)
        + (out["output_size_in_bytes"] or 0)
        + (out["temp_size_in_bytes"] or 0)
        - (out["alias_size_in_bytes"] or 0)
    )
    return out


def _device_peak_bytes() -> int | None:
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:
        return None
    v = stats.get("peak_bytes_in_use")
    return int(v) if v is not None else None


def child(kind: str, n: int, sample: int, repeats: int, fit: bool, fit_repeats: int) -> dict:
    rss_import = _peak_rss_mib()  # jax, interjax and this script imported
    t0 = time.perf_counter()
    model, x, players = setup(kind, n, sample)
    out: dict[str, Any] = {
        "model": kind,
        "n": n,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "peak_rss_mib_after_import": rss_import,
        "setup_s": time.perf_counter() - t0,
        "peak_rss_mib_after_setup": _peak_rss_mib(),
    }
    if not n:  # the floor: imports, data, model, input; nothing compiled for the sweep
        out["peak_rss_mib"] = out["peak_rss_mib_after_setup"]
        return out
    from interjax.evaluate import default_chunk_size

    out.update(
        num_masks=2**n,
        input_shape=list(x.shape),
        chunk_size=min(default_chunk_size(n, tuple(x.shape)), 2**n),
        values_bytes=2**n * 8,
    )
    res = time_interleaved({"pipeline": lambda: pipeline(model, x, players)}, repeats)
    out["pipeline"] = res["pipeline"]
    out["peak_rss_mib"] = _peak_rss_mib()  # peak of setup + compile + all pipeline calls
    out["device_peak_bytes_after_pipeline"] = _device_peak_bytes()
    # XLA's view of the same programs (compiled again here, after the RSS reading)
    out["xla_memory_sweep"] = xla_memory(
        lambda m, x: ij.evaluate(m, x, players, check_finite=False), model, x
    )
    out["xla_memory_pipeline"] = xla_memory(lambda m, x: pipeline(m, x, players), model, x)
    if fit:
        v = pipeline(model, x, players)[0]
        fres = time_interleaved({"fit_and_or": lambda: ij.fit_and_or(v)}, fit_repeats)
        r = ij.fit_and_or(v)
        out["fit_and_or"] = {
            **fres["fit_and_or"],
            "settings": "solver=ij.PDHG(), q_ratio=0.02, tol=1e-3, max_iters=50000 (defaults)",
            "converged": bool(r.converged),
            "relative_gap": float(r.relative_gap),
            "iterations": int(r.iterations),
            "objective": float(r.objective),
        }
        out["peak_rss_mib_after_fit"] = _peak_rss_mib()
    out["child_wall_s"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------------------------
# parent: one child per (model, n)
# ----------------------------------------------------------------------------------------------
def run_child(kind: str, n: int, args, fit: bool) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--child-n",
        str(n),
        "--repeats",
        str(args.repeats),
        "--fit-repeats",
        str(args.fit_repeats),
        "--sample",
        str(args.sample),
    ]
    if fit:
        cmd.append("--child-fit")
    t0 = time.perf_counter()
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.child_timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"model": kind, "n": n, "error": f"timed out after {args.child_timeout} s"}
    wall = time.perf_counter() - t0
    for line in reversed(r.stdout.splitlines()):
        if line.startswith(CHILD_PREFIX):
            res = json.loads(line[len(CHILD_PREFIX) :])
            res["subprocess_wall_s"] = wall
            return res
    return {
        "model": kind,
        "n": n,
        "error": f"child exited with {r.returncode} and no result",
        "stderr_tail": r.stderr[-3000:],
    }


def _mib(b: int | None) -> float | None:
    return None if b is None else b / 2**20


def _f(t: float | None, digits: int = 3) -> str:
    if t is None:
        return "–"
    if t >= 100:
        return f"{t:.0f}"
    return f"{t:.{digits}g}"


def summarize(runs: list[dict], floors: dict[str, dict]) -> list[dict]:
    """One flat record per (model, n) with the numbers of the table, the rows and the plot."""
    out = []
    for r in runs:
        if "error" in r:
            out.append({"model": r["model"], "n": r["n"], "error": r["error"]})
            continue
        floor = floors.get(r["model"], {}).get("peak_rss_mib")
        fit = r.get("fit_and_or")
        xs = r["xla_memory_sweep"]
        xp = r["xla_memory_pipeline"]
        out.append(
            {
                "model": r["model"],
                "n": r["n"],
                "num_masks": r["num_masks"],
                "chunk_size": r["chunk_size"],
                "steady_s": r["pipeline"]["median_s"],
                "compile_s": r["pipeline"]["compile_s"],
                "fit_steady_s": fit["median_s"] if fit else None,
                "fit_compile_s": fit["compile_s"] if fit else None,
                "fit_converged": fit["converged"] if fit else None,
                "fit_relative_gap": fit["relative_gap"] if fit else None,
                "fit_iterations": fit["iterations"] if fit else None,
                "peak_rss_mib": r["peak_rss_mib"],
                "floor_rss_mib": floor,
                "above_floor_mib": None if floor is None else r["peak_rss_mib"] - floor,
                "xla_sweep_buffers_mib": _mib(xs.get("buffers_bytes")),
                "xla_pipeline_buffers_mib": _mib(xp.get("buffers_bytes")),
                "device_peak_mib": _mib(r.get("device_peak_bytes_after_pipeline")),
            }
        )
    return out


def table(summary: list[dict]) -> str:
    lines = [
        "| model | n | masks | steady s | compile s | fit_and_or s | fit gap | peak RSS MiB "
        "| above floor | XLA sweep MiB | XLA pipeline MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        name = MODELS[s["model"]]
        if "error" in s:
            lines.append(f"| {name} | {s['n']} | {2 ** s['n']} | error: {s['error']} |")
            continue
        gap = "–" if s["fit_relative_gap"] is None else f"{s['fit_relative_gap']:.1e}"
        lines.append(
            f"| {name} | {s['n']} | {s['num_masks']} | {_f(s['steady_s'])} | "
            f"{_f(s['compile_s'])} | {_f(s['fit_steady_s'])} | {gap} | "
            f"{_f(s['peak_rss_mib'], 4)} | {_f(s['above_floor_mib'], 3)} | "
            f"{_f(s['xla_sweep_buffers_mib'])} | {_f(s['xla_pipeline_buffers_mib'])} |"
        )
    return "\n".join(lines)


def make_rows(summary: list[dict], fit_tol: str) -> list[dict]:
    rows = []
    for s in summary:
        name = MODELS[s["model"]]
        if "error" in s:
            rows.append(result_row("scaling", f"{name} n={s['n']}", None, note=s["error"]))
            continue
        xla = s["xla_pipeline_buffers_mib"]
        note = (
            f"evaluate + AND + OR + Shapley, one sample; compile {s['compile_s']:.2f} s; "
            f"peak RSS {s['peak_rss_mib']:.0f} MiB"
        )
        if s["above_floor_mib"] is not None:
            note += f" ({s['above_floor_mib']:.0f} above the {s['floor_rss_mib']:.0f} MiB floor)"
        if xla is not None:
            note += f"; XLA buffers of the compiled pipeline {xla:.2f} MiB"
        rows.append(result_row("scaling", f"{name} n={s['n']}", s["steady_s"], note=note))
        if s["fit_steady_s"] is not None:
            conv = "converged" if s["fit_converged"] else "NOT converged"
            rows.append(
                result_row(
                    "scaling",
                    f"{name} n={s['n']}, fit_and_or",
                    s["fit_steady_s"],
                    quality=f"{conv}, certified relative gap {s['fit_relative_gap']:.1e}, "
                    f"{s['fit_iterations']} iterations",
                    note=f"optimal solver, {fit_tol}; compile {s['fit_compile_s']:.1f} s",
                )
            )
    return rows


def plot(summary: list[dict], floors: dict[str, dict], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as err:  # plotting is optional
        print(f"(no plot: {type(err).__name__}: {err})")
        return None
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"mlp": "tab:blue", "cnn": "tab:orange"}
    for kind, label in MODELS.items():
        pts = [s for s in summary if s["model"] == kind and "error" not in s]
        if not pts:
            continue
        c = colors[kind]
        ns = [s["n"] for s in pts]
        ax_t.plot(ns, [s["steady_s"] for s in pts], "o-", color=c, label=f"{label} steady")
        ax_t.plot(ns, [s["compile_s"] for s in pts], "s--", color=c, label=f"{label} compile")
        fit = [s for s in pts if s["fit_steady_s"] is not None]
        if fit:
            ax_t.plot(
                [s["n"] for s in fit],
                [s["fit_steady_s"] for s in fit],
                "^:",
                color=c,
                label=f"{label} fit_and_or",
            )
        ax_m.plot(ns, [s["peak_rss_mib"] for s in pts], "o-", color=c, label=f"{label} peak RSS")
        floor = floors.get(kind, {}).get("peak_rss_mib")
        if floor is not None:
            ax_m.axhline(floor, color=c, ls="-.", lw=1, label=f"{label} floor (import + model)")
        xla = [s for s in pts if s["xla_pipeline_buffers_mib"] is not None]
        if xla:
            ax_m.plot(
                [s["n"] for s in xla],
                [s["xla_pipeline_buffers_mib"] for s in xla],
                "s--",
                color=c,
                label=f"{label} XLA buffers of one call",
            )
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_t, ax_m):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_t.set_yscale("log")
    ax_t.set_xlabel("players n (2^n masked inputs)")
    ax_t.set_ylabel("seconds")
    ax_t.set_title("evaluate + AND + OR + Shapley, one sample")
    ax_t.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    ax_m.set_ylim(bottom=0)
    ax_m.set_xlabel("players n")
    ax_m.set_ylabel("MiB")
    ax_m.set_title("peak memory (fresh process per point)")
    ax_m.grid(True, which="both", alpha=0.3)
    ax_m.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="MLP n = 8 12 16 18, CNN n = 8 12, fit up to n = 12, fewer repeats",
    )
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="output folder")
    p.add_argument("--mlp-ns", type=int, nargs="+", default=None, help="n of the MLP")
    p.add_argument("--cnn-ns", type=int, nargs="+", default=None, help="n of the CNN (<= 16)")
    p.add_argument(
        "--fit-max-n",
        type=int,
        default=None,
        help="time fit_and_or for n up to this (default 14; quick 12; 0: never)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="steady repetitions of the pipeline (default 5; quick 3)",
    )
    p.add_argument(
        "--fit-repeats",
        type=int,
        default=None,
        help="steady repetitions of fit_and_or (default 3; quick 1)",
    )
    p.add_argument("--sample", type=int, default=0, help="test sample to explain")
    p.add_argument(
        "--child-timeout", type=float, default=1800.0, help="seconds allowed per subprocess"
    )
    p.add_argument(
        "--device-name", default=None, help="free text naming the machine, recorded in the JSON"
    )
    # internal: run one (model, n) in this process and print one JSON line
    p.add_argument("--child", choices=sorted(MODELS), default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--child-fit", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.repeats = a.repeats or (3 if a.quick else 5)
    a.fit_repeats = a.fit_repeats or (1 if a.quick else 3)
    a.mlp_ns = a.mlp_ns or ([8, 12, 16, 18] if a.quick else list(range(8, 23, 2)))
    a.cnn_ns = a.cnn_ns or ([8, 12] if a.quick else [8, 12, 16])
    if a.fit_max_n is None:
        a.fit_max_n = 12 if a.quick else 14
    return a


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        res = child(
            args.child, args.child_n, args.sample, args.repeats, args.child_fit, args.fit_repeats
        )
        print(CHILD_PREFIX + json.dumps(res), flush=True)
        return res

    backend = jax.default_backend()
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": args.repeats,
        "fit_repeats": args.fit_repeats,
        "mlp_ns": args.mlp_ns,
        "cnn_ns": args.cnn_ns,
        "fit_max_n": args.fit_max_n,
        "sample": args.sample,
        "mlp": "interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0)), float32, untrained;"
        " breast-cancer test input; players ij.Players.features(n, num_features=30)",
        "cnn": "interjax.data.SmallCNN(rngs=nnx.Rngs(0)), untrained; digits test image (8, 8, 1);"
        " players ij.Players.patches((8, 8), 2, select=...): 2x2 patches, all 16 at n = 16, "
        f"else the n nearest the centre in the order {CNN_PATCH_ORDER} (rest of the image kept)",
        "pipeline": "v = ij.evaluate(model, x, players); ij.and_interactions(v), "
        "ij.or_interactions(v), ij.shapley_values(v)",
        "fit": "ij.fit_and_or(v): solver=ij.PDHG(), q_ratio=0.02, tol=1e-3 (defaults)",
        "value": "ij.log_odds(target=y), y = the sample's true class",
        "baseline": "zeros",
        "x64": bool(jax.config.jax_enable_x64),
        "xla_python_client_preallocate": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    result: dict[str, Any] = {
        "machine": machine_info(args.device_name),
        "settings": settings,
        "memory_note": (
            "Each (model, n) ran in a fresh subprocess. peak_rss_mib = ru_maxrss of that process "
            "after the pipeline's first call and repetitions (KiB on Linux, in MiB here): it "
            "includes the Python/JAX runtime, the data, XLA compilation and the run. The floor is "
            "a child that only imports interjax and builds the model and input (every child also "
            "records peak_rss_mib_after_import: jax and interjax imported, nothing built; loading "
            "the data through scikit-learn and building the model's first arrays lie between "
            "the two). XLA buffers = "
            "argument + output + temp - alias bytes from "
            "jax.jit(...).lower(model, x).compile().memory_analysis() of the sweep "
            "(ij.evaluate) and of the whole pipeline: the device buffers of one call, without "
            "the compiler or the runtime. peak_rss_mib_after_fit (where a fit ran) also covers "
            "fit_and_or's compile and iterations."
        ),
    }
    t_start = time.perf_counter()
    floors = {}
    for kind in MODELS:
        if not (args.mlp_ns if kind == "mlp" else args.cnn_ns):
            continue
        print(f"[floor] {MODELS[kind]}: import + model only", flush=True)
        floors[kind] = run_child(kind, 0, args, fit=False)
    result["floors"] = floors
    runs = []
    out_stem = f"bench_scaling_{backend}{'_quick' if args.quick else ''}"
    for kind, ns in (("mlp", args.mlp_ns), ("cnn", args.cnn_ns)):
        for n in ns:
            fit = n <= args.fit_max_n
            print(f"[scaling] {MODELS[kind]} n={n}{' + fit_and_or' if fit else ''}", flush=True)
            r = run_child(kind, n, args, fit)
            if "error" in r:
                print(f"  error: {r['error']}\n{r.get('stderr_tail', '')}", flush=True)
            else:
                p = r["pipeline"]
                print(
                    f"  steady {p['median_s']:.4g} s, compile {p['compile_s']:.3g} s, "
                    f"peak RSS {r['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
            runs.append(r)
            result["runs"] = runs
            write_json(args.out / f"{out_stem}.json", result)  # partial results survive a crash

    summary = summarize(runs, floors)
    result["summary"] = summary
    result["medians"] = {
        f"{MODELS[s['model']]} n={s['n']}": {
            "pipeline_steady_s": s.get("steady_s"),
            "pipeline_compile_s": s.get("compile_s"),
            "fit_and_or_steady_s": s.get("fit_steady_s"),
        }
        for s in summary
    }
    result["rows"] = make_rows(summary, "tol 1e-3")
    result["machine"]["load_average_at_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["total_wall_s"] = time.perf_counter() - t_start
    m = result["machine"]
    title = (
        f"interjax scaling, {m['device_name'] or backend} ({m['jax_device_kind']}, "
        f"{m['cpu_count']} CPUs), jax {m['versions']['jax']}, repeats {args.repeats}"
    )
    png = plot(
        summary, floors, args.out / f"scaling_{backend}{'_quick' if args.quick else ''}.png", title
    )
    result["plot"] = str(png) if png else None
    write_json(args.out / f"{out_stem}.json", result)

    floor_txt = ", ".join(
        f"{MODELS[k]} {v.get('peak_rss_mib', 0):.0f} MiB" for k, v in floors.items()
    )
    print()
    print(f"Floor (import + model, peak RSS): {floor_txt}. Times in seconds.")
    print(table(summary))
    print(
        f"\nwrote {args.out / out_stem}.json"
        + (f" and {png}" if png else "")
        + f" (total {result['total_wall_s']:.0f} s)"
    )
    return result


if __name__ == "__main__":
    main()
