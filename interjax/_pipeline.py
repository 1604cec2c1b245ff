"""The analysis of a training run end to end, resumable: checkpoints → trajectory → report.

Used by ``interjax analyze`` and ``interjax demo``. Checkpoints are processed in groups of
``group_size`` steps; each group's arrays are written atomically to ``OUT/stages/`` as soon as
they are done, so an interrupted run resumes at the next group and produces the same result
(the stage files carry a fingerprint of the settings and inputs; a mismatch is refused rather
than mixed). A lock file refuses a second run into the same folder while one is running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from interjax._distributed import Processes, share, tell_failure
from interjax._files import write_json_atomic, write_npz_atomic
from interjax.analyze import AnalysisSettings, PreparedAnalysis, Summary

__all__ = [
    "OutputLock",
    "analysis_key",
    "analysis_memory",
    "analyze_run",
    "check_memory_budget",
    "check_output_folder",
]


class OutputLock:
    """Exclusive use of an output folder: ``OUT/.interjax.lock`` holds the owner's pid; a lock
    whose process is gone (a killed run) is taken over. Not re-entrant. Process ``I > 0`` of a
    run on several processes locks ``OUT/.interjax.process-I.lock`` (its share)."""

    def __init__(self, out_dir: Path, process_index: int = 0):
        name = f".interjax.process-{process_index}.lock" if process_index else ".interjax.lock"
        self.path = Path(out_dir) / name

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


def analysis_key(prepared: PreparedAnalysis, settings: AnalysisSettings) -> str:
    """The fingerprint of an analysis: its settings and inputs (samples, players, mask value,
    steps, and the baselines: their weights, or the plan that names them)."""
    h = hashlib.sha256()
    h.update(json.dumps(settings.as_dict(), sort_keys=True).encode())
    h.update(json.dumps(prepared.steps).encode())
    for a in (prepared.x, prepared.y, prepared.is_test, prepared.players.membership):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(prepared.players.kind.encode())
    if prepared.mask_value is not None:
        h.update(np.ascontiguousarray(np.asarray(prepared.mask_value)).tobytes())
    if prepared.plan is not None:
        h.update(json.dumps(prepared.plan, sort_keys=True, default=str).encode())
    if not callable(prepared.baseline_params):
        import jax

        for leaf in jax.tree.leaves(prepared.baseline_params):  # the baselines' weights
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
    prepared: PreparedAnalysis,
    out_dir,
    *,
    title: str,
    settings: AnalysisSettings | None = None,
    quiet: bool = False,
    progress: Callable | None = None,
    memory_budget: int | None = None,
    key: str | None = None,
) -> Summary:
    """Analyse every checkpoint against the baselines, resumably; write the report.

    A short loop over groups of ``settings.group_size`` checkpoints, each restored once
    (:meth:`PreparedAnalysis.groups`) and fitted by :func:`interjax.analyze.fit_models`, the
    same code as :func:`interjax.analyze.trajectory`; each group's fits are saved as a stage
    file, so an interrupted run resumes at the first missing group. The baseline models' fits
    are one more stage, computed with the first group. Then :func:`interjax.analyze.label_fits`,
    :func:`interjax.analyze.summarize` and :func:`interjax.report.write_report`.

    ``memory_budget`` (bytes; default 80% of the available host memory): the run is refused
    before any work when :func:`analysis_memory` estimates more, instead of being killed by
    the OS half-way. ``key``: the fingerprint :func:`analysis_key` computed by the caller (who
    checked the output folder with it before preparing the inputs); computed here otherwise.

    Under an initialized ``jax.distributed`` the same call divides the checkpoint groups and the
    baselines over the processes (docs/distributed.md); every process returns the summary.
    ``interjax analyze`` is this call behind its checks.

    Returns the :class:`interjax.analyze.Summary` (also in ``OUT/summary.json``).

    Example (two saved steps of a small MLP, one baseline model):
      >>> import tempfile
      >>> from pathlib import Path
      >>> import numpy as np
      >>> from flax import nnx
      >>> import interjax as ij
      >>> from interjax import analyze, checkpoints, data
      >>> def make_model(seed=0):
      ...     return data.MLP(4, 2, hidden=(8,), rngs=nnx.Rngs(seed))
      >>> folder = Path(tempfile.mkdtemp())
      >>> with data.CheckpointWriter(folder / "run") as writer:
      ...     for step in (0, 1):
      ...         writer.save(step, nnx.state(make_model(step)))
      >>> x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
      >>> with checkpoints.orbax_source(folder / "run", model_factory=make_model) as source:
      ...     prepared = analyze.prepare_analysis(
      ...         source, x, np.array([0, 1]), ij.Players.features(4),
      ...         baseline_params=[nnx.state(make_model(9))],
      ...     )
      ...     summary = ij.analyze_run(prepared, folder / "out", title="demo", quiet=True)
      >>> summary.steps, (folder / "out" / "arrays.npz").exists()
      ((0, 1), True)
    """
    out = Path(out_dir)
    settings = settings or AnalysisSettings()
    check_memory_budget(_memory_estimate(prepared, settings), memory_budget)
    key = key or analysis_key(prepared, settings)
    procs = Processes.current()
    with OutputLock(out, procs.index):
        stage = _Stages(out, key, clean=procs.index == 0)
        if procs.count > 1:
            procs.agree(key, out)  # the same analysis everywhere, a folder all can read
        units = prepared.units(settings.group_size)
        try:
            _work_share(prepared, settings, stage, units, procs, title, quiet, progress)
            if procs.index > 0:  # process 0 writes the report; its summary is everyone's
                procs.publish("done", True)
                return Summary.from_dict(procs.wait_for("summary", 0, "write the report"))
            for j in range(1, procs.count):
                procs.wait_for("done", j, "finish its share")
            summary = _report(out, prepared, settings, stage, units, title, key)
        except BaseException as err:  # the others stop instead of waiting for this process
            tell_failure(err)
            raise
        procs.publish("summary", summary.as_dict())
    return summary


def _work_share(prepared, settings, stage, units, procs, title, quiet, progress) -> None:
    """This process's share of the work units: its checkpoint groups not yet in a stage file,
    and (when it owns that unit) the baseline models' fits, computed with its first group."""
    from interjax import analyze

    mine = share(len(units) + 1, procs.index, procs.count)  # unit len(units): the baselines
    groups = [k for k in mine if k < len(units)]
    todo = [k for k in groups if not stage.done(k, units[k])]
    model = None

    def fit(params) -> analyze.ModelFits:
        x, y, players = prepared.x, prepared.y, prepared.players
        return analyze.fit_models(
            model, [params], x, y, players, mask_value=prepared.mask_value, settings=settings
        )[0]

    def baselines() -> None:
        if len(units) in mine and not stage.has("baselines"):
            params = prepared.baseline_params
            stage.write("baselines", fit(params(model) if callable(params) else params).arrays())

    done = len(groups) - len(todo)
    bar = _progress_bar(len(groups), done, title, quiet, procs)
    restored = prepared.restore_units([units[k] for k in todo]) if todo else ()
    for k, group in zip(todo, restored, strict=False):
        steps, params = [s for s, _ in group], [p for _, p in group]
        arrays = {"steps": np.asarray(steps, dtype=np.int64)}
        if group:  # else every step of the group is unreadable (each named in a warning)
            model = model or prepared.model(params[0])
            baselines()
            fits = fit(params + [params[-1]] * (settings.group_size - len(params)))  # one shape
            arrays.update({f: a[: len(steps)] for f, a in fits.arrays().items()})
            if prepared.losses is not None:
                arrays["losses"] = np.asarray(
                    [prepared.losses(model.with_params(p)) for p in params], np.float64
                )
        stage.write(_unit_name(k), arrays)
        if procs.count > 1:
            procs.check_peers()  # another process failed: stop now, not after the share
        done += 1
        bar.update()
        if progress is not None:
            progress(done, len(groups))
    bar.close()
    if len(units) in mine and not stage.has("baselines"):  # no group of ours left to restore
        model = prepared.first_model()
        baselines()


