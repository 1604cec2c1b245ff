"""The masked sweep on 1, 2 and 4 fake CPU devices: sharding exercised, values identical.

What: ``ij.evaluate(model, x, players)`` for the small MLP (``interjax.data.MLP(30, 2,
hidden=(64, 64), rngs=nnx.Rngs(0))``, float32, untrained) on a breast-cancer test input, players
``ij.Players.features(n, num_features=30)``, n = 16 and 18 (quick: 14 and 16), log-odds of the
true class, zero baseline, JAX x64 on. With more than one device ``evaluate`` shards the mask
axis over a ``jax.sharding.Mesh`` of all devices (``mesh="auto"``, ``shard_map`` over the chunks;
see ``interjax/evaluate/_sweep.py``).

How: JAX fixes its device count when it starts, so each device count K runs in a subprocess
(this script with the hidden ``--child --devices K``) whose environment has
``XLA_FLAGS=--xla_force_host_platform_device_count=K`` (appended to any XLA_FLAGS already set)
and ``JAX_PLATFORMS=cpu``. The child checks it sees K devices, times the first call and the
steady state (median of ``--repeats`` calls, each ending in ``block_until_ready``), records the
sharding of the result, and saves the values to an ``.npy`` file in a temporary folder; the
parent checks that the values of every K are bitwise identical to the 1-device values
(``np.array_equal``). With ``--rounds`` > 1 the children run again in rotating order and the
steady time is the median of the rounds' medians.

What the numbers mean: fake CPU devices are partitions of the XLA host platform, all running on
the same CPU cores (2 on the dev container). More of them cannot add compute, so no speed-up is
expected; a ratio t_1 / t_K near or below 1 is the expected outcome, not a defect. Where
``2**n / K`` is below ``evaluate``'s default chunk, the chunk shrinks with K (recorded per row),
so at such n a difference in time reflects the chunk size and noise, not added compute. The point is
that the sharded code path (Mesh, shard_map, padding the chunks to a multiple of the devices) runs
and gives exactly the 1-device values; on real multi-device hardware the same path splits the
work.

Run::

    python benchmarks/bench_devices.py --quick       # n = 14 16, 3 repeats, 1 round
    python benchmarks/bench_devices.py               # n = 16 18, 5 repeats, 2 rounds

Writes ``bench_devices_cpu[_quick].json`` (machine, settings, every child's repetitions, medians,
the identity check, and ``"rows"`` for the results table) into ``--out`` and prints a table.
"""

from __future__ import annotations

import os

# the benchmark is about fake CPU devices: the parent reports the CPU, never an accelerator
os.environ["JAX_PLATFORMS"] = "cpu"

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists: values in float64

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    machine_info,
    median,
    result_row,
    time_interleaved,
    write_json,
)

import interjax as ij  # noqa: E402

NUM_FEATURES = 30
CHILD_PREFIX = "BENCH_DEVICES_CHILD "
BENCHMARK = "several devices (fake CPU)"
HONESTY_NOTE = (
    "fake CPU devices (XLA host-platform partitions via "
    "--xla_force_host_platform_device_count) share the same CPU cores, so no speed-up is "
    "expected; this run shows that the sharded path runs and gives identical values"
)


