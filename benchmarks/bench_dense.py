"""The sparse AND-OR split: the lab's dense-matrix SGD against interjax (SGD and optimal solver).

What: the lab's research code (PyTorch, unpublished for this paper) builds the dense 2^n × 2^n
AND (Harsanyi / Möbius) matrix ``A[S, T] = (-1)^{|S|-|T|}`` for ``T ⊆ S`` (else 0) and the OR
matrix ``O`` (``I_or(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} v(N∖T)`` for ``S ≠ ∅``, ``I_or(∅) = v(∅)``;
interjax's convention, checked against ``ij.and_interactions`` / ``ij.or_interactions`` at
n = 4), and minimizes ``Σ|A(½(v+q)+γ)| + Σ|O(½(v+q)-γ)|`` over γ and ``|q| ≤ τ = 0.02·|v(N) -
v(∅)|`` by SGD with momentum 0.9, the learning rate decaying log-linearly to a tenth over
``num_steps``, ``q`` clipped after each step. It is re-implemented here in JAX: the matrices are
built with numpy from the formula (row blocks, not from interjax), held in float32 (PyTorch's
default), and the steps run in one jitted ``lax.scan`` with the same optax schedule as interjax
(``interjax.solve._sgd.default_sgd``, the very same optimizer object for both).

How, per n (values: ``ij.evaluate`` of a Flax NNX MLP 30 → 64 → 64 → 2, seed 0, trained
``--train-steps`` steps on breast cancer as in ``bench_solver.py`` (0: untrained), on one
breast-cancer test input, log-odds of the true class, players = the first n features, zero
baseline), three contenders timed in interleaved rounds (``_common.time_interleaved``: first
call = compile + run, reported apart; then ``--repeats`` steady rounds, medians):

* ``dense_sgd``: the dense formulation above (matrices built beforehand, build time reported);
* ``interjax_sgd``: ``ij.fit_and_or(v, solver=ij.SGD(num_steps=S, optimizer=opt))`` with
  ``opt = default_sgd(lr, S)``: the same algorithm on O(n·2^n) butterflies in float64. (Passing
  ``ij.SGD(learning_rate=lr)`` instead builds the optimizer from the settings; one such call is
  timed and recorded apart.)
* ``optimal``: ``ij.fit_and_or(v)``, the default solver, with its certified lower bound.

Reported: times; the dense matrices' size (2 · 4 · 4^n bytes) and the process' peak RSS after
the dense run; the objective at the start (γ = q = 0) and the final objective of each, recomputed
in float64 from its ``(v_and, v_or)`` with interjax's transforms, divided by the optimal solver's
certified lower bound; the relative difference of the two SGD objectives and of their objective
histories, and the first step where they part. Up to ``--check64-max-n`` the dense loop is also
run in float64 (untimed): it must retrace interjax's float64 SGD (same algorithm), so any
difference of the float32 run is rounding, which this non-smooth, oscillating SGD amplifies.

Limits: n whose dense matrices would exceed ``--max-dense-gib`` are not run densely, nor those
whose dense run is predicted (growth per player from the last two measured n, 2x to 4x) to
exceed ``--cap`` seconds; their rows say so. Where first call + ``--repeats`` dense runs are
predicted to exceed ``--budget`` seconds, the dense loop is compiled ahead of time (compile
timed) and run once (on a 2-core CPU, n = 14 takes about 0.46 s per step: ~15 min for 2000).

Run::

    python benchmarks/bench_dense.py --quick        # n = 8, 10, 500 steps: about a minute, 2 cores
    python benchmarks/bench_dense.py                # n = 8, 10, 12, 14, 2000 steps (~30 min CPU)
    python benchmarks/bench_dense.py --ns 12 14 --device-name "H100"

Writes ``bench_dense_<backend>[_quick].json`` into ``--out`` (machine, settings, every
repetition, medians, objectives, and ``"rows"`` of ``result_row``) and prints a table.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists: interjax in float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    call_seconds,
    extrapolate_seconds,
    machine_info,
    result_row,
    round_ratios,
    time_interleaved,
    write_json,
)

import interjax as ij  # noqa: E402
from interjax import data  # noqa: E402
from interjax.solve._sgd import default_sgd, sgd_solve  # noqa: E402

NUM_FEATURES = 30
Q_RATIO = 0.02
BENCHMARK = "AND-OR split vs the lab's dense SGD"
PEER = "dense SGD (lab formulation)"
GIB = 2**30
MIB = 2**20


# ----------------------------------------------------------------------------------------------
# the dense formulation
# ----------------------------------------------------------------------------------------------
def _row_blocks(size: int, entries: int = 2**22):
    step = max(1, entries // size)
    for r0 in range(0, size, step):
        yield r0, np.arange(r0, min(r0 + step, size), dtype=np.int64)[:, None]


def dense_and_matrix(n: int, dtype=np.float32) -> np.ndarray:
    """``A[S, T] = (-1)^{|S|-|T|}`` if ``T ⊆ S`` else 0, bitmask order: ``I_and = A @ v``."""
    size = 2**n
    cols = np.arange(size, dtype=np.int64)[None, :]
    out = np.empty((size, size), dtype)
    for r0, s in _row_blocks(size):
        subset = (s & cols) == cols
        odd = np.bitwise_count(s ^ cols) & 1  # |S| - |T| = |S xor T| when T ⊆ S
        out[r0 : r0 + len(s)] = np.where(subset, np.where(odd == 1, -1, 1), 0)
    return out


def dense_or_matrix(n: int, dtype=np.float32) -> np.ndarray:
    """``O`` with ``I_or = O @ v``: ``I_or(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} v(N∖T)`` for ``S ≠ ∅``
    and ``I_or(∅) = v(∅)``. Column ``U`` holds ``v(U)``, ``U = N∖T``."""
    size = 2**n
    full = size - 1
    t = full ^ np.arange(size, dtype=np.int64)[None, :]  # T = N∖U for column U
    out = np.empty((size, size), dtype)
    for r0, s in _row_blocks(size):
        subset = (s & t) == t
        odd = np.bitwise_count(s ^ t) & 1
        out[r0 : r0 + len(s)] = np.where(subset, np.where(odd == 1, 1, -1), 0)
    out[0] = 0
    out[0, 0] = 1
    return out


def check_dense_matrices(n: int = 4, seed: int = 0) -> dict:
    """The dense matrices (float64) against interjax's transforms on random vectors."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(3, 2**n))
    a, o = dense_and_matrix(n, np.float64), dense_or_matrix(n, np.float64)
    d_and = float(np.max(np.abs(v @ a.T - np.asarray(ij.and_interactions(v)))))
    d_or = float(np.max(np.abs(v @ o.T - np.asarray(ij.or_interactions(v)))))
    ok = d_and < 1e-12 and d_or < 1e-12
    if not ok:
        raise AssertionError(
            f"dense matrices disagree with interjax at n={n}: AND {d_and:.2e}, OR {d_or:.2e}"
        )
    return {"n": n, "max_abs_diff_and": d_and, "max_abs_diff_or": d_or, "ok": ok}


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps"))
def dense_sgd(a, o, v, tau, *, optimizer: optax.GradientTransformation, num_steps: int):
    """The lab's loop on dense matrices: ``(v_and, v_or, objective, objective history)``.

    interjax's ``sgd_solve`` (the same steps) with ``A @`` and ``O @`` in place of the
    butterflies; everything in ``v``'s dtype.
    """
    p, r, _, history = sgd_solve(
        v,
        tau,
        optimizer=optimizer,
        num_steps=num_steps,
        transforms=(lambda x: a @ x, lambda x: o @ x),
    )
    return p, r, jnp.abs(a @ p).sum() + jnp.abs(o @ r).sum(), history


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps"))
def interjax_sgd_history(v, tau, *, optimizer, num_steps):
    """interjax's SGD loop on one sample, with its objective history (for the comparison)."""
    return sgd_solve(v, tau, optimizer=optimizer, num_steps=num_steps)[3]