def _report(out: Path, prepared, settings, stage, units, title: str, key: str) -> Summary:
    """Labels and report from every stage file (process 0, once all shares are done)."""
    from interjax import analyze

    parts = [stage.read(_unit_name(k)) for k in range(len(units))]
    parts = [p for p in parts if len(p["steps"])]
    if not parts:
        raise RuntimeError(f"none of the steps {prepared.steps} could be read; see the warnings")
    steps = np.concatenate([p["steps"] for p in parts]).astype(int).tolist()
    traj = analyze.label_fits(
        analyze.ModelFits(**{f: np.concatenate([p[f] for p in parts]) for f in _FITS}),
        analyze.ModelFits(**{f: stage.read("baselines")[f] for f in _FITS}),
        steps=steps,
        targets=prepared.y,
        is_test=prepared.is_test,
        settings=settings,
    )
    summary = _write_report(out, prepared, traj, _metrics(prepared, parts, steps), title, key)
    write_json_atomic(out / "done.json", {"fingerprint": key})
    return summary


def _unit_name(k: int) -> str:
    return f"checkpoints_{k:03d}"


def _memory_estimate(prepared: PreparedAnalysis, settings: AnalysisSettings) -> dict:
    return analysis_memory(
        prepared.players.n,
        len(prepared.steps),
        len(prepared.x),
        prepared.num_baselines(),
        settings.group_size,
        _param_bytes(prepared.source),
    )


