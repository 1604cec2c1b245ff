"""The analysis of a training run end to end, resumable: checkpoints → trajectory → report.

Used by ``interjax analyze`` and ``interjax demo``. Checkpoints are processed in groups of
``group_size`` steps; each group's arrays are written atomically to ``OUT/stages/`` as soon as
they are done, so an interrupted run resumes at the next group and produces the same result
(the stage files carry a fingerprint of the settings and inputs; a mismatch is refused rather
than mixed). A lock file refuses a second run into the same folder while one is running.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interjax._files import write_json_atomic, write_npz_atomic

__all__ = [
    "AnalysisInputs",
    "OutputLock",
    "analysis_key",
    "analysis_memory",
    "analysis_settings",
    "analyze_run",
    "check_memory_budget",
    "check_output_folder",
]


class OutputLock:
    """Exclusive use of an output folder: ``OUT/.interjax.lock`` holds the owner's pid; a lock
    whose process is gone (a killed run) is taken over. Not re-entrant."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / ".interjax.lock"

    def _owner(self) -> int:
        """The pid in the lock file (0: none, unreadable)."""
        try:
            return int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _refuse(self, pid: int):
        return RuntimeError(
            f"{self.path.parent} is being written by another interjax run (pid "
            f"{pid}); wait for it or choose another --out (if no such run is active, remove "
            f"{self.path})."
        )

    def check(self) -> None:
        """Refuse at once if another live run holds the lock (reads only, creates nothing):
        lets a second run stop before its slow preparation rather than after it."""
        pid = self._owner()
        if self.path.resolve() in _HELD or (pid and pid != os.getpid() and _alive(pid)):
            raise self._refuse(pid)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        if key in _HELD:  # another analysis of this process writes there
            raise self._refuse(os.getpid())
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pid = self._owner()
                if pid and pid != os.getpid() and _alive(pid):
                    raise self._refuse(pid) from None
                # stale lock of a killed run; also when its pid is ours but this process does
                # not hold it (pids are reused, e.g. after a container restart)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            _HELD.add(key)
            self._key = key
            return self
        raise RuntimeError(f"could not lock {self.path.parent}")

    def __exit__(self, *exc):
        _HELD.discard(self._key)
        with contextlib.suppress(OSError):
            self.path.unlink()


_HELD: set[Path] = set()  # lock files this process holds


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AnalysisInputs:
    """What an analysis needs, in arrays: the analysed samples and the models' parameters.

    ``baseline_params`` is a list of parameter sets, or a function returning one (called only
    when the baselines' fits are not already in the output folder: a resumed run does not
    train them again); a function needs ``plan``, the JSON description of the inputs (where
    the checkpoints, data and baselines come from, ``plan["baselines"]["count"]`` of them)
    that keys the stage files in the weights' place. ``plan`` is also written to
    ``summary.json`` as ``"run"``.
    """

    def __init__(
        self,
        *,
        model,
        steps: Sequence[int],
        restore: Callable[[int], Any],
        baseline_params: Sequence[Any] | Callable[[], Sequence[Any]],
        x,
        y,
        is_test,
        players,
        baseline=None,
        metrics: dict | None = None,
        image=None,
        plan: dict | None = None,
    ):
        self.model, self.steps, self.restore = model, [int(s) for s in steps], restore
        if callable(baseline_params) and plan is None:
            raise ValueError("baseline_params given as a function needs a plan that names them")
        self.baseline_params = (
            baseline_params if callable(baseline_params) else list(baseline_params)
        )
        self.x, self.y, self.is_test = np.asarray(x), np.asarray(y), np.asarray(is_test, bool)
        self.players, self.baseline = players, baseline
        self.metrics, self.image, self.plan = metrics, image, plan

    def num_baselines(self) -> int:
        if callable(self.baseline_params):
            return int(self.plan["baselines"]["count"])
        return len(self.baseline_params)


