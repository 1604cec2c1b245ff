"""``interjax demo``: the main job end to end on bundled data (breast cancer and digits).

Trains a small Flax NNX classifier with optax on each dataset, explains one test sample per
dataset on all 2**n masked inputs (one compiled sweep), and reports the exact AND interactions
(Harsanyi dividends), the exact OR interactions, the Shapley values and the strongest pairwise
Shapley interactions, with the universal-matching residual and the numerical noise floor; then
the sparse AND-OR split with its certified gap and the salient interactions.
Everything printed is also written to ``OUT/demo_summary.json`` and ``OUT/demo_arrays.npz``.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

__all__ = ["run_demo"]


def _fmt_set(players, names):
    return "{" + ", ".join(names[i] for i in players) + "}"


def _strongest(I, n, names, k, floor):
    import interjax as ij

    I = np.asarray(I)
    order = np.argsort(-np.abs(I[1:]))[:k] + 1
    return [
        {
            "players": list(ij.coalition_players(int(s), n)),
            "names": _fmt_set(ij.coalition_players(int(s), n), names),
            "order": int(ij.orders(n)[s]),
            "value": float(I[s]),
            "above_noise_floor": bool(abs(I[s]) > floor[s]),
        }
        for s in order
    ]


def explain_one(model_out, x, players, baseline, names, say, top=8):
    """Values, AND/OR interactions, Shapley values and checks for one input; returns a dict."""
    import interjax as ij

    n = players.n
    t0 = time.perf_counter()
    v = ij.evaluate(model_out, x, players, mask_value=baseline).block_until_ready()
    t_eval = time.perf_counter() - t0
    i_and, i_or = ij.and_interactions(v), ij.or_interactions(v)
    phi = np.asarray(ij.shapley_values(v))
    sii = np.asarray(ij.pairwise_shapley_interactions(v))
    floor_and = np.asarray(ij.noise_floor(v, kind="and"))
    floor_or = np.asarray(ij.noise_floor(v, kind="or"))
    residual_and = float(np.abs(np.asarray(ij.and_inverse(i_and)) - np.asarray(v)).max())
    residual_or = float(np.abs(np.asarray(ij.or_inverse(i_or)) - np.asarray(v)).max())
    pairs = sorted(
        ((abs(sii[i, j]), i, j) for i in range(n) for j in range(i + 1, n)), reverse=True
    )[:5]
    t0 = time.perf_counter()
    fit = ij.fit_and_or(v)  # sparse AND-OR split, certified optimum (docs/method.md §3)
    t_fit = time.perf_counter() - t0
    sparse = [{**r, "names": _fmt_set(r["players"], names)} for r in ij.salient(fit).as_records()]
    result = {
        "n": n,
        "evaluate_seconds": t_eval,
        "v_empty": float(v[0]),
        "v_full": float(v[-1]),
        "strongest_and": _strongest(i_and, n, names, top, floor_and),
        "strongest_or": _strongest(i_or, n, names, top, floor_or),
        "shapley": {names[i]: float(phi[i]) for i in range(n)},
        "strongest_pairwise_sii": [
            {"pair": [names[i], names[j]], "value": float(sii[i, j])} for _, i, j in pairs
        ],
        "matching_residual_and": residual_and,
        "matching_residual_or": residual_or,
        "shapley_efficiency_residual": float(abs(phi.sum() - (v[-1] - v[0]))),
        "and_or_fit": {
            "q_ratio": fit.q_ratio,
            "objective": float(fit.objective),
            "lower_bound": float(fit.lower_bound),
            "relative_gap": float(fit.relative_gap),
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            "seconds": t_fit,
            "matching_residual": float(ij.matching_error(v, fit.and_, fit.or_, fit.q)),
            "exact_and_l1": float(np.abs(np.asarray(i_and)).sum()),
            "salient": sparse,
        },
    }
    say(
        f"  v(∅) = {result['v_empty']:+.4f}   v(N) = {result['v_full']:+.4f}   "
        f"(2^{n} = {2**n} masked inputs in {t_eval:.2f} s incl. compile)"
    )
    for kind in ("and", "or"):
        say(f"  strongest exact {kind.upper()} interactions:")
        for r in result[f"strongest_{kind}"]:
            flag = "" if r["above_noise_floor"] else "  (below noise floor)"
            say(f"    {r['value']:+9.4f}  order {r['order']:2d}  {r['names']}{flag}")
    say("  Shapley values:")
    for name, val in sorted(result["shapley"].items(), key=lambda kv: -abs(kv[1])):
        say(f"    {val:+9.4f}  {name}")
    say("  strongest pairwise Shapley interactions:")
    for r in result["strongest_pairwise_sii"]:
        say(f"    {r['value']:+9.4f}  {r['pair'][0]} × {r['pair'][1]}")
    say(
        f"  checks: universal matching residual AND {residual_and:.1e}, OR {residual_or:.1e}; "
        f"Σφ - (v(N) - v(∅)) = {result['shapley_efficiency_residual']:.1e}"
    )
    f = result["and_or_fit"]
    say(
        f"  sparse AND-OR split (q_ratio {fit.q_ratio}): L1 {f['objective']:.4f} against "
        f"{f['exact_and_l1']:.4f} for AND alone, certified within {f['relative_gap']:.1e} of the "
        f"optimum ({f['iterations']} iterations, {t_fit:.2f} s incl. compile)"
    )
    say(f"  {len(sparse)} salient interactions (|I| >= 5% of the largest):")
    for r in sparse[:top]:
        say(f"    {r['value']:+9.4f}  {r['kind'].upper():3s} order {r['order']:2d}  {r['names']}")
    arrays = {
        "v": np.asarray(v),
        "and": np.asarray(i_and),
        "or": np.asarray(i_or),
        "shapley": phi,
        "pairwise_sii": sii,
        "fit_and": np.asarray(fit.and_),
        "fit_or": np.asarray(fit.or_),
        "fit_q": np.asarray(fit.q),
    }
    return result, arrays


def _train_and_pick(net, ds, steps, seed, say):
    """Train ``net`` on ``ds``; return it, its test accuracy and the first correctly classified
    test sample with its label."""
    from interjax import data

    t0 = time.perf_counter()
    data.train_classifier(net, ds.x_train, ds.y_train, steps=steps, seed=seed)
    acc = data.accuracy(net, ds.x_test, ds.y_test)
    say(
        f"  trained {type(net).__name__} in {time.perf_counter() - t0:.1f} s: test accuracy "
        f"{acc:.3f}"
    )
    correct = np.flatnonzero(np.asarray(net(ds.x_test)).argmax(-1) == ds.y_test)
    i = int(correct[0]) if correct.size else 0
    return net, acc, i, int(ds.y_test[i])


def run_demo(
    out_dir: str | Path = "interjax-out", *, quiet: bool = False, steps: int = 600, seed: int = 0
) -> dict:
    """Run the demo; returns the summary dict that is also written to ``out_dir``.

    Changes no global setting: ``interjax demo`` turns on JAX's x64 mode once at its start,
    so the transforms and fits run in float64 (a caller of this function decides for itself).
    """
    from flax import nnx

    import interjax as ij
    from interjax import data
    from interjax._files import write_json_atomic, write_npz_atomic

    def say(msg=""):
        if not quiet:
            print(msg, flush=True)

    out_dir = Path(out_dir)
    summary: dict = {
        "interjax_version": ij.__version__,
        "jax_version": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "seed": seed,
    }
    arrays: dict = {}

    # 1. breast cancer: an MLP, 10 players = the 10 measurements (mean, se and worst columns)
    bc = data.breast_cancer(seed=seed)
    say(
        f"[1/2] breast cancer: {len(bc.x_train)} train / {len(bc.x_test)} test samples, 30 "
        "features grouped into 10 players"
    )
    mlp, acc, i, y = _train_and_pick(
        data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(seed)), bc, steps, seed, say
    )
    players = data.breast_cancer_players()
    say(
        f"  explaining test sample {i} (class {str(bc.class_names[y])!r}), value = log-odds, "
        "baseline = training mean"
    )
    res, arr = explain_one(
        ij.from_nnx(mlp, output=ij.log_odds(target=y)),
        bc.x_test[i],
        players,
        ij.mean_mask_value(bc.x_train),
        list(players.names),
        say,
    )
    summary["breast_cancer"] = {"test_accuracy": acc, "sample": i, "target": y, **res}
    arrays.update({f"breast_cancer_{k}": a for k, a in arr.items()})

    # 2. digits: a small CNN, 12 patch players of 2x2 pixels
    dg = data.digits(seed=seed)
    say(
        f"\n[2/2] digits: {len(dg.x_train)} train / {len(dg.x_test)} test 8x8 images, 12 "
        "patch players (2x2 pixels)"
    )
    cnn, acc, i, y = _train_and_pick(data.SmallCNN(rngs=nnx.Rngs(seed)), dg, steps, seed, say)
    players = data.digit_patch_players()
    names = [f"patch{p}" for p in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14)]
    say(f"  explaining test image {i} (digit {y}), baseline = black (zeros)")
    res, arr = explain_one(
        ij.from_nnx(cnn, output=ij.log_odds(target=y)), dg.x_test[i], players, None, names, say
    )
    summary["digits"] = {"test_accuracy": acc, "sample": i, "target": y, **res}
    arrays.update({f"digits_{k}": a for k, a in arr.items()})
    arrays["digits_image"] = dg.x_test[i]

    write_json_atomic(out_dir / "demo_summary.json", summary)
    write_npz_atomic(out_dir / "demo_arrays.npz", **arrays)
    say(f"\nwrote {out_dir / 'demo_summary.json'} and {out_dir / 'demo_arrays.npz'}")
    return summary