# ----------------------------------------------------------------------------------------------
# child: one device count in this process
# ----------------------------------------------------------------------------------------------
def child(k: int, ns: list[int], repeats: int, sample: int, out_dir: Path, tag: str) -> dict:
    from flax import nnx

    from interjax import data
    from interjax.evaluate import default_chunk_size

    devices = jax.devices()
    if len(devices) != k:
        raise RuntimeError(
            f"expected {k} devices, JAX sees {len(devices)}: {devices} "
            f"(XLA_FLAGS={os.environ.get('XLA_FLAGS')!r})"
        )
    ds = data.breast_cancer()
    x = jnp.asarray(ds.x_test[sample])
    y = int(ds.y_test[sample])
    model = ij.from_nnx(
        data.MLP(NUM_FEATURES, 2, hidden=(64, 64), rngs=nnx.Rngs(0)),
        output=ij.log_odds(target=y),
    )
    out: dict[str, Any] = {
        "devices": k,
        "jax_devices": [str(d) for d in devices],
        "backend": jax.default_backend(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "per_n": [],
    }
    for n in ns:
        players = ij.Players.features(n, num_features=NUM_FEATURES)
        res = time_interleaved({"evaluate": lambda p=players: ij.evaluate(model, x, p)}, repeats)
        v = ij.evaluate(model, x, players)
        sharding = v.sharding
        path = out_dir / f"values_{tag}_k{k}_n{n}.npy"
        np.save(path, np.asarray(v))
        out["per_n"].append(
            {
                "n": n,
                "num_masks": 2**n,
                "chunk_size": min(default_chunk_size(n, (NUM_FEATURES,), num_devices=k), 2**n),
                "timings": res["evaluate"],
                "result_sharding": str(sharding),
                "result_devices": len(sharding.device_set),
                "values_file": str(path),
            }
        )
    return out


# ----------------------------------------------------------------------------------------------
# parent
# ----------------------------------------------------------------------------------------------
def child_env(k: int) -> dict:
    env = os.environ.copy()
    flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", env.get("XLA_FLAGS", ""))
    env["XLA_FLAGS"] = " ".join([*flags.split(), f"--xla_force_host_platform_device_count={k}"])
    env["JAX_PLATFORMS"] = "cpu"
    return env


def run_child(k: int, args, out_dir: Path, tag: str) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--devices",
        str(k),
        "--ns",
        *map(str, args.ns),
        "--repeats",
        str(args.repeats),
        "--sample",
        str(args.sample),
        "--child-dir",
        str(out_dir),
        "--child-tag",
        tag,
    ]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=args.child_timeout,
            env=child_env(k),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"devices": k, "error": f"timed out after {args.child_timeout} s"}
    wall = time.perf_counter() - t0
    for line in reversed(r.stdout.splitlines()):
        if line.startswith(CHILD_PREFIX):
            res = json.loads(line[len(CHILD_PREFIX) :])
            res["subprocess_wall_s"] = wall
            return res
    return {
        "devices": k,
        "error": f"child exited with {r.returncode} and no result",
        "stderr_tail": r.stderr[-3000:],
    }


def compare(runs: list[dict], ks: list[int], ns: list[int]) -> dict:
    """Per (K, n): whether every round's values equal the first 1-device values bitwise."""
    ref_k = 1 if 1 in ks else ks[0]
    out: dict[str, Any] = {"reference_devices": ref_k, "per": {}}
    for n in ns:
        refs = [
            p["values_file"]
            for r in runs
            if r.get("devices") == ref_k and "error" not in r
            for p in r["per_n"]
            if p["n"] == n
        ]
        ref = np.load(refs[0]) if refs else None
        for k in ks:
            files = [
                p["values_file"]
                for r in runs
                if r.get("devices") == k and "error" not in r
                for p in r["per_n"]
                if p["n"] == n
            ]
            key = f"n={n}, {k} devices"
            if ref is None or not files:
                out["per"][key] = {"identical": None, "why": "missing run"}
                continue
            vals = [np.load(f) for f in files]
            same = [bool(np.array_equal(v, ref)) for v in vals]
            diff = max(float(np.max(np.abs(v - ref))) for v in vals)
            out["per"][key] = {
                "identical": all(same),
                "identical_per_round": same,
                "max_abs_diff": diff,
                "dtype": str(vals[0].dtype),
                "length": int(vals[0].size),
            }
    return out


