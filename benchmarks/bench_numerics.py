"""Float32 and float64 error of the transforms against an exact reference (issue 7, Numerics).

    python benchmarks/bench_numerics.py [--quick] [--out DIR] [--device-name TEXT] [--ns N ...]

Inputs are float32 numbers, so they are exactly representable in both precisions: (a) normal
random values cast to float32, (b) the float32 log-odds (true class) of an MLP (30 → 64 → 64 → 2)
trained for 300 steps on the breast-cancer table, with the first n of the 30 features as players
(the others kept) and the training mean as baseline, on two held-out samples: sample 0, a
confident one (log-odds 5.6 to 7.8 over all masks at n = 14), and sample 23, the one of the first
40 with the widest range (-6.4 to 11.8 at n = 14). The float32 transform is exact on values that
all share one binade and whose partial sums stay in it (sample 0); it rounds where small values
with finer spacing meet large partial sums (values near zero: sample 23, normal values).

**Exact reference.** Every float32 number is an integer times a power of two, so the vector is
scaled by one common power of two ``2**k`` into Python integers and the butterflies run on a
numpy object array of Python ints (big-int arithmetic, no rounding): AND (Möbius / Harsanyi
dividends), OR (docs/method.md §2: ``I_or = -Möbius(v(N∖·))`` with ``I_or(∅) = v(∅)``) and Shapley
values ``φ_i = Σ_{S∋i} I_and(S)/|S|``, kept exact as ``Fraction(Σ_{S∋i} I(S)·L/|S|, L·2**k)``
with ``L = lcm(1, …, n)``.

**Errors.** interjax runs each transform in float64 (x64 on) and in float32 (inside
``jax.enable_x64(False)`` on the float32 input). The error of each entry is computed exactly and
rounded once: the butterflies only add and subtract numbers that are multiples of ``2**-k``, and a
rounded sum or difference of such numbers is again one, so ``approx · 2**k`` is an integer and
``approx - exact`` is an integer difference (checked; a Fraction fallback handles any entry where
it fails). Shapley errors use Fractions. Reported per n, input and precision: the largest
absolute error, the same divided by the largest exact ``|I(S)|`` over ``S ≠ ∅`` (``|φ_i|`` for
Shapley), the number of entries whose error exceeds ``ij.noise_floor(v, eps=0.0)`` (the floor's
``eps_t`` term alone, in the precision of the transform: the inputs are exact here, so this count
must be 0), the largest error / floor (overall and per order |S|), and the count over the default
floor (``eps`` = float32's, the model's rounding). Accuracy only: no timings (transform times
are in ``bench_scaling``). About 3.5 minutes on a 2-core CPU (the object-int butterflies at
n = 20 take a few seconds each).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, result_row, write_json  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import data  # noqa: E402

PRECISIONS = ("float64", "float32")
KINDS = ("and", "or")
MLP_SAMPLES = (0, 23)  # a confident sample; one whose masked log-odds cross zero
_to_int = np.frompyfunc(int, 1, 1)


# ---------------------------------------------------------------- exact integer reference


def scaled_ints(v32) -> tuple[np.ndarray, int]:
    """``(a, k)`` with ``v32 == a / 2**k`` exactly: ``a`` an object array of Python ints.

    ``v32`` must hold float32 numbers (finite); each is ``m · 2**(e-24)`` with ``m`` an integer
    of at most 24 bits (``np.frexp``), and ``k`` is the largest ``24 - e``.
    """
    v32 = np.asarray(v32)
    if v32.dtype != np.float32:
        raise TypeError(f"expected float32 values, got {v32.dtype}")
    if not np.isfinite(v32).all():
        raise ValueError("values must be finite")
    mant, ex = np.frexp(v32.astype(np.float64))
    m = np.ldexp(mant, 24).astype(np.int64)  # exact: at most 24 significant bits
    shift = 24 - ex.astype(np.int64)
    k = int(shift[m != 0].max()) if (m != 0).any() else 0
    a = m.astype(object) << (k - shift).astype(object)
    return a, k


def exact_and(a: np.ndarray) -> np.ndarray:
    """Möbius transform of integer values (object array, bitmask order): I(S) = Σ_{T⊆S}
    (-1)^{|S|-|T|} a(T), by n exact butterfly passes."""
    n = len(a).bit_length() - 1
    w = np.array(a, dtype=object)
    for i in range(n):
        r = w.reshape(-1, 2, 2**i)
        r[:, 1, :] -= r[:, 0, :]
    return w


def exact_or(a: np.ndarray) -> np.ndarray:
    """I_or(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} a(N∖T) for S ≠ ∅, I_or(∅) = a(∅) (docs/method.md §2)."""
    w = -exact_and(np.array(a[::-1], dtype=object))
    w[0] = a[0]
    return w


def _sizes(n: int) -> np.ndarray:
    s = np.zeros(2**n, dtype=np.int64)
    for i in range(n):
        s += (np.arange(2**n) >> i) & 1
    return s


def exact_shapley(i_and: np.ndarray, k: int) -> list[Fraction]:
    """φ_i = Σ_{S∋i} I(S)/|S| as exact Fractions, from exact integer dividends ``i_and`` of
    values scaled by ``2**k``: the sum of ``I(S)·(L/|S|)`` over ``S ∋ i`` is an integer, divided
    by ``L·2**k`` with ``L = lcm(1, …, n)``."""
    n = len(i_and).bit_length() - 1
    big = math.lcm(*range(1, n + 1)) if n else 1
    weight = np.array([0] + [big // int(s) for s in _sizes(n)[1:]], dtype=object)
    w = i_and * weight
    return [Fraction(int(w.reshape(-1, 2, 2**i)[:, 1, :].sum()), big << k) for i in range(n)]


def on_grid(approx, k: int) -> np.ndarray:
    """Whether each entry of ``approx`` is a (finite) multiple of ``2**-k``."""
    scaled = np.ldexp(np.asarray(approx, dtype=np.float64), k)
    return np.isfinite(scaled) & (scaled == np.floor(scaled))


def exact_error(approx, exact: np.ndarray, k: int) -> np.ndarray:
    """``|approx - exact / 2**k|`` for every entry, computed exactly and rounded once to float64.

    ``approx`` (any float array) times ``2**k`` is an integer wherever it was computed by sums
    and differences of multiples of ``2**-k``; those entries are compared as integers, any other
    entry through Fractions.
    """
    x = np.asarray(approx, dtype=np.float64)
    scaled = np.ldexp(x, k)
    whole = on_grid(x, k)
    err = np.full(x.shape, np.inf)
    if whole.any():
        diff = _to_int(scaled[whole]) - exact[whole]
        err[whole] = (np.abs(diff) / (1 << k)).astype(np.float64)
    for j in np.flatnonzero(~whole & np.isfinite(x)):
        err[j] = float(abs(Fraction(float(x[j])) - Fraction(int(exact[j]), 1 << k)))
    return err


def max_abs(exact: np.ndarray, k: int, skip_empty: bool = True) -> float:
    """Largest |exact / 2**k| (over S ≠ ∅ by default)."""
    part = exact[1:] if skip_empty else exact
    return max(abs(int(z)) for z in part) / (1 << k)


# ---------------------------------------------------------------- inputs


def normal_values(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=2**n).astype(np.float32)


class ModelValues:
    """The float32 log-odds (true class) of one trained MLP on held-out breast-cancer samples."""

    def __init__(self, seed: int = 0, steps: int = 300):
        self.ds = data.breast_cancer(seed=seed)
        self.net = data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(seed))
        data.train_classifier(self.net, self.ds.x_train, self.ds.y_train, steps=steps, seed=seed)
        self.baseline = ij.mean_mask_value(self.ds.x_train)
        self.test_accuracy = float(data.accuracy(self.net, self.ds.x_test, self.ds.y_test))

    def __call__(self, n: int, sample: int = 0) -> np.ndarray:
        x, y = self.ds.x_test[sample], int(self.ds.y_test[sample])
        model = ij.from_nnx(self.net, output=ij.log_odds(target=y))
        players = ij.Players.features(n, num_features=30)
        v = np.asarray(ij.evaluate(model, x, players, mask_value=self.baseline))
        v32 = v.astype(np.float32)
        if not np.array_equal(v32.astype(v.dtype), v):  # the MLP runs in float32
            raise AssertionError("model values are not float32 numbers")
        return v32


# ---------------------------------------------------------------- interjax in each precision


def interjax_results(v32: np.ndarray, precision: str) -> dict:
    """AND, OR, Shapley and the two noise floors of each kind, computed by interjax in
    ``precision`` from the float32 input."""

    def run():
        v = jnp.asarray(v32)
        out = {
            "and": ij.and_interactions(v),
            "or": ij.or_interactions(v),
            "shapley": ij.shapley_values(v),
        }
        for kind in KINDS:
            out[f"floor0_{kind}"] = ij.noise_floor(v, kind=kind, eps=0.0)
            out[f"floor_{kind}"] = ij.noise_floor(v, kind=kind)
        out = {key: np.asarray(val) for key, val in out.items()}
        assert out["and"].dtype == np.dtype(precision), (out["and"].dtype, precision)
        return out

    if precision == "float32":
        with jax.enable_x64(False):
            return run()
    return run()


def measure(v32: np.ndarray) -> dict:
    """Exact reference of ``v32`` and the errors of interjax in float64 and float32."""
    n = len(v32).bit_length() - 1
    t0 = time.perf_counter()
    a, k = scaled_ints(v32)
    exact = {"and": exact_and(a)}
    exact["or"] = exact_or(a)
    phi = exact_shapley(exact["and"], k)
    ref_s = time.perf_counter() - t0
    scale = {kind: max_abs(exact[kind], k) for kind in KINDS}
    phi_scale = max(abs(float(p)) for p in phi)
    out = {
        "n": n,
        "scale_exponent_k": k,
        "reference_seconds": ref_s,
        "min_v": float(v32.min()),
        "max_v": float(v32.max()),
        "max_abs_interaction": scale,
        "max_abs_shapley": phi_scale,
    }
    order = np.asarray(ij.orders(n))
    for precision in PRECISIONS:
        res = interjax_results(v32, precision)
        rec = {}
        for kind in KINDS:
            err = exact_error(res[kind], exact[kind], k)
            floor0 = res[f"floor0_{kind}"].astype(np.float64)
            floor = res[f"floor_{kind}"].astype(np.float64)
            pos = floor0 > 0
            rec[kind] = {
                "max_abs_error": float(err.max()),
                "max_rel_error": float(err.max() / scale[kind]) if scale[kind] else None,
                "entries_with_error": int((err > 0).sum()),
                "entries_off_grid": int((~on_grid(res[kind], k)).sum()),  # Fraction fallback
                "over_floor_eps0": int((err > floor0).sum()),
                "max_error_over_floor_eps0": float((err[pos] / floor0[pos]).max())
                if pos.any()
                else None,
                "max_error_over_floor_eps0_by_order": [
                    float((err[m] / floor0[m]).max()) if m.any() else None
                    for m in (pos & (order == o) for o in range(n + 1))
                ],
                "over_floor_default_eps": int((err > floor).sum()),
                "max_floor_eps0": float(floor0.max()),
                "max_floor_default_eps": float(floor.max()),
            }
        phi_err = [
            float(abs(Fraction(float(x)) - p)) for x, p in zip(res["shapley"], phi, strict=True)
        ]
        rec["shapley"] = {
            "max_abs_error": max(phi_err),
            "max_rel_error": max(phi_err) / phi_scale if phi_scale else None,
        }
        out[precision] = rec
    return out


# ---------------------------------------------------------------- table


def _g(x) -> str:
    return "-" if x is None else "0" if x == 0 else f"{x:.1e}"


def rows(results) -> list[dict]:
    """One results-table line per input and n; no peer, no timing: the quality column holds
    the largest errors against the exact integer reference in both precisions (relative to the
    largest exact abs(I(S)), S != ∅, or abs(phi_i)) and the entries over the noise floor."""
    out = []
    for run in results["runs"]:
        parts = []
        for precision in PRECISIONS:
            r = run[precision]
            errs = [
                f"{name} {_g(r[key]['max_abs_error'])} ({_g(r[key]['max_rel_error'])})"
                for name, key in (("AND", "and"), ("OR", "or"), ("Shapley", "shapley"))
            ]
            parts.append(f"{precision}: " + ", ".join(errs))
        over0, over = (
            " and ".join(str(sum(run[p][kind][key] for kind in KINDS)) for p in PRECISIONS)
            for key in ("over_floor_eps0", "over_floor_default_eps")
        )
        out.append(
            result_row(
                "transform error vs exact integer reference",
                f"{run['input']}, n={run['n']}",
                None,
                quality=f"max abs error (relative) {'; '.join(parts)}; entries over "
                f"noise_floor(eps=0) in float64 and float32: {over0} (default eps: {over})",
                note="accuracy only, no peer; float32 inputs, exact in both precisions",
            )
        )
    return out


def table(results) -> str:
    """Markdown: per input and n, the largest AND / OR error in each precision, the same over
    the largest exact |I(S)| (S ≠ ∅, the worse of AND and OR), the largest error / floor
    (eps=0), the entries over the floor (eps=0 and default eps) and Shapley's relative error."""
    lines = [
        "| input | n | v range | max \\|I\\| (AND) | float64 max error AND / OR | rel. | "
        "error / floor | float32 max error AND / OR | rel. | error / floor | "
        "over floor eps=0: f64, f32 | over floor default eps: f64, f32 | Shapley rel.: f64, f32 |",
        "|---|---:|---|---:|---|---:|---:|---|---:|---:|---|---|---|",
    ]

    def pair(r):
        return f"{_g(r['and']['max_abs_error'])} / {_g(r['or']['max_abs_error'])}"

    def worst(r, key):
        return _g(max(r[kind][key] or 0.0 for kind in KINDS))

    def over(r, key):
        return sum(r[kind][key] for kind in KINDS)

    for run in results["runs"]:
        d, s = run["float64"], run["float32"]
        lines.append(
            f"| {run['input']} | {run['n']} | {run['min_v']:.3g} to {run['max_v']:.3g} | "
            f"{run['max_abs_interaction']['and']:.3g} | "
            f"{pair(d)} | {worst(d, 'max_rel_error')} | {worst(d, 'max_error_over_floor_eps0')} | "
            f"{pair(s)} | {worst(s, 'max_rel_error')} | {worst(s, 'max_error_over_floor_eps0')} | "
            f"{over(d, 'over_floor_eps0')}, {over(s, 'over_floor_eps0')} | "
            f"{over(d, 'over_floor_default_eps')}, {over(s, 'over_floor_default_eps')} | "
            f"{_g(d['shapley']['max_rel_error'])}, {_g(s['shapley']['max_rel_error'])} |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="n = 8, 10, 12")
    p.add_argument("--out", default="benchmarks/results", type=Path)
    p.add_argument("--ns", type=int, nargs="+", default=None)
    p.add_argument("--train-steps", type=int, default=300)
    p.add_argument("--device-name", default=None)
    a = p.parse_args(argv)
    ns = a.ns or ([8, 10, 12] if a.quick else [8, 10, 12, 14, 16, 18, 20])
    if max(ns) > 30:
        raise SystemExit("the model has 30 features: n <= 30")
    t0 = time.perf_counter()
    results = {
        "machine": machine_info(a.device_name),
        "mode": "quick" if a.quick else "full",
        "inputs": {
            "normal": "standard normal values (seed 0) cast to float32",
            **{
                f"mlp sample {i}": "float32 log-odds (true class) of MLP 30-64-64-2 trained "
                f"{a.train_steps} steps on breast cancer (seed 0), held-out sample {i}, "
                "players = first n features, baseline = training mean"
                for i in MLP_SAMPLES
            },
        },
        "runs": [],
    }
    mv = ModelValues(steps=a.train_steps)
    results["mlp_test_accuracy"] = mv.test_accuracy
    print(f"MLP trained {a.train_steps} steps, test accuracy {mv.test_accuracy:.3f}", flush=True)
    inputs = {"normal": normal_values}
    inputs.update({f"mlp sample {i}": functools.partial(mv, sample=i) for i in MLP_SAMPLES})
    for n in ns:
        for name, make in inputs.items():
            run = {"input": name, **measure(make(n))}
            results["runs"].append(run)
            print(
                f"n={n} {name}: reference {run['reference_seconds']:.1f} s; max |error| of "
                f"AND in float64 {_g(run['float64']['and']['max_abs_error'])}, in float32 "
                f"{_g(run['float32']['and']['max_abs_error'])}",
                flush=True,
            )
            write_json(a.out / "bench_numerics.json", results)
    results["total_seconds"] = time.perf_counter() - t0
    results["rows"] = rows(results)
    write_json(a.out / "bench_numerics.json", results)
    md = table(results)
    (a.out / "bench_numerics.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