def analysis_settings(
    *,
    q_ratio: float = 0.02,
    ratio: float = 0.05,
    same_sign: bool = False,
    tol: float = 1e-2,
    max_iters: int = 20_000,
    group_size: int = 10,
    iterate_dtype=None,
) -> dict:
    """The settings that decide an analysis's numbers, with the precision of the transforms
    (``float64`` when JAX's x64 mode is on, else ``float32``): a resumed run never mixes two."""
    import jax

    return {
        "q_ratio": q_ratio,
        "ratio": ratio,
        "same_sign": same_sign,
        "tol": tol,
        "max_iters": max_iters,
        "group_size": group_size,
        "iterate_dtype": str(iterate_dtype),
        "precision": str(jax.dtypes.canonicalize_dtype(np.float64)),
    }


def analysis_key(inputs: AnalysisInputs, settings: dict) -> str:
    """The fingerprint of an analysis: its settings and inputs (samples, players, mask value,
    steps, and the baselines: their weights, or the plan that names them)."""
    h = hashlib.sha256()
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(json.dumps(inputs.steps).encode())
    for a in (inputs.x, inputs.y, inputs.is_test, inputs.players.membership):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(inputs.players.kind.encode())
    if inputs.baseline is not None:
        h.update(np.ascontiguousarray(np.asarray(inputs.baseline)).tobytes())
    if inputs.plan is not None:
        h.update(json.dumps(inputs.plan, sort_keys=True, default=str).encode())
    if not callable(inputs.baseline_params):
        import jax

        for leaf in jax.tree.leaves(inputs.baseline_params):  # the baselines' weights themselves
            h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def check_output_folder(out_dir, key: str) -> None:
    """Refuse, before any work, an output folder holding another analysis's results (stage
    files or a finished report of other settings or inputs): mixing them would be wrong."""
    out = Path(out_dir)
    found = [out / "done.json"] if (out / "done.json").is_file() else []
    found += sorted((out / "stages").glob("*.npz")) if (out / "stages").is_dir() else []
    for path in found:
        try:
            if path.suffix == ".json":
                other = json.loads(path.read_text()).get("fingerprint")
            else:
                with np.load(path) as z:
                    other = str(z["fingerprint"])
        except (OSError, ValueError, KeyError):
            other = None
        if other != key:
            raise RuntimeError(
                f"{out} holds the results of another analysis ({path.name}: other settings, "
                "inputs or precision); choose a new --out folder (or remove the old one) "
                "instead of mixing results."
            )