def summarize(runs: list[dict], ks: list[int], ns: list[int], comparison: dict) -> list[dict]:
    out = []
    for n in ns:
        for k in ks:
            per = [
                p for r in runs if r.get("devices") == k and "error" not in r for p in r["per_n"]
            ]
            per = [p for p in per if p["n"] == n]
            cmp = comparison["per"].get(f"n={n}, {k} devices", {})
            if not per:
                out.append({"n": n, "devices": k, "error": "no successful run"})
                continue
            out.append(
                {
                    "n": n,
                    "devices": k,
                    "steady_s": median([p["timings"]["median_s"] for p in per]),
                    "steady_s_per_round": [p["timings"]["median_s"] for p in per],
                    "compile_s": median([p["timings"]["compile_s"] for p in per]),
                    "chunk_size": per[0]["chunk_size"],
                    "result_devices": per[0]["result_devices"],
                    "result_sharding": per[0]["result_sharding"],
                    "identical": cmp.get("identical"),
                    "max_abs_diff": cmp.get("max_abs_diff"),
                }
            )
    ref = {s["n"]: s.get("steady_s") for s in out if s["devices"] == 1}
    for s in out:
        t1 = ref.get(s["n"])
        s["speedup_vs_1"] = t1 / s["steady_s"] if t1 and s.get("steady_s") else None
    return out


def _quality(s: dict) -> str:
    if s.get("identical") is True:
        return "values identical to 1 device (bitwise)"
    if s.get("identical") is False:
        return f"values DIFFER from 1 device (max |diff| {s['max_abs_diff']:.2e})"
    return "values not compared (a run is missing)"


def make_rows(summary: list[dict]) -> list[dict]:
    rows = []
    for s in summary:
        case = f"n={s['n']}, {s['devices']} devices"
        if "error" in s:
            rows.append(result_row(BENCHMARK, case, None, note=s["error"]))
            continue
        note = (
            f"ij.evaluate, MLP 30-64-64-2, mask axis sharded over {s['result_devices']} "
            f"device(s), chunk {s['chunk_size']} masks; compile {s['compile_s']:.2f} s; "
            f"{HONESTY_NOTE}"
        )
        if s["devices"] == 1:
            rows.append(
                result_row(
                    BENCHMARK,
                    case,
                    s["steady_s"],
                    quality="reference",
                    note=f"one device, no mesh, chunk {s['chunk_size']} masks; compile "
                    f"{s['compile_s']:.2f} s; {HONESTY_NOTE}",
                )
            )
            continue
        t1 = next(
            (
                o["steady_s"]
                for o in summary
                if o["n"] == s["n"] and o["devices"] == 1 and "error" not in o
            ),
            None,
        )
        rows.append(
            result_row(
                BENCHMARK,
                case,
                s["steady_s"],
                peer="1 device" if t1 is not None else None,
                peer_s=t1,
                quality=_quality(s),
                note=note,
            )
        )
    return rows


