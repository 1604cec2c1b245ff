"""Exact Shapley values: interjax against shap's ``ExactExplainer``, same model, input, baseline.

What: the Shapley values of the first ``n`` features of one breast-cancer test input for a small
Flax NNX MLP (30 → 64 → 64 → 2, float32, untrained, seed 0; the cost does not depend on the
weights), value = log-odds of the target class, removed features set to 0, the other 30 - n
features kept as in the input.

How:

* **interjax**: ``v = ij.evaluate(model, x, ij.Players.features(n, num_features=30))`` (zero
  baseline) then ``ij.shapley_values(v)``, with JAX x64 on (model in float32, transforms in
  float64);
* **shap**: ``shap.ExactExplainer(f, masker)(x[:n])`` where ``f`` maps an ``(m, n)`` array of the
  n players' feature values to the same log-odds by one jitted call of the same model and value
  function (the other features filled in from ``x``; rows padded to a power of two so that a
  handful of shapes are compiled, all of them before timing), and ``masker =
  shap.maskers.Independent(np.zeros((1, n)), max_samples=1)``: a single all-zeros background row,
  so a removed player takes the value 0, the zero baseline. The explainer is built once per n and
  reused, as one would to explain several rows; its first call pays numba's compilation (at the
  first n only: numba's cache is per process) and shap's gray-code table.

Both are timed in interleaved rounds (``_common.time_interleaved``: first call = compile + run,
reported apart; then ``--repeats`` steady rounds, medians). Their Shapley values are compared
(max abs diff, goal < 1e-6) and shap's base value is checked against v(∅). A shap run predicted
(from the last two measured n, exponential growth, at least 2x per player) to take longer than
``--cap`` seconds is not run; its row says so.

Run::

    python benchmarks/bench_shap.py --quick          # n = 8, 10: well under a minute on 2 cores
    python benchmarks/bench_shap.py                  # n = 8, 10, 12, 14
    python benchmarks/bench_shap.py --ns 8 10 12 14 16 --device-name "H100"

Writes ``bench_shap_<backend>[_quick].json`` into ``--out`` (machine, settings, every repetition,
medians, agreement, and ``"rows"``: one ``result_row`` per n) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists: transforms in float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    extrapolate_seconds,
    machine_info,
    result_row,
    round_ratios,
    time_interleaved,
    write_json,
)

import interjax as ij  # noqa: E402
from interjax.data import MLP, breast_cancer  # noqa: E402

NUM_FEATURES = 30
BENCHMARK = "shapley vs shap ExactExplainer"
PEER = "shap ExactExplainer"
AGREE_ABS = 1e-6


def _shap():
    """The shap package, or a clear error naming what to install."""
    try:
        import shap
    except Exception as err:  # ImportError, or a broken install (numba, llvmlite)
        raise SystemExit(
            f"bench_shap.py needs the 'shap' package ({type(err).__name__}: {err}); "
            "install it with `pip install shap`."
        ) from err
    return shap


def make_model(target):
    net = MLP(NUM_FEATURES, 2, hidden=(64, 64), rngs=nnx.Rngs(0))
    return ij.from_nnx(net, output=ij.log_odds(target=target))


def make_shap_model(model, x, n):
    """``f``: ``(m, n)`` feature values of the n players -> ``(m,)`` log-odds (numpy float64).

    One jitted call of the same model and value function as ``ij.evaluate``; features >= n are
    those of ``x``. Rows are padded to the next power of two (at most n + 1 shapes compiled;
    ``warm`` compiles them all before timing). ``stats`` counts calls and seconds spent in ``f``.
    """
    apply = model.apply
    rest = x[n:]

    @jax.jit
    def values(params, o, feats):
        full = jnp.concatenate(
            [feats.astype(x.dtype), jnp.broadcast_to(rest, (feats.shape[0], NUM_FEATURES - n))],
            axis=1,
        )
        return jax.vmap(o)(apply(params, full)).astype(jnp.float64)

    stats: dict[str, Any] = {"calls": 0, "rows": 0, "seconds": 0.0, "row_counts": []}

    def f(feats: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        m = feats.shape[0]
        padded = np.zeros((1 << max(m - 1, 0).bit_length(), n), np.float32)
        padded[:m] = feats
        out = np.asarray(values(model.params, model.output, jnp.asarray(padded)))[:m]
        stats["calls"] += 1
        stats["rows"] += m
        stats["seconds"] += time.perf_counter() - t0
        if len(stats["row_counts"]) < 32:
            stats["row_counts"].append(m)
        return out

    def warm():
        for k in range(n + 1):
            jax.block_until_ready(
                values(model.params, model.output, jnp.zeros((2**k, n), jnp.float32))
            )

    return f, stats, warm


def _estimate(measured: list[tuple[int, float]], n: int) -> float | None:
    """shap's time at n from the last two measured n (growth per player, at least 2x: it
    evaluates 2**n masks), else 2x per player from the last one."""
    return extrapolate_seconds(measured, n, default_growth=2.0)


def bench(x, y, ns, repeats, cap_s) -> tuple[list[dict], list[dict]]:
    shap = _shap()
    model = make_model(y)
    per_n, rows = [], []
    measured: list[tuple[int, float]] = []
    numba_compiled = False
    for n in ns:
        players = ij.Players.features(n, num_features=NUM_FEATURES)

        def interjax_shapley(p=players):
            return ij.shapley_values(ij.evaluate(model, x, p))

        f, stats, warm = make_shap_model(model, x, n)
        masker = shap.maskers.Independent(np.zeros((1, n)), max_samples=1)
        explainer = shap.ExactExplainer(f, masker)
        x_players = np.asarray(x[:n], np.float64)[None, :]

        def shap_shapley(e=explainer, xp=x_players):
            return e(xp, silent=True)

        estimate = _estimate(measured, n)
        run_shap = estimate is None or estimate <= cap_s
        fns = {"interjax": interjax_shapley}
        if run_shap:
            fns["shap"] = shap_shapley
        jax.clear_caches()  # first calls measure compiles, not earlier n's cache hits
        if run_shap:
            warm()  # f's jit compiles are JAX's, not shap's: done before the timing
            stats.update(calls=0, rows=0, seconds=0.0, row_counts=[])
        print(
            f"[shap] n={n}: {' and '.join(fns)}, first call + {repeats} interleaved rounds"
            + ("" if run_shap else f" (shap skipped: estimated {estimate:.3g} s > cap)"),
            flush=True,
        )
        res = time_interleaved(fns, repeats)
        phi = np.asarray(interjax_shapley())
        v = np.asarray(ij.evaluate(model, x, players))
        entry: dict[str, Any] = {
            "n": n,
            "num_masks": 2**n,
            "timings": res,
            "shap_estimated_s": estimate,
            "interjax_shapley": phi.tolist(),
            "v_empty": float(v[0]),
            "v_full": float(v[-1]),
        }
        ij_s = res["interjax"]["median_s"]
        if not run_shap:
            entry["shap"] = {"status": "skipped (cap)", "estimated_s": estimate}
            per_n.append(entry)
            rows.append(
                result_row(
                    BENCHMARK,
                    f"n={n}",
                    ij_s,
                    peer=PEER,
                    peer_s=None,
                    note=f"shap not run: estimated {estimate:.3g} s per run from the last "
                    f"measured n exceeds --cap {cap_s:g} s",
                )
            )
            continue
        stats.update(calls=0, rows=0, seconds=0.0, row_counts=[])
        expl = shap_shapley()  # one more run: the values, and f's share of one steady run
        sv = np.asarray(expl.values, np.float64).reshape(-1)
        base = float(np.asarray(expl.base_values).reshape(-1)[0])
        diff = float(np.max(np.abs(sv - phi)))
        scale = float(np.max(np.abs(phi)))
        agree = diff < AGREE_ABS
        entry["shap"] = {
            "status": "measured",
            "shapley": sv.tolist(),
            "base_value": base,
            "first_call_includes_numba_compile": not numba_compiled,
            "f_calls_per_run": stats["calls"],
            "f_rows_per_run": stats["rows"],
            "f_seconds_per_run": stats["seconds"],
            "f_row_counts": stats["row_counts"],
        }
        entry["ratio"] = round_ratios(res, "shap", "interjax")
        entry["agreement"] = {
            "max_abs_diff_shapley": diff,
            "max_rel_diff_shapley": diff / scale if scale else None,
            "agree_abs_1e-6": agree,
            "abs_diff_base_value_vs_v_empty": abs(base - float(v[0])),
            "efficiency_residual_interjax": float(abs(phi.sum() - (v[-1] - v[0]))),
            "efficiency_residual_shap": float(abs(sv.sum() - (v[-1] - v[0]))),
        }
        shap_s = res["shap"]["median_s"]
        measured.append((n, shap_s))
        per_n.append(entry)
        if not agree:
            print(
                f"[shap] n={n}: WARNING Shapley values differ by {diff:.2e} (goal < {AGREE_ABS})",
                flush=True,
            )
        quality = (
            f"Shapley values agree to {diff:.1e} (max abs diff; goal < {AGREE_ABS:g})"
            if agree
            else f"Shapley values DIFFER: max abs diff {diff:.2e} >= {AGREE_ABS:g}"
        )
        note = (
            f"steady medians of {repeats} interleaved rounds; compile apart (interjax "
            f"{res['interjax']['compile_s']:.2g} s, shap first call - steady "
            f"{res['shap']['compile_s']:.2g} s"
            + (", numba compilation included" if not numba_compiled else "")
            + "); shap's model f is the same jitted model, "
            f"{entry['shap']['f_seconds_per_run']:.2g} s of each shap run"
        )
        numba_compiled = True
        rows.append(
            result_row(
                BENCHMARK, f"n={n}", ij_s, peer=PEER, peer_s=shap_s, quality=quality, note=note
            )
        )
    return per_n, rows


def _f(t: float | None, digits: int = 3) -> str:
    if t is None:
        return "–"
    return f"{t:.{digits}g}"


def table(rows: list[dict], per_n: list[dict]) -> str:
    lines = [
        "| case | interjax s | interjax compile s | shap s | shap first call s | "
        "ratio shap/interjax | max abs diff | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row, e in zip(rows, per_n, strict=True):
        t = e["timings"]
        sh = t.get("shap")
        diff = e.get("agreement", {}).get("max_abs_diff_shapley")
        ratio = f"{row['ratio']:.3g}" if row["ratio"] is not None else "–"
        lines.append(
            f"| {row['case']} | {_f(row['interjax_s'])} | {_f(t['interjax']['compile_s'])} | "
            f"{_f(row['peer_s'])} | {_f(sh['first_call_s'] if sh else None)} | {ratio} | "
            f"{'–' if diff is None else f'{diff:.1e}'} | "
            f"{'' if row['peer_s'] is not None else row['note']} |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="n = 8, 10 and 3 rounds")
    p.add_argument(
        "--out", type=Path, default=Path("benchmarks/results"), help="output folder for the JSON"
    )
    p.add_argument("--ns", type=int, nargs="+", default=None, help="players n (default 8 10 12 14)")
    p.add_argument(
        "--cap",
        type=float,
        default=120.0,
        help="skip a shap run predicted to take longer than this many seconds",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="steady interleaved rounds per n (default 9; quick 3)",
    )
    p.add_argument("--sample", type=int, default=0, help="breast-cancer test sample to explain")
    p.add_argument(
        "--device-name", default=None, help="free text naming the machine, recorded in the results"
    )
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 9)
    ns = args.ns or ([8, 10] if args.quick else [8, 10, 12, 14])
    if max(ns) > NUM_FEATURES or min(ns) < 1:
        raise SystemExit(f"--ns must lie in 1..{NUM_FEATURES}, got {ns}")
    shap = _shap()
    ds = breast_cancer()
    x = jnp.asarray(ds.x_test[args.sample])
    y = int(ds.y_test[args.sample])
    settings = {
        "mode": "quick" if args.quick else "full",
        "ns": ns,
        "repeats": repeats,
        "cap_s": args.cap,
        "sample": args.sample,
        "target": y,
        "model": "interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0)), float32, untrained",
        "value": "ij.log_odds(target=y)",
        "players": "ij.Players.features(n, num_features=30): features 0..n-1, rest kept",
        "baseline": "zeros (interjax default); shap: Independent masker, one all-zeros row",
        "interjax": "ij.shapley_values(ij.evaluate(model, x, players))",
        "shap": "shap.ExactExplainer(f, shap.maskers.Independent(np.zeros((1, n)), "
        "max_samples=1))(x[None, :n]); explainer built once per n, f = the same jitted model",
        "shap_version": getattr(shap, "__version__", None),
        "x64": bool(jax.config.jax_enable_x64),
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    result: dict[str, Any] = {"machine": machine_info(args.device_name), "settings": settings}
    t0 = time.perf_counter()
    per_n, rows = bench(x, y, ns, repeats, args.cap)
    result["per_n"] = per_n
    result["rows"] = rows
    result["all_agree"] = all(e.get("agreement", {}).get("agree_abs_1e-6", True) for e in per_n)
    result["machine"]["load_average_at_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["total_wall_s"] = time.perf_counter() - t0
    print()
    print(table(rows, per_n))
    stem = f"bench_shap_{jax.default_backend()}{'_quick' if args.quick else ''}"
    path = write_json(args.out / f"{stem}.json", result)
    print(f"wrote {path} (total {result['total_wall_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