def _host_available_bytes() -> int:
    """Memory the OS can still give this process: MemAvailable (Linux), else free pages."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def analysis_memory(
    n: int,
    num_steps: int,
    num_samples: int,
    num_baselines: int,
    group_size: int,
    param_bytes: int = 0,
) -> dict:
    """Host bytes an analysis holds at its peak (a deliberately generous estimate).

    Per checkpoint and sample it keeps the values (2^n float64), the AND and OR interactions
    (2·2^n float64), the salient and generalizable masks (2·2^n bytes each): 28·2^n bytes,
    counted three times (stage parts, their concatenation, the report's arrays). One group of
    ``group_size`` checkpoints is worked on at a time: values and solver state of every fit
    (about 108·2^n bytes per fit) and the restored parameters. The baselines' fits count like
    one more group of ``num_baselines`` models. On top comes a fixed ``runtime`` of 1 GiB: XLA
    compiling the sweep and the solver, the runtime's buffers and the report's plotting (measured
    by ``benchmarks/bench_load.py``: a process grew by 0.9 GiB over a 100-checkpoint analysis
    whose arrays the other terms put at 0.15 GiB).
    """
    per = 2**n
    kept = 3 * 28 * per * num_steps * num_samples
    working = 108 * per * num_samples * (group_size + num_baselines) + group_size * param_bytes
    runtime = 2**30
    return {"kept": kept, "working": working, "runtime": runtime, "total": kept + working + runtime}


def check_memory_budget(estimate: dict, budget: int | None) -> int:
    """Refuse an analysis whose estimate exceeds ``budget`` bytes (default: 80% of the memory
    the OS reports available) before any work starts, with the estimate and the way out."""
    limit = int(0.8 * _host_available_bytes()) if budget is None else int(budget)
    if estimate["total"] > limit:
        gib = 2**30
        raise MemoryError(
            f"this analysis would hold about {estimate['total'] / gib:.2f} GiB (results "
            f"{estimate['kept'] / gib:.2f} GiB, one checkpoint group's fits "
            f"{estimate['working'] / gib:.2f} GiB, compiler and runtime "
            f"{estimate.get('runtime', 0) / gib:.2f} GiB) but the memory budget is "
            f"{limit / gib:.2f} "
            "GiB. Analyse fewer checkpoints or samples, use fewer players, a smaller group "
            "size, or raise the budget (--memory-budget GIB) if the machine has the memory."
        )
    return limit


def analyze_run(
    inputs: AnalysisInputs,
    out_dir,
    *,
    title: str,
    group_size: int = 10,
    q_ratio: float = 0.02,
    ratio: float = 0.05,
    same_sign: bool = False,
    tol: float = 1e-2,
    max_iters: int = 20_000,
    iterate_dtype=None,
    quiet: bool = False,
    progress: Callable | None = None,
    memory_budget: int | None = None,
    key: str | None = None,
) -> dict:
    """Analyse every checkpoint against the baselines, resumably; write the report.

    The solver's default tolerance here is a certified relative gap of 1e-2 (not the library's
    1e-3): the analysis needs the salient sets, which a 1% gap leaves essentially unchanged,
    while some fits need many more iterations for 1e-3 (on the demo's breast-cancer run one
    baseline fit needed over 50k). The largest gap reached is reported.

    Checkpoints are analysed in groups of ``group_size`` (each group one sweep and one batched
    solve, saved as a stage file): an interrupted run resumes at the first missing group. Larger
    groups keep the solver's lanes busier; smaller ones lose less work to an interruption.
    ``same_sign``: a baseline must also agree on the interaction's sign (METHOD.md §4).
    ``memory_budget`` (bytes; default 80% of the available host memory): the run is refused
    before any work when :func:`analysis_memory` estimates more, instead of being killed by
    the OS half-way. ``key``: the fingerprint :func:`analysis_key` computed by the caller (who
    checked the output folder with it before preparing the inputs); computed here otherwise.

    Returns the summary dict (also in ``OUT/summary.json``).
    """
    from interjax import analyze, report
    from interjax.analyze import fit_salient
    from interjax.evaluate import evaluate, log_odds, stack_models

    out = Path(out_dir)
    settings = analysis_settings(
        q_ratio=q_ratio,
        ratio=ratio,
        same_sign=same_sign,
        tol=tol,
        max_iters=max_iters,
        group_size=group_size,
        iterate_dtype=iterate_dtype,
    )
    import jax

    param_bytes = sum(
        int(getattr(leaf, "nbytes", 0)) for leaf in jax.tree.leaves(inputs.model.params)
    )
    check_memory_budget(
        analysis_memory(
            inputs.players.n,
            len(inputs.steps),
            len(inputs.x),
            inputs.num_baselines(),
            group_size,
            param_bytes,
        ),
        memory_budget,
    )
    key = key or analysis_key(inputs, settings)
    stages = out / "stages"
    with OutputLock(out):
        stages.mkdir(parents=True, exist_ok=True)
        for folder in (out, stages):  # write_bytes_atomic's temporary files of a killed run
            for tmp in folder.glob(".*.tmp"):
                if re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", tmp.name):
                    tmp.unlink(missing_ok=True)
        model = inputs.model.with_output(log_odds(target=inputs.y))

        def fit(v):
            return fit_salient(v, q_ratio, tol, max_iters, ratio, iterate_dtype)

        def stage(name, compute):
            path = stages / f"{name}.npz"
            if path.exists():
                with np.load(path) as z:
                    if str(z["fingerprint"]) == key:
                        return {k: z[k] for k in z.files if k != "fingerprint"}
                raise RuntimeError(
                    f"{path} was written by an analysis with other settings or inputs; use a "
                    "new --out folder (or remove the old one) instead of mixing results."
                )
            arrays = compute()
            write_npz_atomic(path, fingerprint=np.asarray(key), **arrays)
            return arrays

        def baselines():
            params = inputs.baseline_params
            vb = evaluate(
                stack_models(model, params() if callable(params) else params),
                inputs.x,
                inputs.players,
                baseline=inputs.baseline,
                batched=True,
            )
            inter, sal, gap = fit(vb)
            return {"interactions": inter, "salient": sal, "relative_gap": gap}

        base = stage("baselines", baselines)
        groups = [inputs.steps[i : i + group_size] for i in range(0, len(inputs.steps), group_size)]
        parts = []
        from tqdm.auto import tqdm

        bar = tqdm(
            groups, desc=f"{title}: checkpoint groups", unit="group", disable=quiet, leave=False
        )
        for gi, steps in enumerate(bar):

            def compute(steps=steps):
                padded = steps + [steps[-1]] * (group_size - len(steps))  # one compiled shape
                stacked = stack_models(model, [inputs.restore(s) for s in padded])
                v = evaluate(
                    stacked, inputs.x, inputs.players, baseline=inputs.baseline, batched=True
                )[: len(steps)]
                inter, sal, gap = fit(v)
                return {
                    "values": np.asarray(v),
                    "interactions": inter,
                    "salient": sal,
                    "relative_gap": gap,
                }

            parts.append(stage(f"checkpoints_{gi:03d}", compute))
            if progress is not None:
                progress(gi + 1, len(groups))
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        gen = np.asarray(
            analyze.generalization_labels(
                cat["salient"],
                base["salient"][:, None],
                same_sign=same_sign,
                target_values=cat["interactions"],
                baseline_values=base["interactions"][:, None],
            )
        )
        traj = analyze.Trajectory(
            steps=np.asarray(inputs.steps),
            is_test=inputs.is_test,
            targets=inputs.y,
            values=cat["values"],
            interactions=cat["interactions"],
            salient=cat["salient"],
            generalizable=gen,
            baseline_interactions=base["interactions"],
            baseline_salient=base["salient"],
            relative_gap=cat["relative_gap"],
            baseline_relative_gap=base["relative_gap"],
            settings={
                **settings,
                "n": inputs.players.n,
                "num_baselines": inputs.num_baselines(),
            },
        )
        m = inputs.metrics
        summary = analyze.summarize(traj, m and m["train_loss"], m and m["test_loss"])
        summary["fingerprint"] = key
        if inputs.plan is not None:
            summary["run"] = inputs.plan
        records = None
        if inputs.image is not None:
            last = len(inputs.steps) - 1
            j = 0
            vals = traj.interactions[last, j]
            ks, ss = np.nonzero(traj.salient[last, j])
            order = np.argsort(-np.abs(vals[ks, ss]))
            from interjax.masks import coalition_players

            records = [
                {
                    "players": list(coalition_players(int(ss[i]), inputs.players.n)),
                    "kind": ("and", "or")[int(ks[i])],
                    "value": float(vals[ks[i], ss[i]]),
                }
                for i in order
            ]
        report.write_report(
            out,
            summary,
            traj.arrays(),
            title=title,
            metrics=m,
            image=inputs.image,
            membership=inputs.players.membership,
            image_records=records,
        )
        write_json_atomic(out / "done.json", {"fingerprint": key})
    return summary