def _progress_bar(total: int, initial: int, title: str, quiet: bool, procs: Processes):
    from tqdm.auto import tqdm

    desc = f"{title}: checkpoint groups" + (f" ({procs.name})" if procs.count > 1 else "")
    return tqdm(total=total, initial=initial, desc=desc, unit="group", disable=quiet,
                leave=False)  # fmt: skip


def _write_report(out: Path, prepared, traj, metrics, title: str, key: str) -> Summary:
    """The summary (with the fingerprint and the plan) and the report's files."""
    from interjax import analyze, report

    losses = (metrics["train_loss"], metrics["test_loss"]) if metrics else (None, None)
    summary = analyze.summarize(traj, *losses)
    summary = dataclasses.replace(summary, fingerprint=key, run=prepared.plan)
    records = None
    if prepared.image is not None:  # the last checkpoint's salient interactions, sample 0
        records = _salient_records(traj.interactions[-1, 0], traj.salient[-1, 0])
    report.write_report(
        out,
        summary,
        traj.arrays(),
        title=title,
        metrics=metrics,
        image=prepared.image,
        membership=prepared.players.membership,
        image_records=records,
    )
    return summary


_FITS = ("values", "interactions", "salient", "relative_gap")


class _Stages:
    """The stage files of one analysis in ``OUT/stages``: each carries the fingerprint, and a
    file of another analysis is refused rather than mixed. Opening them removes the temporary
    files a killed run left (``write_bytes_atomic``'s)."""

    def __init__(self, out: Path, key: str, clean: bool = True):
        self.folder, self.key = out / "stages", key
        self.folder.mkdir(parents=True, exist_ok=True)
        for folder in (out, self.folder) if clean else ():
            for tmp in folder.glob(".*.tmp"):
                if re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", tmp.name):
                    tmp.unlink(missing_ok=True)

    def has(self, name: str) -> bool:
        return (self.folder / f"{name}.npz").exists()

    def read(self, name: str) -> dict:
        path = self.folder / f"{name}.npz"
        with np.load(path) as z:
            if str(z["fingerprint"]) == self.key:
                return {k: z[k] for k in z.files if k != "fingerprint"}
        raise RuntimeError(
            f"{path} was written by an analysis with other settings or inputs; use a "
            "new --out folder (or remove the old one) instead of mixing results."
        )

    def write(self, name: str, arrays: dict) -> dict:
        write_npz_atomic(self.folder / f"{name}.npz", fingerprint=np.asarray(self.key), **arrays)
        return arrays

    def done(self, k: int, unit: list[int]) -> bool:
        """Whether checkpoint group ``k`` (the steps ``unit``) is saved; a file of another
        grouping (an older interjax shifted groups past unreadable steps) is done again."""
        name = _unit_name(k)
        return self.has(name) and set(self.read(name)["steps"].tolist()) <= set(unit)


def _param_bytes(source) -> int:
    """Bytes of one checkpoint's model variables, from the checkpoint's metadata."""
    stored = source.stored_arrays() if hasattr(source, "stored_arrays") else {}
    return sum(np.dtype(d).itemsize * int(np.prod(shape)) for shape, d in stored.values())


def _metrics(prepared: PreparedAnalysis, parts: list[dict], steps: list[int]) -> dict | None:
    """Per analysed step train and test losses: computed in the groups, or as logged."""
    if prepared.losses is not None:
        losses = np.concatenate([p["losses"] for p in parts])
        return {"steps": steps, "train_loss": losses[:, 0].tolist(),
                "test_loss": losses[:, 1].tolist()}  # fmt: skip
    if prepared.metrics is None:
        return None
    at = {int(s): i for i, s in enumerate(prepared.metrics["steps"])}
    return {
        "steps": steps,
        **{
            k: [float(prepared.metrics[k][at[s]]) for s in steps]
            for k in ("train_loss", "test_loss")
        },
    }


def _salient_records(interactions, salient) -> list[dict]:
    """The salient interactions ``(2, N)`` of one fit as records, strongest first."""
    from interjax.masks import coalition_sizes, num_players_of
    from interjax.solve import Salient

    kinds, sets = np.nonzero(salient)
    values = interactions[kinds, sets]
    order = np.argsort(-np.abs(values), kind="stable")
    n = num_players_of(interactions.shape[-1])
    sizes = np.asarray(coalition_sizes(n))
    sal = Salient(sets[order], kinds[order], values[order], sizes[sets[order]], n=n)
    return sal.as_records()
