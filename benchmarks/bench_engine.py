"""Engine benchmark for interjax: masked sweep, exact transforms, and a shapiq comparison.

Three sections, all on a small Flax NNX MLP (30 → 64 → 64 → 2, float32, untrained, seed 0) and
breast-cancer test inputs, with JAX x64 on (values and transforms in float64):

1. **Sweep efficiency.** ``ij.evaluate`` on all ``2**n`` masked inputs against the "raw forward",
   the same model and log-odds value function applied by one jitted call to an array of all
   ``2**n`` masked inputs built beforehand (the physical limit: no mask generation, no chunking,
   no Python checks). Also a "raw chunked" baseline (prebuilt inputs, ``lax.map`` over chunks of
   the size ``evaluate`` uses) and a chunk-size sweep of ``evaluate`` at one ``n``.
   efficiency = t_raw / t_evaluate (goal >= 0.95).
2. **Exact Möbius + Shapley vs shapiq.** ``evaluate + and_interactions + shapley_values`` against
   shapiq's ``ExactComputer`` ("Moebius" and "SV") on the same model, input and masks; both
   results are checked to agree. ratio = t_shapiq / t_interjax (goal >= 1000 at n = 16). shapiq
   runs whose predicted time exceeds ``--shapiq-cap`` seconds are skipped and estimated.
3. **Seconds per sample at n = 20.** ``evaluate + and_interactions + or_interactions +
   shapley_values`` for one sample and for a batch (goal <= 2 s per sample on CPU), with a
   per-stage breakdown.

Every measurement reports the first call (compile included) separately from the steady state,
the median of the following ``--repeats`` calls. Contenders in one table are timed in interleaved
rounds (each round calls each contender once, in rotating order), so that load from other
processes hits them alike, and ratios are also given as the median of per-round ratios.

Run::

    python benchmarks/bench_engine.py --quick          # about 1-2 minutes on a 2-core CPU
    python benchmarks/bench_engine.py                  # the full run
    python benchmarks/bench_engine.py --ns 12 16 20 22 24 --device-name "H100"   # on a GPU

Writes ``bench_engine_<backend>[_quick].json`` (machine, settings, every repetition, medians) and
the same tables as markdown (``.md``) into ``--out`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # before any array exists: transforms in float64

from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    extrapolate_seconds,
    machine_info,
    median,
    result_row,
    round_ratios,
    time_interleaved,
)

import interjax as ij  # noqa: E402
from interjax.data import MLP, breast_cancer  # noqa: E402
from interjax.evaluate import default_chunk_size, mask_inputs  # noqa: E402

NUM_FEATURES = 30
RAW_MAX_ROWS = 2**22  # raw forward in one call up to this many masked inputs, else lax.map


def make_model(target):
    net = MLP(NUM_FEATURES, 2, hidden=(64, 64), rngs=nnx.Rngs(0))
    return ij.from_nnx(net, output=ij.log_odds(target=target))


def make_raw_forward(model, chunk: int | None):
    """Jitted ``xs (R, 30) -> (R,)`` log-odds of the model on prebuilt masked inputs.

    ``chunk=None``: one call on all rows; else ``lax.map`` over chunks of ``chunk`` rows.
    """
    apply = model.apply

    def values(params, o, xs):
        return jax.vmap(o)(apply(params, xs))

    @jax.jit
    def raw(params, o, xs):
        if chunk is None or chunk >= xs.shape[0]:
            v = values(params, o, xs)
        else:
            blocks = xs.reshape(xs.shape[0] // chunk, chunk, *xs.shape[1:])
            v = jax.lax.map(lambda b: values(params, o, b), blocks).reshape(-1)
        return v.astype(jnp.float64)

    return lambda xs: raw(model.params, model.output, xs)


def prebuilt_masked_inputs(x, players):
    n = players.n
    emap = players.element_map(tuple(x.shape))
    build = jax.jit(lambda ids, x: mask_inputs(ids, x, jnp.zeros((), x.dtype), emap, n, True))
    return jax.block_until_ready(build(jnp.arange(2**n, dtype=jnp.int32), x))


def _internal_sweep(model, x, players, chunk, read_flag: bool = True):
    """The compiled sweep without ``evaluate``'s Python checks (private API; may be absent).

    ``read_flag``: read the finite flag as ``evaluate`` does (a scalar copied to the host), or
    only wait for the values, as the raw forward does."""
    try:
        from interjax.evaluate._sweep import _output_kind, _sweep

        def call():
            v, all_finite = _sweep(
                model,
                x,
                np.zeros((), x.dtype),  # a host scalar, as evaluate passes it
                players=players,
                chunk_size=chunk,
                batched=False,
                baseline_per_sample=False,
                mesh=None,
                output_kind=_output_kind(model.output),
            )
            if read_flag:
                bool(all_finite)  # evaluate reads the finite flag
            return jax.block_until_ready(v)

        call()
        return call
    except Exception as err:  # the private signature moves: skip, do not fail the benchmark
        print(f"  (internal sweep probe unavailable: {type(err).__name__}: {err})")
        return None


# ----------------------------------------------------------------------------------------------
# section 1: sweep efficiency
# ----------------------------------------------------------------------------------------------
def bench_sweep(x, y, ns, chunk_n, chunk_exps, repeats, chunk_repeats) -> dict:
    model = make_model(y)
    out = {"per_n": [], "chunk_sweep": None}
    for n in ns:
        players = ij.Players.features(n, num_features=NUM_FEATURES)
        chunk = min(default_chunk_size(n, (NUM_FEATURES,)), 2**n)
        xs = prebuilt_masked_inputs(x, players)
        raw_rows = min(2**n, RAW_MAX_ROWS)
        raw_full = make_raw_forward(model, None if raw_rows == 2**n else raw_rows)
        raw_chunked = make_raw_forward(model, chunk)
        fns = {
            "raw_forward": lambda rf=raw_full, xs=xs: rf(xs),
            "raw_chunked": lambda rc=raw_chunked, xs=xs: rc(xs),
            "evaluate": lambda p=players: ij.evaluate(model, x, p, baseline=None),
        }
        probe = _internal_sweep(model, x, players, chunk)
        if probe is not None:
            fns["internal_sweep"] = probe
            fns["internal_sweep_no_flag"] = _internal_sweep(model, x, players, chunk, False)
        print(f"[sweep] n={n}: {len(fns)} contenders x {repeats} rounds", flush=True)
        jax.clear_caches()  # first calls measure compiles, not earlier sections' cache hits
        res = time_interleaved(fns, repeats)
        v_eval = np.asarray(ij.evaluate(model, x, players, baseline=None))
        v_raw = np.asarray(raw_full(xs))
        row = {
            "n": n,
            "num_masks": 2**n,
            "evaluate_default_chunk": chunk,
            "raw_forward_rows_per_call": raw_rows,
            "timings": res,
            "efficiency": round_ratios(res, "raw_forward", "evaluate"),
            "efficiency_vs_raw_chunked": round_ratios(res, "raw_chunked", "evaluate"),
            "max_abs_diff_evaluate_vs_raw": float(np.max(np.abs(v_eval - v_raw))),
        }
        if "internal_sweep" in res:
            # evaluate's fixed cost, in three parts (differences of medians of one run):
            # its Python checks, the read of the finite flag, and the compiled sweep's own
            # extra work (masks made in the program, its dispatch) over the raw forward
            med = {k: r["median_s"] for k, r in res.items()}
            row["python_overhead_s"] = med["evaluate"] - med["internal_sweep"]
            row["flag_read_s"] = med["internal_sweep"] - med["internal_sweep_no_flag"]
            row["program_overhead_s"] = med["internal_sweep_no_flag"] - med["raw_forward"]
        out["per_n"].append(row)
        del xs

    if chunk_n:
        n = chunk_n
        players = ij.Players.features(n, num_features=NUM_FEATURES)
        default = min(default_chunk_size(n, (NUM_FEATURES,)), 2**n)
        sizes = [2**e for e in chunk_exps if 2**e <= 2**n]
        xs = prebuilt_masked_inputs(x, players)
        raw_rows = min(2**n, RAW_MAX_ROWS)
        raw_full = make_raw_forward(model, None if raw_rows == 2**n else raw_rows)
        fns = {"raw_forward": lambda: raw_full(xs)}
        # a fresh Players object per chunk size still hits the jit cache for equal settings,
        # so the default chunk is timed once, under its own name
        fns[f"default ({default})"] = lambda: ij.evaluate(model, x, players)
        for c in sizes:
            if c != default:
                fns[str(c)] = lambda c=c: ij.evaluate(model, x, players, chunk_size=c)
        print(f"[sweep] chunk sizes at n={n}: {list(fns)[1:]} x {chunk_repeats} rounds", flush=True)
        jax.clear_caches()
        res = time_interleaved(fns, chunk_repeats)
        rows = []
        for name in list(fns)[1:]:
            chunk = default if name.startswith("default") else int(name)
            rows.append(
                {
                    "chunk_size": chunk,
                    "is_default": name.startswith("default"),
                    "num_chunks": math.ceil(2**n / chunk),
                    "timings": res[name],
                    "efficiency": round_ratios(res, "raw_forward", name),
                }
            )
        out["chunk_sweep"] = {
            "n": n,
            "default_chunk": default,
            "raw_forward": res["raw_forward"],
            "rows": rows,
        }
        best = min(rows, key=lambda r: r["timings"]["median_s"])
        out["chunk_sweep"]["best_chunk"] = best["chunk_size"]
        del xs
    return out


# ----------------------------------------------------------------------------------------------
# section 2: exact Möbius + Shapley vs shapiq
# ----------------------------------------------------------------------------------------------
def _shapiq_exact_computer():
    try:
        from shapiq.game_theory.exact import ExactComputer
    except Exception as err:
        return None, f"{type(err).__name__}: {err}"
    return ExactComputer, None


def make_shapiq_game(model, x, n):
    """A shapiq game: boolean coalition matrix ``(C, n)`` -> values ``(C,)`` (numpy float64).

    One jitted call of the same model and value function on all rows; player i is feature i,
    masked to 0 like ``ij.evaluate(..., baseline=None)``; features >= n are kept.
    """
    apply = model.apply

    @jax.jit
    def values(params, o, keep):
        full = jnp.concatenate([keep, jnp.ones((keep.shape[0], NUM_FEATURES - n), bool)], axis=1)
        xs = jnp.where(full, x, jnp.zeros((), x.dtype))
        return jax.vmap(o)(apply(params, xs)).astype(jnp.float64)

    stats = {"calls": 0, "seconds": 0.0}

    def game(coalitions: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        v = np.asarray(values(model.params, model.output, jnp.asarray(coalitions, bool)))
        stats["calls"] += 1
        stats["seconds"] += time.perf_counter() - t0
        return v

    return game, stats


def run_shapiq(ExactComputer, game, n):
    ec = ExactComputer(game, n_players=n)
    moebius = ec("Moebius")
    sv = ec("SV")
    return ec, moebius, sv


def compare_with_shapiq(ec, moebius, sv, v, I_and, phi, n) -> dict:
    """Max differences between shapiq's and interjax's values, dividends and Shapley values."""
    bit = np.array([1 << i for i in range(n)], dtype=np.int64)

    def idx(T):
        return int(bit[list(T)].sum()) if T else 0

    lookup = ec.coalition_lookup
    gv = np.asarray(ec.game_values)
    game_pos = np.array([idx(T) for T in lookup])
    game_val = gv[np.array(list(lookup.values()))]
    m_pos = np.array([idx(T) for T in moebius.interaction_lookup])
    m_val = np.asarray(moebius.values)[np.array(list(moebius.interaction_lookup.values()))]
    sv_vals = np.array([sv[(i,)] for i in range(n)])
    scale_m = float(np.max(np.abs(I_and)))
    scale_sv = float(np.max(np.abs(phi)))
    d_sv = float(np.max(np.abs(sv_vals - phi)))
    return {
        "max_abs_diff_game_values": float(np.max(np.abs(game_val - v[game_pos]))),
        "max_abs_diff_moebius": float(np.max(np.abs(m_val - I_and[m_pos]))),
        "max_rel_diff_moebius": float(np.max(np.abs(m_val - I_and[m_pos]))) / scale_m,
        "max_abs_diff_shapley": d_sv,
        "max_rel_diff_shapley": d_sv / scale_sv,
        "shapley_agree_1e-6_rel": bool(d_sv <= 1e-6 * scale_sv),
        # shapiq stores v(∅) as the SV "empty interaction"; interjax returns only the n values
        "shapiq_sv_empty_entry": float(sv[()]),
        "v_empty": float(v[0]),
        "efficiency_residual": float(abs(phi.sum() - (v[-1] - v[0]))),
        "moebius_count_shapiq": len(moebius.interaction_lookup),
    }


def bench_vs_shapiq(x, y, ns, repeats, shapiq_repeats, cap_s, budget_s, alt_chunk) -> dict:
    model = make_model(y)
    ExactComputer, why = _shapiq_exact_computer()
    out = {
        "cap_s": cap_s,
        "shapiq_budget_s_per_n": budget_s,
        "shapiq_available": why is None,
        "shapiq_import_error": why,
        "per_n": [],
    }
    measured: list[tuple[int, float]] = []
    for n in ns:
        players = ij.Players.features(n, num_features=NUM_FEATURES)

        def interjax_exact(p=players, chunk=None):
            v = ij.evaluate(model, x, p, baseline=None, chunk_size=chunk)
            return v, ij.and_interactions(v), ij.shapley_values(v)

        fns = {"interjax": interjax_exact}
        if alt_chunk and alt_chunk < default_chunk_size(n, (NUM_FEATURES,)):
            fns["interjax_alt_chunk"] = lambda: interjax_exact(chunk=alt_chunk)
        print(f"[shapiq] n={n}: interjax x {repeats}", flush=True)
        jax.clear_caches()
        both = time_interleaved(fns, repeats)
        ij_res = both["interjax"]
        v, I_and, phi = (np.asarray(a) for a in interjax_exact())
        row: dict[str, Any] = {"n": n, "interjax": ij_res}
        if "interjax_alt_chunk" in both:
            row["interjax_alt_chunk"] = {"chunk_size": alt_chunk, **both["interjax_alt_chunk"]}

        if ExactComputer is None:
            row["shapiq"] = {"status": "unavailable", "reason": why}
            out["per_n"].append(row)
            continue
        estimate = _estimate(measured, n)
        row["shapiq_estimated_s"] = estimate
        if measured and estimate is not None and estimate > cap_s:
            row["shapiq"] = {"status": "skipped (cap)", "estimated_s": estimate}
            row["ratio_estimated"] = estimate / ij_res["median_s"]
            if "interjax_alt_chunk" in row:
                row["ratio_alt_chunk_estimated"] = estimate / row["interjax_alt_chunk"]["median_s"]
            print(f"[shapiq] n={n}: skipped (cap), estimated {estimate:.0f} s", flush=True)
            out["per_n"].append(row)
            continue
        game, stats = make_shapiq_game(model, x, n)
        game(np.zeros((2**n, n), bool))  # compile the jitted game outside the timing
        stats.update(calls=0, seconds=0.0)
        times, spent, result = [], 0.0, None
        while len(times) < max(shapiq_repeats, 1):
            print(f"[shapiq] n={n}: shapiq run {len(times) + 1}", flush=True)
            t0 = time.perf_counter()
            result = run_shapiq(ExactComputer, game, n)
            times.append(time.perf_counter() - t0)
            spent += times[-1]
            if spent + times[-1] > budget_s:
                break
        med = median(times)
        measured.append((n, med))
        row["shapiq"] = {
            "status": "measured",
            "times_s": times,
            "median_s": med,
            "game_eval_s_per_run": stats["seconds"] / len(times),
        }
        row["ratio"] = med / ij_res["median_s"]
        if "interjax_alt_chunk" in row:
            row["ratio_alt_chunk"] = med / row["interjax_alt_chunk"]["median_s"]
        row["agreement"] = compare_with_shapiq(*result, v, I_and, phi, n)
        out["per_n"].append(row)
    return out


def _estimate(measured: list[tuple[int, float]], n: int) -> float | None:
    """shapiq time at n from the trend: growth per player from the last two runs (at least 2x),
    else 3x (its Möbius transform is a Python loop over 3**n pairs)."""
    return extrapolate_seconds(measured, n, default_growth=3.0)


# ----------------------------------------------------------------------------------------------
# section 3: seconds per sample at n = 20
# ----------------------------------------------------------------------------------------------
def bench_per_sample(ds, n, batch, repeats) -> dict:
    players = ij.Players.features(n, num_features=NUM_FEATURES)
    x1 = jnp.asarray(ds.x_test[0])
    model1 = make_model(int(ds.y_test[0]))
    xb = jnp.asarray(ds.x_test[:batch])
    modelb = make_model(jnp.asarray(ds.y_test[:batch]))

    def pipeline(model, x):
        v = ij.evaluate(model, x, players, baseline=None)
        return v, ij.and_interactions(v), ij.or_interactions(v), ij.shapley_values(v)

    print(f"[per-sample] n={n}: 1 sample and a batch of {batch} x {repeats} rounds", flush=True)
    jax.clear_caches()
    res = time_interleaved(
        {"single": lambda: pipeline(model1, x1), f"batch_{batch}": lambda: pipeline(modelb, xb)},
        repeats,
    )
    v1 = ij.evaluate(model1, x1, players)
    vb = ij.evaluate(modelb, xb, players)
    print(f"[per-sample] n={n}: stages x {repeats} rounds", flush=True)
    jax.clear_caches()
    stages = time_interleaved(
        {
            "evaluate": lambda: ij.evaluate(model1, x1, players),
            "and_interactions": lambda: ij.and_interactions(v1),
            "or_interactions": lambda: ij.or_interactions(v1),
            "shapley_values": lambda: ij.shapley_values(v1),
            f"evaluate_batch_{batch}": lambda: ij.evaluate(modelb, xb, players),
            f"and_interactions_batch_{batch}": lambda: ij.and_interactions(vb),
            f"or_interactions_batch_{batch}": lambda: ij.or_interactions(vb),
            f"shapley_values_batch_{batch}": lambda: ij.shapley_values(vb),
        },
        repeats,
    )
    single = res["single"]["median_s"]
    batched = res[f"batch_{batch}"]["median_s"]
    return {
        "n": n,
        "batch": batch,
        "pipeline": "evaluate + and_interactions + or_interactions + shapley_values",
        "timings": res,
        "stages": stages,
        "single_s_per_sample": single,
        "batch_s_per_sample": batched / batch,
        "max_abs_diff_batch_row0_vs_single": float(jnp.max(jnp.abs(vb[0] - v1))),
    }


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def _f(t: float | None, digits: int = 4) -> str:
    if t is None:
        return "–"
    if t >= 100:
        return f"{t:.0f}"
    return f"{t:.{digits}g}"


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"## interjax engine benchmark — {m['device_name'] or m['jax_backend']}",
        "",
        f"{m['jax_backend']} ({m['jax_device_kind']}), {m['cpu_count']} CPUs, "
        f"jax {m['versions']['jax']}, flax {m['versions']['flax']}, "
        f"shapiq {m['versions']['shapiq']}, mode {result['settings']['mode']}. "
        "Times in seconds: steady = median of repeated calls, compile = first call - steady.",
        "",
    ]
    sw = result.get("sweep")
    if sw:
        lines += [
            "### 1. Sweep efficiency (MLP 30-64-64-2, float32, one breast-cancer input)",
            "",
            "| n | masks | raw forward | raw chunked | evaluate | evaluate compile | "
            "efficiency raw/evaluate (round median) | vs raw chunked | Python overhead | "
            "finite-flag read | program overhead |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sw["per_n"]:
            t = r["timings"]
            e, ec = r["efficiency"], r["efficiency_vs_raw_chunked"]
            lines.append(
                f"| {r['n']} | {r['num_masks']} | {_f(t['raw_forward']['median_s'])} | "
                f"{_f(t['raw_chunked']['median_s'])} | {_f(t['evaluate']['median_s'])} | "
                f"{_f(t['evaluate']['compile_s'], 3)} | {e['ratio_of_medians']:.2f} "
                f"({e['median_of_round_ratios']:.2f}) | {ec['ratio_of_medians']:.2f} | "
                f"{_f(r.get('python_overhead_s'), 3)} | {_f(r.get('flag_read_s'), 3)} | "
                f"{_f(r.get('program_overhead_s'), 3)} |"
            )
        cs = sw.get("chunk_sweep")
        if cs:
            lines += [
                "",
                f"Chunk sizes at n = {cs['n']} (raw forward "
                f"{_f(cs['raw_forward']['median_s'])} s; best: {cs['best_chunk']}):",
                "",
                "| chunk size | chunks | evaluate steady | first call | "
                "efficiency (round median) |",
                "|---:|---:|---:|---:|---:|",
            ]
            for r in cs["rows"]:
                t, e = r["timings"], r["efficiency"]
                name = f"{r['chunk_size']} (default)" if r["is_default"] else str(r["chunk_size"])
                lines.append(
                    f"| {name} | {r['num_chunks']} | {_f(t['median_s'])} | "
                    f"{_f(t['first_call_s'], 3)} | {e['ratio_of_medians']:.2f} "
                    f"({e['median_of_round_ratios']:.2f}) |"
                )
        lines.append("")
    sq = result.get("vs_shapiq")
    if sq:
        lines += [
            "### 2. Exact Möbius + Shapley: interjax vs shapiq ExactComputer",
            "",
            "| n | interjax steady | interjax compile | shapiq | ratio shapiq/interjax | "
            "interjax steady, small chunk | ratio, small chunk | max rel diff SV | "
            "max abs diff Möbius |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sq["per_n"]:
            ijr, s = r["interjax"], r["shapiq"]
            alt = r.get("interjax_alt_chunk")
            alt_t = f"{_f(alt['median_s'])} ({alt['chunk_size']})" if alt else "–"
            alt_ratio = "–"
            if s["status"] == "measured":
                a = r["agreement"]
                sh, ratio = _f(s["median_s"]), f"{r['ratio']:.0f}"
                if alt:
                    alt_ratio = f"{r['ratio_alt_chunk']:.0f}"
                dsv, dm = f"{a['max_rel_diff_shapley']:.1e}", f"{a['max_abs_diff_moebius']:.1e}"
            elif s["status"] == "skipped (cap)":
                sh = f"skipped (cap), est. {_f(s['estimated_s'])}"
                ratio, dsv, dm = f"est. {r['ratio_estimated']:.0f}", "–", "–"
                if alt:
                    alt_ratio = f"est. {r['ratio_alt_chunk_estimated']:.0f}"
            else:
                sh, ratio, dsv, dm = "unavailable", "–", "–", "–"
            lines.append(
                f"| {r['n']} | {_f(ijr['median_s'])} | {_f(ijr['compile_s'], 3)} | "
                f"{sh} | {ratio} | {alt_t} | {alt_ratio} | {dsv} | {dm} |"
            )
        lines.append("")
    ps = result.get("per_sample")
    if ps:
        b = ps["batch"]
        t = ps["timings"]
        st = ps["stages"]
        lines += [
            f"### 3. n = {ps['n']}: evaluate + AND + OR + Shapley, seconds per sample",
            "",
            "| case | steady per sample | steady per call | compile (first call - steady) |",
            "|---|---:|---:|---:|",
            f"| 1 sample | {_f(ps['single_s_per_sample'])} | {_f(t['single']['median_s'])} | "
            f"{_f(t['single']['compile_s'], 3)} |",
            f"| batch of {b} | {_f(ps['batch_s_per_sample'])} | "
            f"{_f(t[f'batch_{b}']['median_s'])} | {_f(t[f'batch_{b}']['compile_s'], 3)} |",
            "",
            "| stage | 1 sample steady | 1 sample compile | "
            f"batch of {b} steady | batch of {b} compile |",
            "|---|---:|---:|---:|---:|",
        ]
        for s in ("evaluate", "and_interactions", "or_interactions", "shapley_values"):
            one, bat = st[s], st[f"{s}_batch_{b}"]
            lines.append(
                f"| {s} | {_f(one['median_s'])} | {_f(one['compile_s'], 3)} | "
                f"{_f(bat['median_s'])} | {_f(bat['compile_s'], 3)} |"
            )
        lines.append("")
    return "\n".join(lines)


def rows(result: dict) -> list[dict]:
    """The results-table lines of this benchmark (see ``_common.result_row``)."""
    out = []
    for r in result.get("sweep", {}).get("per_n", []):
        t = r["timings"]
        out.append(
            result_row(
                "masked sweep vs raw forward",
                f"n={r['n']}",
                t["evaluate"]["median_s"],
                peer="one jitted forward over the 2^n prebuilt masked inputs",
                peer_s=t["raw_forward"]["median_s"],
                quality=f"values differ by {r['max_abs_diff_evaluate_vs_raw']:.0e}",
                note=f"ratio = efficiency (goal >= 0.95); evaluate compile "
                f"{t['evaluate']['compile_s']:.2f} s",
            )
        )
    for r in result.get("vs_shapiq", {}).get("per_n", []):
        sq, ag = r["shapiq"], r.get("agreement") or {}
        measured = sq.get("status") == "measured"
        out.append(
            result_row(
                "exact Moebius + Shapley vs shapiq ExactComputer",
                f"n={r['n']}",
                r["interjax"]["median_s"],
                peer="shapiq ExactComputer (Moebius, SV)",
                peer_s=sq.get("median_s") if measured else None,
                quality=(
                    f"Moebius agree to {ag['max_abs_diff_moebius']:.0e}, Shapley to "
                    f"{ag['max_abs_diff_shapley']:.0e}"
                    if ag
                    else None
                ),
                note=None
                if measured
                else f"shapiq {sq.get('status')} (cap {result['vs_shapiq'].get('cap_s')} s"
                + (
                    f"; estimated {r['shapiq_estimated_s']:.0f} s from smaller n)"
                    if r.get("shapiq_estimated_s")
                    else ")"
                ),
            )
        )
    ps = result.get("per_sample")
    if ps:
        out.append(
            result_row(
                "evaluate + AND + OR + Shapley per sample",
                f"n={ps['n']}, one sample",
                ps["single_s_per_sample"],
                note=f"batch of {ps['batch']}: {ps['batch_s_per_sample']:.3f} s per sample; "
                "goal <= 2 s",
            )
        )
    return out


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions and shapiq only up to n=14 (a few minutes on CPU)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="output folder for the JSON and markdown results",
    )
    p.add_argument(
        "--ns",
        type=int,
        nargs="+",
        default=None,
        help="players n for the sweep-efficiency section (default 12 16 20)",
    )
    p.add_argument(
        "--chunk-n",
        type=int,
        default=None,
        help="n of the chunk-size sweep (default 20, or the largest --ns if smaller; 0 skips it)",
    )
    p.add_argument(
        "--chunk-exps",
        type=int,
        nargs="+",
        default=[10, 12, 14, 16, 18, 20],
        help="log2 of the chunk sizes tried besides the default",
    )
    p.add_argument(
        "--shapiq-ns",
        type=int,
        nargs="+",
        default=None,
        help="n for the shapiq comparison (default 10 12 14 16; quick 10 12 14)",
    )
    p.add_argument(
        "--shapiq-cap",
        type=float,
        default=120.0,
        help="skip a shapiq run predicted to take longer than this many seconds",
    )
    p.add_argument(
        "--shapiq-repeats",
        type=int,
        default=None,
        help="shapiq runs per n at most (default 3; quick 1)",
    )
    p.add_argument(
        "--alt-chunk",
        type=int,
        default=2**14,
        help="also time interjax in the shapiq section with this chunk size where it is smaller"
        " than the default (0: off)",
    )
    p.add_argument("--full-n", type=int, default=20, help="n of the seconds-per-sample section")
    p.add_argument("--batch", type=int, default=4, help="batch size of the per-sample section")
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="steady-state repetitions per measurement (default 9; quick 3)",
    )
    p.add_argument(
        "--sections",
        type=int,
        nargs="+",
        default=[1, 2, 3],
        choices=[1, 2, 3],
        help="which sections to run",
    )
    p.add_argument("--sample", type=int, default=0, help="breast-cancer test sample to explain")
    p.add_argument(
        "--device-name", default=None, help="free text naming the machine, recorded in the results"
    )
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 9)
    ns = args.ns or [12, 16, 20]
    chunk_n = args.chunk_n if args.chunk_n is not None else min(20, max(ns))
    shapiq_ns = args.shapiq_ns or ([10, 12, 14] if quick else [10, 12, 14, 16])
    shapiq_repeats = args.shapiq_repeats or (1 if quick else 3)
    settings = {
        "mode": "quick" if quick else "full",
        "repeats": repeats,
        "sweep_ns": ns,
        "chunk_n": chunk_n,
        "chunk_sizes": [2**e for e in args.chunk_exps],
        "shapiq_ns": shapiq_ns,
        "shapiq_cap_s": args.shapiq_cap,
        "shapiq_repeats_max": shapiq_repeats,
        "shapiq_section_alt_chunk": args.alt_chunk,
        "full_n": args.full_n,
        "batch": args.batch,
        "sections": args.sections,
        "sample": args.sample,
        "model": "interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0)), float32, untrained",
        "value": "ij.log_odds(target=y)",
        "players": "ij.Players.features(n, num_features=30): features 0..n-1, rest kept",
        "baseline": "zeros",
        "x64": bool(jax.config.jax_enable_x64),
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    result: dict[str, Any] = {"machine": machine_info(args.device_name), "settings": settings}
    ds = breast_cancer()
    x = jnp.asarray(ds.x_test[args.sample])
    y = int(ds.y_test[args.sample])
    t_start = time.perf_counter()
    if 1 in args.sections:
        result["sweep"] = bench_sweep(
            x, y, ns, chunk_n, args.chunk_exps, repeats, max(3, repeats - 2)
        )
    if 2 in args.sections:
        result["vs_shapiq"] = bench_vs_shapiq(
            x,
            y,
            shapiq_ns,
            repeats,
            shapiq_repeats,
            args.shapiq_cap,
            budget_s=3 * args.shapiq_cap,
            alt_chunk=args.alt_chunk,
        )
    if 3 in args.sections:
        result["per_sample"] = bench_per_sample(ds, args.full_n, args.batch, repeats)
    result["machine"]["load_average_at_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["total_wall_s"] = time.perf_counter() - t_start

    table = markdown(result)
    print()
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"bench_engine_{jax.default_backend()}{'_quick' if quick else ''}"
    result["rows"] = rows(result)
    _write_atomic(args.out / f"{stem}.json", json.dumps(result, indent=1))
    _write_atomic(args.out / f"{stem}.md", table + "\n")
    print(f"wrote {args.out / stem}.json and .md (total {result['total_wall_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
