"""Every measured figure in README.md is read from a committed JSON file that a script wrote
(``benchmarks/results/``): each phrase below is found in the README and its numbers are
recomputed from the JSON with the README's rounding, so a figure edited by hand, or a JSON
rerun without the README following, fails here. The one figure without a JSON is the test
suite's own run time (measured by ``.ci/run``); the last test keeps new timings from slipping in
unchecked."""

import json
import re
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = (ROOT / "README.md").read_text()
WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen".split()


def sig(x, digits=2):
    """Significant digits, as the README writes them (0.0073, 23.8, 57); whole numbers beyond
    the digits rounded, not in exponent form (102, not 1e+02)."""
    return f"{x:.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


def minsec(seconds):
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s} s"


def row(data, benchmark, case):
    found = [r for r in data["rows"] if r["benchmark"].startswith(benchmark) and r["case"] == case]
    assert len(found) == 1, (benchmark, case)
    return found[0]


def _suite(d):
    ok = [s for s in d["steps"] if s["status"] == 0]
    assert len(ok) == len(d["steps"]) and d["quick"]
    return minsec(sum(s["seconds"] for s in d["steps"])), WORDS[len(ok)]


def _shapiq(d):
    r = row(d, "exact Moebius + Shapley vs shapiq", "n=16")
    return sig(r["interjax_s"]), sig(r["peer_s"], 3), f"{r['ratio']:.0f}"


def _shap(d):
    ratios = [r["ratio"] for r in d["rows"]]
    ns = [int(r["case"].removeprefix("n=")) for r in d["rows"]]
    return f"{min(ratios):.1f}", f"{max(ratios):.1f}", str(min(ns)), str(max(ns))


def _sweep(d):
    rows = [r for r in d["rows"] if r["benchmark"] == "masked sweep vs raw forward"]
    ns = [int(r["case"].removeprefix("n=")) for r in rows]
    faster = [n for n, r in zip(ns, rows, strict=True) if r["ratio"] > 1]
    assert faster == [n for n in ns if n >= min(faster)]  # faster from there on
    return str(min(faster)), f"{rows[-1]['ratio']:.1f}", str(ns[-1])


def _per_sample(d):
    return sig(row(d, "evaluate + AND + OR + Shapley", "n=20, one sample")["interjax_s"])


def _solver(d):
    runs = {r["n"]: r for r in d["runs"]}
    gap = max(max(runs[n]["optimal"]["relative_gap"]) for n in (10, 12))
    assert all(all(runs[n]["optimal"]["converged"]) for n in (10, 12))

    def best_sgd(n):  # the schedule whose median objective / optimum is lowest
        return min(statistics.median(s["ratio_to_optimum"]) for s in runs[n]["sgd"])

    return (
        "0.1" if gap <= 1e-3 else f"{100 * gap:.2g}",
        f"{runs[10]['optimal']['per_sample_s']:.2f}",
        str(runs[10]["batch"]),
        sig(runs[12]["optimal"]["per_sample_s"]),
        sig(runs[10]["highs"]["per_sample_s"], 3),
        sig(runs[12]["highs"]["per_sample_s"]),
        f"{100 * (best_sgd(10) - 1):.0f}",
        f"{best_sgd(12):.0f}",
    )


def _dense(d):
    r = row(d, "AND-OR split vs the lab", "n=12, interjax solver='sgd' (same schedule)")
    return (f"{r['ratio']:.0f}",)


def _dense_n14(d):
    (per_n,) = [p for p in d["per_n"] if p["n"] == 14]
    return (f"{per_n['dense_matrix_bytes'] / 2**30:.0f}",)


def _first_fit(d):
    (per_n,) = [p for p in d["per_n"] if p["n"] == 10]
    t = per_n["timings"]["optimal"]
    return sig(t["first_call_s"]), sig(t["compile_s"]), sig(t["median_s"])


def _analysis(d):
    run = d["runs"]["float64"]
    assert run["max_relative_gap"] <= d["tol"]  # "certified"
    return (
        *(str(d[k]) for k in ("checkpoints", "samples", "n")),
        str(run["fits"]),
        f"{run['second_call_s']:.0f}",
        f"{run['first_call_s']:.0f}",
    )


def _analysis_devices(d):
    assert d["devices"] > 1  # the run dealt its fits over several CPU devices
    return _analysis(d)[-2:]


def _solver_devices(d):
    r = d["rows"][0]
    assert d["cores"] == 2 and r["case"].endswith("2 devices (one per core)")
    return str(d["batch"]), str(d["n"]), f"{r['ratio']:.1f}"


def _numerics_time(d):
    return (f"{d['total_seconds'] / 60:.1f}",)