def table(summary: list[dict]) -> str:
    lines = [
        "| n | devices | steady s | compile s | t_1 / t_K | chunk | result sharded over | "
        "values vs 1 device |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in summary:
        if "error" in s:
            lines.append(f"| {s['n']} | {s['devices']} | error: {s['error']} |")
            continue
        sp = "–" if s["speedup_vs_1"] is None else f"{s['speedup_vs_1']:.2f}"
        ident = (
            "reference"
            if s["devices"] == 1
            else {True: "identical", False: f"differ ({s['max_abs_diff']:.1e})"}.get(
                s["identical"], "–"
            )
        )
        lines.append(
            f"| {s['n']} | {s['devices']} | {s['steady_s']:.4g} | {s['compile_s']:.3g} | {sp} | "
            f"{s['chunk_size']} | {s['result_devices']} | {ident} |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="n = 14 16, 3 repeats, 1 round")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="output folder")
    p.add_argument("--ns", type=int, nargs="+", default=None, help="n (default 16 18)")
    p.add_argument(
        "--devices",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="fake CPU device counts (default 1 2 4; 1 is the reference)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="steady calls per child (default 5; quick 3)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="times every device count is run, in rotating order (default 2; quick 1)",
    )
    p.add_argument("--sample", type=int, default=0, help="breast-cancer test sample")
    p.add_argument(
        "--child-timeout", type=float, default=1200.0, help="seconds allowed per subprocess"
    )
    p.add_argument(
        "--device-name", default=None, help="free text naming the machine, recorded in the JSON"
    )
    # internal: one device count in this process (its XLA_FLAGS set by the parent)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-dir", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-tag", default="r0", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.ns = a.ns or ([14, 16] if a.quick else [16, 18])
    a.repeats = a.repeats or (3 if a.quick else 5)
    a.rounds = a.rounds or (1 if a.quick else 2)
    return a


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        res = child(
            args.devices[0], args.ns, args.repeats, args.sample, args.child_dir, args.child_tag
        )
        print(CHILD_PREFIX + json.dumps(res), flush=True)
        return res

    ks = sorted(set(args.devices))
    settings = {
        "mode": "quick" if args.quick else "full",
        "ns": args.ns,
        "devices": ks,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "sample": args.sample,
        "model": "interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0)), float32, untrained",
        "call": "ij.evaluate(model, x, players) (mesh='auto': Mesh of all devices when > 1)",
        "players": "ij.Players.features(n, num_features=30)",
        "value": "ij.log_odds(target=y), y = the sample's true class",
        "baseline": "zeros",
        "child_env": "XLA_FLAGS += --xla_force_host_platform_device_count=K, JAX_PLATFORMS=cpu",
        "x64": bool(jax.config.jax_enable_x64),
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    result: dict[str, Any] = {
        "machine": machine_info(args.device_name),
        "settings": settings,
        "note": (
            f"{HONESTY_NOTE}. On this machine os.cpu_count() = {os.cpu_count()}: K fake devices "
            "split the same cores K ways and add shard_map overhead. Where 2**n / K is below "
            "evaluate's default chunk (2**14 masks of 30 features on CPU), the chunk shrinks to "
            "2**n / K, so at such n a time difference between K reflects the chunk size (cache "
            "fit) and noise, not extra compute; see chunk_size per row. "
            "steady = median over rounds of each child's median of --repeats calls; "
            "compile = first call - steady, in a fresh process per device count."
        ),
    }
    t_start = time.perf_counter()
    runs = []
    stem = f"bench_devices_cpu{'_quick' if args.quick else ''}"
    with tempfile.TemporaryDirectory(prefix="bench_devices_") as tmp:
        for rnd in range(args.rounds):
            order = ks[rnd % len(ks) :] + ks[: rnd % len(ks)]
            for k in order:
                print(f"[devices] round {rnd + 1}/{args.rounds}: {k} device(s)", flush=True)
                r = run_child(k, args, Path(tmp), f"r{rnd}")
                r["round"] = rnd
                if "error" in r:
                    print(f"  error: {r['error']}\n{r.get('stderr_tail', '')}", flush=True)
                else:
                    print(
                        "  "
                        + "; ".join(
                            f"n={p['n']}: steady {p['timings']['median_s']:.4g} s, "
                            f"compile {p['timings']['compile_s']:.3g} s"
                            for p in r["per_n"]
                        ),
                        flush=True,
                    )
                runs.append(r)
        comparison = compare(runs, ks, args.ns)
    for r in runs:  # the temporary files are gone
        for p in r.get("per_n", []):
            p.pop("values_file", None)
    result["runs"] = runs
    result["comparison"] = comparison
    summary = summarize(runs, ks, args.ns, comparison)
    result["summary"] = summary
    result["medians"] = {
        f"n={s['n']}, {s['devices']} devices": {
            "steady_s": s.get("steady_s"),
            "compile_s": s.get("compile_s"),
        }
        for s in summary
    }
    result["all_identical"] = all(
        v["identical"] is True for v in comparison["per"].values() if v["identical"] is not None
    ) and all(v["identical"] is not None for v in comparison["per"].values())
    result["rows"] = make_rows(summary)
    result["machine"]["load_average_at_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["total_wall_s"] = time.perf_counter() - t_start
    write_json(args.out / f"{stem}.json", result)

    print()
    print(
        f"Fake CPU devices on {os.cpu_count()} CPU cores: {HONESTY_NOTE}. Times in seconds; "
        "t_1 / t_K > 1 would mean faster than one device."
    )
    print(table(summary))
    print(
        f"\nall values bitwise identical to 1 device: {result['all_identical']}\n"
        f"wrote {args.out / stem}.json (total {result['total_wall_s']:.0f} s)"
    )
    return result


if __name__ == "__main__":
    main()
