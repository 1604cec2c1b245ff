"""Helpers shared by the benchmark scripts: timing, machine description, JSON output."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import interjax as ij


def call_seconds(fn: Callable[[], Any]) -> float:
    """Wall time of one call, waiting for JAX's asynchronous results."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def median(xs: Sequence[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


def time_interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict]:
    """First call of each contender, then ``repeats`` interleaved rounds (:func:`timed_rounds`,
    the order rotating from round to round).

    Returns per contender: ``first_call_s`` (compile + one run), ``times_s`` (every steady
    repetition), ``cpu_s`` (the same repetitions in the process's CPU seconds), ``median_s``,
    ``min_s`` and ``compile_s = first_call_s - median_s``.
    """
    first = {name: call_seconds(fn) for name, fn in fns.items()}
    res = timed_rounds(fns, repeats)
    for name, r in res.items():
        r["first_call_s"] = first[name]
        r["median_s"] = median(r["times_s"])
        r["min_s"] = float(min(r["times_s"])) if r["times_s"] else None
        r["compile_s"] = max(r["first_call_s"] - (r["median_s"] or 0.0), 0.0)
    return res


def timed_rounds(
    fns: dict[str, Callable[[], Any]], repeats: int, rotate: bool = True
) -> dict[str, dict]:
    """``repeats`` rounds calling every contender once (the order rotating from round to round,
    or the same in every round with ``rotate=False``), each call timed in wall seconds
    (``times_s``) and in the process's CPU seconds (``cpu_s``: far less disturbed than wall
    time by the other jobs of a shared machine), waiting for JAX's asynchronous results."""
    res = {name: {"times_s": [], "cpu_s": []} for name in fns}
    names = list(fns)
    for r in range(repeats):
        k = r % len(names) if rotate else 0
        for name in names[k:] + names[:k]:
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fns[name]())
            res[name]["cpu_s"].append(time.process_time() - c0)
            res[name]["times_s"].append(time.perf_counter() - t0)
    return res


def fit_quality(fits: dict, idx: list[int], optima) -> str:
    """The worst certified gap of a solver's fits and their objective over HiGHS's optimum on
    the fits ``idx`` HiGHS solved (``fits``: ``objective`` and ``relative_gap`` lists)."""
    obj, gap = np.asarray(fits["objective"]), np.asarray(fits["relative_gap"])
    worst = f"{(obj[idx] / np.asarray(optima)).max():.4f}" if idx else "-"
    return f"max gap {gap.max():.1e}, objective / HiGHS optimum at most {worst}"


def iteration_summary(fits: dict) -> str:
    it = np.asarray(fits["iterations"])
    return f"iterations mean {it.mean():.0f}, max {it.max()}"


def round_ratios(res: dict[str, dict], num: str, den: str) -> dict:
    """``num / den`` from the medians and the median of per-round ratios (same round)."""
    per_round = [a / b for a, b in zip(res[num]["times_s"], res[den]["times_s"], strict=True)]
    return {
        "ratio_of_medians": res[num]["median_s"] / res[den]["median_s"],
        "median_of_round_ratios": median(per_round),
        "per_round": per_round,
    }


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Output of a git command in this repository, or None (no git, or not a checkout)."""
    try:
        r = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def machine_info(device_name: str | None) -> dict:
    """Machine, devices, versions and commit, recorded in every benchmark JSON.

    The commit comes from git; on a copy of the tree without ``.git`` (a device machine) from
    ``$INTERJAX_GIT_COMMIT``, set by whoever launched the copy (``benchmarks/gpu.sh`` refuses to
    run with neither).
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--", ":(top)interjax") if commit else None
    dirty = None if status is None else bool(status)
    source = "git" if commit else None
    if commit is None and os.environ.get("INTERJAX_GIT_COMMIT"):
        commit, source = os.environ["INTERJAX_GIT_COMMIT"], "INTERJAX_GIT_COMMIT"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    devices = jax.devices()
    return {
        "device_name": device_name or f"{os.cpu_count()}-core {jax.default_backend().upper()} host",
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in devices],
        "jax_device_kind": devices[0].device_kind,
        "versions": {
            **{
                p: _version(p)
                for p in (
                    "jax",
                    "jaxlib",
                    "flax",
                    "numpy",
                    "shapiq",
                    "shap",
                    "scipy",
                    "highspy",
                    "optax",
                )
            },
            "interjax": ij.__version__,
        },
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "git_commit": commit,
        "git_commit_source": source,
        "interjax_uncommitted_changes": dirty if commit else None,
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    tmp.replace(path)
    return path


def result_row(
    benchmark: str,
    case: str,
    interjax_s: float | None,
    *,
    peer: str | None = None,
    peer_s: float | None = None,
    quality: str | None = None,
    note: str | None = None,
) -> dict:
    """One line of ``benchmarks/RESULTS.md``, stored in the benchmark's JSON under ``"rows"``.

    ``interjax_s`` and ``peer_s`` are steady-state medians in seconds (``None`` when not run);
    ``ratio = peer_s / interjax_s`` (> 1: interjax faster) is computed here so that the table
    holds only numbers the JSON holds. ``quality`` says how the results compare (e.g. "values
    agree to 7e-15", "objective 1.43x the optimum"); ``note`` says why a peer is missing or
    capped, or anything a reader must know.
    """
    ratio = peer_s / interjax_s if peer_s is not None and interjax_s else None
    return {
        "benchmark": benchmark,
        "case": case,
        "interjax_s": interjax_s,
        "peer": peer,
        "peer_s": peer_s,
        "ratio": ratio,
        "quality": quality,
        "note": note,
    }


def extrapolate_seconds(
    measured: Sequence[tuple[int, float]],
    n: int,
    *,
    default_growth: float,
    min_growth: float = 2.0,
    max_growth: float = float("inf"),
) -> float | None:
    """A peer's time at ``n`` from its measured ``(n, seconds)``: growth per player from the
    last two points, clamped to ``[min_growth, max_growth]``, or ``default_growth`` from one
    point; ``None`` with none (used to skip runs over a time cap)."""
    if not measured:
        return None
    n1, t1 = measured[-1]
    growth = default_growth
    if len(measured) >= 2:
        n0, t0 = measured[-2]
        growth = min(max((t1 / t0) ** (1.0 / (n1 - n0)), min_growth), max_growth)
    return t1 * growth ** (n - n1)