FIGURES = [  # (README phrase, one group per figure; JSON under benchmarks/results; expected)
    (
        r"(\d+ min \d+ s) on 2 CPU cores for all (\w+) steps, `results/quick/suite.json`",
        "quick/suite.json",
        _suite,
    ),
    (
        r"values at n = 16 take ([\d.]+) s against ([\d.]+) s for shapiq's ExactComputer \((\d+)x",
        "bench_engine_cpu.json",
        _shapiq,
    ),
    (
        r"is ([\d.]+)-([\d.]+)x slower than interjax at n = (\d+)\.\.(\d+)",
        "bench_shap_cpu.json",
        _shap,
    ),
    (
        r"raw forward pass over prebuilt inputs from n = (\d+) on \(([\d.]+)x at n = (\d+)\)",
        "bench_engine_cpu.json",
        _sweep,
    ),
    (
        r"evaluate \+ AND \+ OR \+ Shapley at n = 20 takes ([\d.]+) s per sample",
        "bench_engine_cpu.json",
        _per_sample,
    ),
    (
        r"within a certified ([\d.]+)% of the LP optimum in ([\d.]+) s per sample at n = 10 in a "
        r"batch of (\d+) and ([\d.]+) s at n = 12 \(HiGHS's interior-point method: ([\d.]+) s and "
        r"([\d.]+) s; the best SGD schedule tried ends (\d+)% above the optimum at n = 10 and "
        r"(\d+)x at n = 12\)",
        "bench_solver.json",
        _solver,
    ),
    (
        r"dense-matrix SGD is (\d+)x slower than the same SGD on interjax's butterflies at n = 12",
        "bench_dense_cpu.json",
        _dense,
    ),
    (r"needs (\d+) GiB of matrices at n = 14", "dense_n14/bench_dense_cpu.json", _dense_n14),
    (
        r"(\d+) checkpoints × (\d+) samples at n = (\d+) \((\d+) certified fits\) takes (\d+) s "
        r"\((\d+) s with compilation\)",
        "bench_analysis.json",
        _analysis,
    ),
    (
        r"and (\d+) s \((\d+) s with compilation\) on one device per\s+core, as the command line "
        r"runs it \(`results/analysis_cpu_devices/bench_analysis.json`\)",
        "analysis_cpu_devices/bench_analysis.json",
        _analysis_devices,
    ),
    (
        r"\(([\d.]+) s for one fit at n = 10 on a 2-core CPU, ([\d.]+) s of it XLA compiling the "
        r"solver\), later ones take the solve time \(([\d.]+) s; "
        r"`benchmarks/results/bench_dense_cpu.json`\)",
        "bench_dense_cpu.json",
        _first_fit,
    ),
    (
        r"a batch of (\d+) fits at n = (\d+) took ([\d.]+)x less wall time on two devices than "
        r"on one \(`benchmarks/results/bench_solver_devices.json`",
        "bench_solver_devices.json",
        _solver_devices,
    ),
    (
        r'no GPU"`, ([\d.]+) minutes; numbers in `benchmarks/results/bench_numerics.json`',
        "bench_numerics.json",
        _numerics_time,
    ),
]


def _find(pattern):
    spans = list(re.finditer(pattern.replace(" ", r"\s+"), README))
    assert len(spans) == 1, f"README should state this once: {pattern}"
    return spans[0]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"), FIGURES, ids=[f[2].__name__ for f in FIGURES]
)
def test_readme_figure_matches_its_json(pattern, path, expected):
    data = json.loads((RESULTS / path).read_text())
    want = expected(data)
    want = want if isinstance(want, tuple) else (want,)
    assert _find(pattern).groups() == want, f"README vs benchmarks/results/{path}"


def _error_cell(stats):
    """The largest AND/OR error and the largest relative error, as the numerics table writes
    them."""
    err = max(stats[k]["max_abs_error"] for k in ("and", "or"))
    rel = max(stats[k]["max_rel_error"] for k in ("and", "or"))
    return "0" if err == 0 else f"{err:.1e} ({rel:.1e})"


def test_numerics_table_matches_its_json():
    data = json.loads((RESULTS / "bench_numerics.json").read_text())
    runs = {(r["input"], r["n"]): r for r in data["runs"]}
    inputs = ("normal", "mlp sample 23", "mlp sample 0")
    for n in sorted({n for _, n in runs}):
        per = [runs[(i, n)] for i in inputs]
        f64 = [(_error_cell(r["float64"]), i) for r, i in zip(per, inputs, strict=True)]
        nonzero = [(cell, i) for cell, i in f64 if cell != "0"]
        if not nonzero:
            first = "0"
        else:
            first = max(nonzero, key=lambda c: float(c[0].split()[0]))[0]
            first += f", {nonzero[0][1]} only" if len(nonzero) == 1 else ""
        over = sum(
            r[p][k]["over_floor_eps0"]
            for r in per
            for p in ("float64", "float32")
            for k in ("and", "or")
        )
        cells = [str(n), first, *(_error_cell(r["float32"]) for r in per), str(over)]
        assert "| " + " | ".join(cells) + " |" in README, f"numerics table, n = {n}"


TIMING = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?: ?(?:s|min|minutes|seconds)\b|x\b)")


def test_no_unchecked_timing_in_readme():
    """Timings and speed-ups appear only inside the phrases checked above (and the test suite's
    own run time in the set-up section)."""
    checked = [_find(pattern).span() for pattern, _, _ in FIGURES]
    checked.append(_find(r"runs the tests \(about \d+ minutes on 2 CPU cores").span())
    checked.append(
        _find(
            r"CI also runs them after the default run \(`python -m pytest -n 2 -m slow`, about \d+ "
            r"minutes on 2 CPU cores\); `\.ci/run` fails if either run fails\. Measured with "
            r"`\.ci/run` on a clean clone: \d+ min \d+ s for the default run, \d+ min \d+ s for "
            r"the slow set\."
        ).span()
    )
    loose = [
        m.group()
        for m in TIMING.finditer(README)
        if not any(a <= m.start() < b for a, b in checked)
    ]
    assert not loose, f"README figures without a JSON behind them: {loose}"