def objective64(p, r) -> float:
    """``Σ|I_and(p)| + Σ|I_or(r)|`` in float64 with interjax's transforms (no fold)."""
    p = jnp.asarray(np.asarray(p, np.float64))
    r = jnp.asarray(np.asarray(r, np.float64))
    return float(jnp.abs(ij.and_interactions(p)).sum() + jnp.abs(ij.or_interactions(r)).sum())


def peak_rss_bytes() -> int:
    """Peak resident set of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def dense_bytes(n: int) -> int:
    return 2 * 4 * 4**n  # two float32 2^n × 2^n matrices


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------
def make_values_fn(train_steps: int, sample: int):
    ds = data.breast_cancer(seed=0)
    net = data.MLP(NUM_FEATURES, 2, hidden=(64, 64), rngs=nnx.Rngs(0))
    if train_steps:
        data.train_classifier(net, ds.x_train, ds.y_train, steps=train_steps, seed=0)
    x, y = jnp.asarray(ds.x_test[sample]), int(ds.y_test[sample])
    model = ij.from_nnx(net, output=ij.log_odds(target=y))

    def values(n: int) -> jax.Array:
        return ij.evaluate(model, x, ij.Players.features(n, num_features=NUM_FEATURES))

    return values, y


def _estimate(measured: list[tuple[int, float]], n: int) -> float | None:
    """Dense run time at n: growth per player from the last two measured n, clamped to 2x-4x
    (the work is 4^n per step; small n are overhead-bound); 4x per player from one point."""
    return extrapolate_seconds(measured, n, default_growth=4.0, max_growth=4.0)


# ----------------------------------------------------------------------------------------------
# benchmark
# ----------------------------------------------------------------------------------------------
def _keep(last: dict, name: str, fn):
    """``fn`` that also stores its latest output in ``last[name]`` (no extra run afterwards)."""

    def call():
        last[name] = fn()
        return last[name]

    return call


def _departs(hist, ref, rel: float = 1e-3) -> int | None:
    """First step where ``hist`` departs from ``ref`` by more than ``rel`` relative, or None."""
    bad = np.abs(hist - ref) > rel * np.abs(ref)
    return int(np.argmax(bad)) if bad.any() else None


def _ratios(res: dict, num: str, den: str) -> dict:
    """``round_ratios``, or the ratio of medians alone where ``num`` was timed by one run."""
    if len(res[num]["times_s"]) == len(res[den]["times_s"]):
        return round_ratios(res, num, den)
    return {
        "ratio_of_medians": res[num]["median_s"] / res[den]["median_s"],
        "median_of_round_ratios": None,
        "per_round": [],
    }


def time_dense_once(a, o, v32, tau32, opt, num_steps) -> tuple[dict, tuple]:
    """One steady run of the dense loop, compiled ahead of time (compile timed apart)."""
    t0 = time.perf_counter()
    compiled = dense_sgd.lower(a, o, v32, tau32, optimizer=opt, num_steps=num_steps).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(a, o, v32, tau32))
    run_s = time.perf_counter() - t0
    timing = {
        "first_call_s": compile_s + run_s,
        "times_s": [run_s],
        "median_s": run_s,
        "min_s": run_s,
        "compile_s": compile_s,
        "single_run": True,
    }
    return timing, out


def bench_n(
    values_fn,
    n,
    *,
    num_steps,
    lr,
    repeats,
    max_dense_gib,
    cap_s,
    budget_s,
    check64_max_n,
    measured,
) -> dict:
    v = values_fn(n)
    v64 = jnp.asarray(v, jnp.float64)
    tau64 = Q_RATIO * jnp.abs(v64[-1] - v64[0])
    v32, tau32 = v64.astype(jnp.float32), tau64.astype(jnp.float32)
    opt = default_sgd(lr, num_steps)  # one object: one jit cache entry, the same schedule
    sgd_solver = ij.SGD(num_steps=num_steps, optimizer=opt)
    entry: dict[str, Any] = {
        "n": n,
        "tau": float(tau64),
        "v_empty": float(v64[0]),
        "v_full": float(v64[-1]),
        "dense_matrix_bytes": dense_bytes(n),
        "peak_rss_bytes_before": peak_rss_bytes(),
    }
    last: dict[str, Any] = {}
    fns: dict[str, Any] = {
        "optimal": _keep(last, "optimal", lambda: ij.fit_and_or(v64, Q_RATIO)),
        "interjax_sgd": _keep(
            last,
            "interjax_sgd",
            lambda: ij.fit_and_or(v64, Q_RATIO, solver=sgd_solver),
        ),
    }
    skip, single = None, False
    estimate = _estimate(measured, n)
    entry["dense_estimated_s"] = estimate
    if dense_bytes(n) > max_dense_gib * GIB:
        skip = (
            f"dense SGD not run: its two float32 matrices would take "
            f"{dense_bytes(n) / GIB:.3g} GiB > --max-dense-gib {max_dense_gib:g}"
        )
    elif estimate is not None and estimate > cap_s:
        skip = (
            f"dense SGD not run: estimated {estimate:.3g} s per run (from the last measured n) "
            f"exceeds --cap {cap_s:g} s"
        )
    elif estimate is not None and estimate * (1 + repeats) > budget_s:
        single = True  # one AOT-compiled run instead of first call + repeats
    entry["dense_single_run"] = single
    jax.clear_caches()  # first calls measure compiles, not earlier n's cache hits
    a = o = None
    if skip is None:
        t0 = time.perf_counter()
        a_np = dense_and_matrix(n)
        o_np = dense_or_matrix(n)
        entry["dense_build_numpy_s"] = time.perf_counter() - t0
        a = jax.device_put(a_np)
        del a_np
        o = jax.device_put(o_np)
        del o_np
        jax.block_until_ready((a, o))
        entry["dense_build_s"] = time.perf_counter() - t0
        entry["peak_rss_bytes_after_build"] = peak_rss_bytes()
        if not single:
            fns["dense_sgd"] = _keep(
                last,
                "dense_sgd",
                lambda: dense_sgd(a, o, v32, tau32, optimizer=opt, num_steps=num_steps),
            )
    print(
        f"[dense] n={n}: {', '.join(fns)}; first call + {repeats} interleaved rounds"
        + (f" ({skip})" if skip else "")
        + (
            f"; dense SGD: one AOT-compiled run (estimated {estimate:.3g} s per run, "
            f"{1 + repeats} runs would exceed --budget {budget_s:g} s)"
            if single
            else ""
        ),
        flush=True,
    )
    res = time_interleaved(fns, repeats)
    if single:
        res["dense_sgd"], last["dense_sgd"] = time_dense_once(a, o, v32, tau32, opt, num_steps)
    entry["timings"] = res
    entry["peak_rss_bytes_after_dense"] = peak_rss_bytes()

    fit, sfit = last["optimal"], last["interjax_sgd"]
    lower = float(fit.lower_bound)
    entry["optimal"] = {
        "objective": float(fit.objective),
        "lower_bound": lower,
        "relative_gap": float(fit.relative_gap),
        "converged": bool(fit.converged),
        "iterations": int(fit.iterations),
        "objective_over_lower_bound": float(fit.objective) / lower,
    }
    s_obj = float(sfit.objective)
    ij_hist = np.asarray(interjax_sgd_history(v64, tau64, optimizer=opt, num_steps=num_steps))
    entry["start_objective"] = float(ij_hist[0])  # γ = q = 0: v_and = v_or = v/2
    entry["start_objective_over_lower_bound"] = float(ij_hist[0]) / lower
    entry["interjax_sgd"] = {
        "objective": s_obj,
        "objective_over_lower_bound": s_obj / lower,
        "sgd_certificate_lower_bound": float(sfit.lower_bound),
        "history_first_last": [float(ij_hist[0]), float(ij_hist[-1])],
    }
    # the call as the docs write it: SGD(learning_rate=) builds the optimizer from the settings
    kw_s = call_seconds(
        lambda: ij.fit_and_or(v64, Q_RATIO, solver=ij.SGD(num_steps=num_steps, learning_rate=lr))
    )
    entry["interjax_sgd"]["learning_rate_kwarg_call_s"] = kw_s

    if skip is None:
        p, r, obj32, d_hist = (np.asarray(t) for t in last["dense_sgd"])
        d_obj = objective64(p, r)
        d_hist = d_hist.astype(np.float64)
        viol = float(np.max(np.abs(p.astype(np.float64) + r - np.asarray(v64)) - float(tau64)))
        entry["dense_sgd"] = {
            "objective": d_obj,
            "objective_float32": float(obj32),
            "objective_over_lower_bound": d_obj / lower,
            "max_error_box_violation": max(viol, 0.0),
            "objective_rel_diff_vs_interjax_sgd": abs(d_obj - s_obj) / s_obj,
            "history_max_rel_diff_vs_interjax_sgd": float(
                np.max(np.abs(d_hist - ij_hist) / np.abs(ij_hist))
            ),
            "history_departs_1e-3_at_step": _departs(d_hist, ij_hist),
            "history_first_last": [float(d_hist[0]), float(d_hist[-1])],
        }
        entry["ratio_dense_over_optimal"] = _ratios(res, "dense_sgd", "optimal")
        entry["ratio_dense_over_interjax_sgd"] = _ratios(res, "dense_sgd", "interjax_sgd")
        measured.append((n, res["dense_sgd"]["median_s"]))
        last.pop("dense_sgd")
        del a, o, fns
        if n <= check64_max_n:
            # the same dense loop in float64: must retrace interjax's float64 SGD
            a64 = jnp.asarray(dense_and_matrix(n, np.float64))
            o64 = jnp.asarray(dense_or_matrix(n, np.float64))
            *_, h64 = dense_sgd(a64, o64, v64, tau64, optimizer=opt, num_steps=num_steps)
            h64 = np.asarray(h64)
            d64 = float(np.max(np.abs(h64 - ij_hist) / np.abs(ij_hist)))
            entry["dense_float64_check"] = {
                "history_max_rel_diff_vs_interjax_sgd": d64,
                "history_last": float(h64[-1]),
                "same_algorithm_1e-9": d64 < 1e-9,
            }
            if d64 >= 1e-9:
                print(
                    f"[dense] n={n}: WARNING the float64 dense loop departs from interjax's "
                    f"SGD by {d64:.2e} relative",
                    flush=True,
                )
            del a64, o64
    else:
        entry["dense_sgd"] = {"status": "skipped", "reason": skip}
    entry["skip"] = skip
    return entry


def rows_for(e: dict, num_steps: int, lr: float) -> list[dict]:
    n, t = e["n"], e["timings"]
    opt, s = e["optimal"], e["interjax_sgd"]
    cert = (
        f"optimal {opt['objective_over_lower_bound']:.4g}x, certified within "
        f"{opt['relative_gap']:.1e}" + ("" if opt["converged"] else " (NOT converged)")
    )
    d = e["dense_sgd"]
    dense_s = t["dense_sgd"]["median_s"] if "dense_sgd" in t else None
    mem = (
        f"dense matrices {e['dense_matrix_bytes'] / MIB:.4g} MiB float32, process peak RSS "
        f"{e['peak_rss_bytes_after_dense'] / MIB:.4g} MiB after the dense run"
    )
    sched = f"{num_steps} SGD steps, lr {lr:g} decaying to a tenth, momentum 0.9"
    if e["skip"] is None:
        q1 = (
            f"dense SGD objective {d['objective_over_lower_bound']:.3g}x the certified lower "
            f"bound; {cert}"
        )
        n1 = (
            f"{sched}; {mem}; start (γ = q = 0) {e['start_objective_over_lower_bound']:.3g}x "
            f"the bound; first call - steady: dense {t['dense_sgd']['compile_s']:.2g} s "
            f"(matrices built beforehand in {e['dense_build_s']:.2g} s), optimal "
            f"{t['optimal']['compile_s']:.2g} s"
            + (
                "; dense timed by one AOT-compiled run (--budget)"
                if t["dense_sgd"].get("single_run")
                else ""
            )
        )
        c64 = e.get("dense_float64_check")
        same = (
            f"the dense loop in float64 retraces interjax's SGD to "
            f"{c64['history_max_rel_diff_vs_interjax_sgd']:.1e} relative; "
            if c64
            else ""
        )
        dep = d["history_departs_1e-3_at_step"]
        q2 = (
            f"same algorithm: {same}final objectives {s['objective']:.6g} (interjax, float64) "
            f"vs {d['objective']:.6g} (dense, float32), rel diff "
            f"{d['objective_rel_diff_vs_interjax_sgd']:.1e}"
            + (
                f" (float32 rounding: the histories part by > 1e-3 from step {dep})"
                if dep is not None
                else f" (histories within {d['history_max_rel_diff_vs_interjax_sgd']:.1e})"
            )
            + f"; {s['objective_over_lower_bound']:.3g}x / "
            f"{d['objective_over_lower_bound']:.3g}x the certified bound"
        )
    else:
        q1 = cert
        n1 = f"{e['skip']}; {sched}"
        q2 = f"interjax SGD objective {s['objective_over_lower_bound']:.3g}x the certified bound"
    n2 = (
        f"{sched}; interjax SGD called with ij.SGD(optimizer=default_sgd(lr, steps)) built once "
        f"(ij.SGD(learning_rate=lr) builds its optimizer from the settings: "
        f"{s['learning_rate_kwarg_call_s']:.2g} s per call)"
        + ("" if e["skip"] is None else f"; {e['skip']}")
    )
    return [
        result_row(
            BENCHMARK,
            f"n={n}",
            t["optimal"]["median_s"],
            peer=PEER,
            peer_s=dense_s,
            quality=q1,
            note=n1,
        ),
        result_row(
            BENCHMARK,
            f"n={n}, interjax solver='sgd' (same schedule)",
            t["interjax_sgd"]["median_s"],
            peer=PEER,
            peer_s=dense_s,
            quality=q2,
            note=n2,
        ),
    ]


def _f(t: float | None, digits: int = 3) -> str:
    return "–" if t is None else f"{t:.{digits}g}"


def table(per_n: list[dict]) -> str:
    lines = [
        "| n | optimal s | interjax SGD s | dense SGD s | dense compile s | dense MiB | "
        "peak RSS MiB | start / bound | optimal / bound | interjax SGD / bound | "
        "dense SGD / bound | SGD obj rel diff | dense/optimal | dense/interjax SGD |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in per_n:
        t, d = e["timings"], e["dense_sgd"]
        ran = e["skip"] is None
        lines.append(
            f"| {e['n']} | {_f(t['optimal']['median_s'])} | {_f(t['interjax_sgd']['median_s'])} | "
            f"{_f(t['dense_sgd']['median_s']) if ran else 'skipped'} | "
            f"{_f(t['dense_sgd']['compile_s']) if ran else '–'} | "
            f"{e['dense_matrix_bytes'] / MIB:.4g} | {e['peak_rss_bytes_after_dense'] / MIB:.0f} | "
            f"{e['start_objective_over_lower_bound']:.3f} | "
            f"{e['optimal']['objective_over_lower_bound']:.4f} | "
            f"{e['interjax_sgd']['objective_over_lower_bound']:.3f} | "
            f"{_f(d.get('objective_over_lower_bound'), 4)} | "
            f"{_f(d.get('objective_rel_diff_vs_interjax_sgd'), 2)} | "
            f"{_f(e['ratio_dense_over_optimal']['ratio_of_medians']) if ran else '–'} | "
            f"{_f(e['ratio_dense_over_interjax_sgd']['ratio_of_medians']) if ran else '–'} |"
        )
    skipped = [f"n={e['n']}: {e['skip']}" for e in per_n if e["skip"]]
    return "\n".join(lines + skipped)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="n = 8, 10, 500 steps, 2 rounds")
    p.add_argument(
        "--out", type=Path, default=Path("benchmarks/results"), help="output folder for the JSON"
    )
    p.add_argument("--ns", type=int, nargs="+", default=None, help="players n (default 8 10 12 14)")
    p.add_argument(
        "--num-steps", type=int, default=None, help="SGD steps, both SGDs (default 2000; quick 500)"
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=1e-5,
        help="start learning rate of both SGDs (default 1e-5: the best of bench_solver.py's "
        "range at n = 10)",
    )
    p.add_argument(
        "--max-dense-gib",
        type=float,
        default=4.0,
        help="skip the dense run where its two float32 matrices exceed this many GiB",
    )
    p.add_argument(
        "--cap",
        type=float,
        default=1800.0,
        help="skip a dense run predicted to take longer than this many seconds",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=900.0,
        help="where first call + --repeats dense runs are predicted to exceed this many seconds,"
        " time the dense SGD by one ahead-of-time compiled run instead",
    )
    p.add_argument(
        "--check64-max-n",
        type=int,
        default=10,
        help="up to this n, also run the dense loop in float64 (untimed) and check that it "
        "retraces interjax's SGD",
    )
    p.add_argument(
        "--train-steps",
        type=int,
        default=600,
        help="training steps of the MLP before its values are taken (0: untrained)",
    )
    p.add_argument("--sample", type=int, default=0, help="breast-cancer test sample")
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="steady interleaved rounds per n (default 3; quick 2)",
    )
    p.add_argument(
        "--device-name", default=None, help="free text naming the machine, recorded in the results"
    )
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 3)
    ns = args.ns or ([8, 10] if args.quick else [8, 10, 12, 14])
    num_steps = args.num_steps or (500 if args.quick else 2000)
    lr = args.learning_rate
    if max(ns) > NUM_FEATURES or min(ns) < 1:
        raise SystemExit(f"--ns must lie in 1..{NUM_FEATURES}, got {ns}")
    settings = {
        "mode": "quick" if args.quick else "full",
        "ns": ns,
        "repeats": repeats,
        "num_steps": num_steps,
        "learning_rate": lr,
        "schedule": "interjax.solve._sgd.default_sgd: optax.sgd(exponential_decay(lr, "
        "num_steps, 0.1), momentum=0.9), q clipped to [-tau, tau] each step; one optimizer "
        "object shared by both SGDs",
        "q_ratio": Q_RATIO,
        "max_dense_gib": args.max_dense_gib,
        "cap_s": args.cap,
        "budget_s": args.budget,
        "check64_max_n": args.check64_max_n,
        "train_steps": args.train_steps,
        "sample": args.sample,
        "model": "interjax.data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0)), float32, "
        + (f"trained {args.train_steps} steps (seed 0)" if args.train_steps else "untrained"),
        "value": "ij.log_odds(target=y) of breast-cancer test input --sample",
        "players": "ij.Players.features(n, num_features=30): features 0..n-1, rest kept",
        "baseline": "zeros",
        "dense": "numpy-built float32 A and O (2^n x 2^n), jnp matvecs, jitted lax.scan",
        "interjax_sgd": "ij.fit_and_or(v, 0.02, solver=ij.SGD(num_steps=S, optimizer=opt)), "
        "float64",
        "optimal": "ij.fit_and_or(v, 0.02) (default ij.PDHG(): tol 1e-3, float64)",
        "objectives": "recomputed in float64 with ij.and_interactions / ij.or_interactions "
        "from each method's (v_and, v_or), before any fold",
        "x64": bool(jax.config.jax_enable_x64),
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    result: dict[str, Any] = {"machine": machine_info(args.device_name), "settings": settings}
    t0 = time.perf_counter()
    result["dense_matrix_check"] = check_dense_matrices(4)
    print(f"[dense] matrices match interjax at n=4: {result['dense_matrix_check']}", flush=True)
    values_fn, y = make_values_fn(args.train_steps, args.sample)
    settings["target"] = y
    per_n: list[dict] = []
    measured: list[tuple[int, float]] = []
    for n in ns:
        per_n.append(
            bench_n(
                values_fn,
                n,
                num_steps=num_steps,
                lr=lr,
                repeats=repeats,
                max_dense_gib=args.max_dense_gib,
                cap_s=args.cap,
                budget_s=args.budget,
                check64_max_n=args.check64_max_n,
                measured=measured,
            )
        )
    result["per_n"] = per_n
    result["rows"] = [row for e in per_n for row in rows_for(e, num_steps, lr)]
    result["machine"]["load_average_at_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["total_wall_s"] = time.perf_counter() - t0
    print()
    print(table(per_n))
    stem = f"bench_dense_{jax.default_backend()}{'_quick' if args.quick else ''}"
    path = write_json(args.out / f"{stem}.json", result)
    print(f"wrote {path} (total {result['total_wall_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
