"""The ``interjax`` command line.

    interjax demo [--out DIR] [--quiet] [--only explain|analysis]
    interjax bench [--quick] [--out DIR] [--only NAME ...] [--device-name TEXT]
    interjax analyze CKPT_DIR --model module:factory --data data.npz --out DIR
                     [--item NAME] [--params-path a/b]
                     [--players N | grid:RxC | tokens[:N]] [--mask-value zero|mean|NUMBER]
                     [--mask-token ID] [--samples S | --sample-ids FILE]
                     [--baselines K | --baseline-dirs DIR ...] [--protocol cross_fit|paper]
                     [--baseline-steps N] [--baseline-lr LR]
                     [--tol T] [--q-ratio Q] [--ratio R] [--same-sign] [--order-weight W]
                     [--quiet]
                     [--coordinator HOST:PORT --num-processes N --process-id I | --distributed]
                     [--join-timeout S] [--heartbeat-timeout S]

The command line turns on JAX's x64 mode once, at its start, for every subcommand: the
transforms and the solver run in float64 (the models in the precision their checkpoints store).

Errors in the input (missing folders, files or keys, a factory that does not match the
checkpoints, ...) end with a one-line message and exit status 2, never a traceback, before any
model is trained. Ctrl-C (SIGINT) ends with a one-line message and exit status 130;
``interjax analyze`` keeps the finished checkpoint groups, so the same command resumes.

On several processes (``--coordinator`` & co, docs/distributed.md) each process's work runs in a
child process whose runtime log goes to ``OUT/logs/``; when ``jax.distributed`` ends it (a peer
died, never joined, ...) one line says which process and what to do, exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import socket
import sys
import warnings
from pathlib import Path

from interjax import _distributed

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with the command line's error style: one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="interjax",
        description="Exact AND-OR interactions of JAX models and their generalization power.",
    )
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep compiled programs across runs (default: kept in ~/.cache/interjax/jax, "
        "or INTERJAX_COMPILE_CACHE=folder; INTERJAX_COMPILE_CACHE=0 also turns it off)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the whole pipeline on bundled data")
    demo.add_argument("--out", default="interjax-out", help="output folder (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="print nothing")
    demo.add_argument(
        "--steps",
        type=int,
        default=600,
        help="training steps of the single-sample explanation models",
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--only",
        choices=("explain", "analysis"),
        default=None,
        help="run only the single-sample explanation or only the analysis",
    )
    an = sub.add_parser("analyze", help="analyse a folder of Orbax checkpoints of your model")
    an.add_argument("checkpoints", help="folder of Orbax checkpoint steps (read only)")
    an.add_argument(
        "--model",
        required=True,
        help="module:factory; factory() (or factory(seed=...)) builds the model, a "
        "flax.nnx.Module or a flax.linen.Module (module importable from the current folder)",
    )
    an.add_argument("--data", required=True, help=".npz with x_train, y_train, x_test, y_test")
    an.add_argument("--out", required=True, help="output folder")
    an.add_argument(
        "--item",
        default=None,
        help="the checkpoint item holding the model's variables (Composite saves; default: "
        "found from the model's structure)",
    )
    an.add_argument(
        "--params-path",
        default=None,
        metavar="A/B",
        help="the subtree of the item holding the model's variables, e.g. params (default: "
        "found from the model's structure)",
    )
    an.add_argument("--baselines", type=int, default=3, help="baseline models to train (K)")
    an.add_argument(
        "--baseline-dirs",
        nargs="*",
        default=None,
        help="checkpoint folders of already trained baselines (last step used)",
    )
    an.add_argument(
        "--baseline-steps",
        type=int,
        default=2000,
        help="training steps of each baseline model (default %(default)s)",
    )
    an.add_argument(
        "--baseline-lr",
        type=float,
        default=1e-3,
        help="Adam learning rate of the baseline models (default %(default)s)",
    )
    an.add_argument(
        "--protocol",
        choices=("cross_fit", "paper"),
        default="cross_fit",
        help="baselines' data: half of the test split, the other half held out for the "
        "analysed test samples (cross_fit, default), or all of it as in the paper",
    )
    an.add_argument(
        "--players",
        default="10",
        help="N: the first N features of vector inputs; grid:RxC: an R x C grid of equal "
        "patches of (H, W) or (H, W, C) images; tokens or tokens:N: one player per position "
        "(the first N) of integer token ids (N, L). At most 16 players (default %(default)s)",
    )
    an.add_argument(
        "--mask-value",
        default=None,
        help="what replaces masked real inputs: zero (default), mean (of x_train) or a number",
    )
    an.add_argument(
        "--mask-token",
        type=int,
        default=None,
        metavar="ID",
        help="the token id that replaces masked tokens (required for integer inputs)",
    )
    an.add_argument(
        "--samples",
        type=int,
        default=32,
        help="analyse the first S training samples and the first S held-out test samples",
    )
    an.add_argument(
        "--sample-ids",
        default=None,
        metavar="FILE",
        help='the samples to analyse instead: JSON {"train": [...], "test": [...]} or an npz '
        "with arrays train and test (indices into x_train and x_test)",
    )
    an.add_argument(
        "--tol",
        type=float,
        default=1e-2,
        help="certified relative gap of each AND-OR fit (default %(default)s)",
    )
    an.add_argument(
        "--q-ratio",
        type=float,
        default=0.02,
        help="error allowance of the AND-OR split, relative to |v(N) - v(empty)|",
    )
    an.add_argument(
        "--ratio",
        type=float,
        default=0.05,
        help="salient interactions: |I| above this share of the largest (default %(default)s)",
    )
    an.add_argument(
        "--same-sign",
        action="store_true",
        help="a baseline model must also agree on the sign for an interaction to be generalizable",
    )
    an.add_argument(
        "--order-weight",
        type=float,
        default=None,
        metavar="W",
        help="the solver's order weight alone, without probing it against 1.0 on each fit: the "
        "weight of n (1.2 up to n = 10, 1.25 beyond) for network values, 1.0 for noise-like ones "
        "(default: probe both)",
    )
    an.add_argument(
        "--memory-budget",
        type=float,
        default=None,
        metavar="GIB",
        help="refuse the run up front if it would hold more host memory than this "
        "(default: 80%% of the available memory)",
    )
    an.add_argument("--quiet", action="store_true")
    _distributed_options(an)
    bench = sub.add_parser(
        "bench", help="the benchmark suite (benchmarks/suite.py of a source checkout)"
    )
    bench.add_argument("--quick", action="store_true", help="reduced set, < 10 min on 2 cores")
    bench.add_argument("--out", default=None, help="folder for the JSON results")
    bench.add_argument("--only", nargs="+", default=None, help="benchmarks to run (by name)")
    bench.add_argument("--device-name", default=None, help="free text naming the machine")
    return p


def _distributed_options(an) -> None:
    """Several processes sharing one analysis on ``jax.distributed`` (docs/distributed.md)."""
    g = an.add_argument_group(
        "several processes (jax.distributed; the same command on each, only --process-id "
        "differs; --out on a filesystem all hosts share)"
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="join a run of several processes; without --coordinator, JAX detects the "
        "coordinator, process count and id (SLURM, TPU pods, Open MPI)",
    )
    g.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                   help="address of process 0's host and a free port there")  # fmt: skip
    g.add_argument("--num-processes", type=int, default=None, metavar="N")
    g.add_argument("--process-id", type=int, default=None, metavar="I", help="0 .. N-1")
    g.add_argument(
        "--join-timeout",
        type=int,
        default=300,
        metavar="S",
        help="seconds to wait for every process to join (default %(default)s)",
    )
    g.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=100,
        metavar="S",
        help="a process silent this long is declared dead and the run stops on every "
        "process (default %(default)s)",
    )


def _bench_suite() -> Path:
    """``benchmarks/suite.py`` of the source checkout interjax runs from (or of the current
    folder): the benchmarks are scripts outside the package."""
    here = Path(__file__).resolve().parent.parent / "benchmarks" / "suite.py"
    for candidate in (here, Path.cwd() / "benchmarks" / "suite.py"):
        if candidate.is_file():
            return candidate
    raise ValueError(
        "interjax bench runs benchmarks/suite.py of a source checkout, and none was found next "
        f"to the package or in {Path.cwd()}; clone the repository, `pip install -e '.[bench]'` "
        "there and run `interjax bench` from it."
    )


def _bench(args) -> int:
    import subprocess

    cmd = [sys.executable, str(_bench_suite())]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--out", str(Path(args.out).absolute())] if args.out else []
    cmd += ["--only", *args.only] if args.only else []
    cmd += ["--device-name", args.device_name] if args.device_name else []
    return subprocess.run(cmd).returncode


def _load_factory(spec: str):
    if ":" not in spec:
        raise ValueError(f"--model must be module:factory, got {spec!r}")
    module_name, attr = spec.split(":", 1)
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import {module_name!r} from {Path.cwd()}: {err}") from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{module_name} has no callable {attr!r}")
    return factory


def _check_numbers(args) -> None:
    """The numeric options, checked before any checkpoint is read or model trained."""
    import math

    checks = [
        ("--tol", args.tol, 0 < args.tol < math.inf, "a relative gap > 0, e.g. 1e-2"),
        ("--q-ratio", args.q_ratio, 0 <= args.q_ratio < math.inf, "a number >= 0, e.g. 0.02"),
        ("--ratio", args.ratio, 0 <= args.ratio <= 1, "a share in [0, 1], e.g. 0.05"),
        ("--samples", args.samples, args.samples >= 1, "at least 1"),
        ("--baseline-lr", args.baseline_lr, 0 < args.baseline_lr < math.inf, "a rate > 0"),
        (
            "--mask-token",
            args.mask_token,
            args.mask_token is None or args.mask_token >= 0,
            "a token id >= 0",
        ),
        (
            "--order-weight",
            args.order_weight,
            args.order_weight is None or 0 < args.order_weight < math.inf,
            "a weight > 0, e.g. 1.2",
        ),
        ("--baselines", args.baselines, args.baselines >= 1, "at least 1"),
        ("--baseline-steps", args.baseline_steps, args.baseline_steps >= 1, "at least 1"),
        (
            "--memory-budget",
            args.memory_budget,
            args.memory_budget is None or 0 < args.memory_budget < math.inf,
            "a size in GiB > 0, e.g. 8",
        ),
    ]
    for flag, value, ok, want in checks:
        if not ok:
            raise ValueError(f"{flag} {value} is out of range: expected {want}")
    for d in args.baseline_dirs or []:
        if not Path(d).is_dir():
            raise ValueError(f"--baseline-dirs: {d} is not a folder of Orbax checkpoints")
    if args.baseline_dirs is not None and not args.baseline_dirs:
        raise ValueError("--baseline-dirs needs at least one folder")


def _drop_closed_loop_noise() -> None:
    """Reading a damaged step, Orbax closes its asyncio loop while tensorstore still has
    callbacks for it; each then prints a traceback ending in 'Event loop is closed' (an
    unraisable exception, after the warning that names the step). Drop exactly those."""
    previous = sys.unraisablehook

    def hook(unraisable):
        err = unraisable.exc_value
        if isinstance(err, RuntimeError) and str(err) == "Event loop is closed":
            return
        previous(unraisable)

    sys.unraisablehook = hook

    # the same reads may leave an asyncio task whose exception (the read error, already named
    # in the warning) nobody retrieves; asyncio logs it with a traceback when the task is freed
    import logging

    class _NeverRetrieved(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not str(record.msg).startswith("Task exception was never retrieved")

    logging.getLogger("asyncio").addFilter(_NeverRetrieved())


def _analyze(args) -> None:
    from interjax import _user_run as user
    from interjax._pipeline import OutputLock
    from interjax.checkpoints import describe_factory

    # 1. the options themselves, before any file is read
    _check_numbers(args)
    spec = user.parse_players(args.players)
    mask_value = user.parse_mask_value(args.mask_value)
    out = Path(args.out)
    OutputLock(out, _distributed.process_index()).check()  # refused before any work
    _drop_closed_loop_noise()

    # 2. the files named, then the data: players, mask value, analysed samples
    factory = _load_factory(args.model)
    if not Path(args.checkpoints).is_dir():
        raise ValueError(
            f"checkpoint folder {Path(args.checkpoints).absolute()} does not exist; pass the "
            "folder that holds one sub-folder per saved step"
        )
    arrays = user.load_data(args.data)
    x_shape = arrays["x_train"].shape[1:]
    players = user.build_players(spec, x_shape, arrays["x_train"].dtype)
    sample_ids = (
        user.load_sample_ids(args.sample_ids, len(arrays["x_train"]), len(arrays["x_test"]))
        if args.sample_ids
        else None
    )

    # 3. the model and where the checkpoints keep its variables (metadata only)
    name = f"--model {args.model}"
    described = describe_factory(factory, arrays["x_train"][:1], name=name)
    with contextlib.ExitStack() as opened:
        _analyze_checkpoints(
            args,
            opened,
            spec=spec,
            mask_value=mask_value,
            factory=factory,
            arrays=arrays,
            players=players,
            sample_ids=sample_ids,
            described=described,
        )


def _baselines_plan(args, baseline_sources, num_baselines: int, first_seed: int) -> dict:
    """Where the baseline models come from, as JSON: read from ``--baseline-dirs``, or
    trained with these settings (keys the saved results in the models' place)."""
    if baseline_sources:
        return {
            "count": num_baselines,
            "from": [
                {"checkpoints": str(b.directory), "step": b.all_steps()[-1],
                 "layout": b.describe_layout()}
                for b in baseline_sources
            ],
        }  # fmt: skip
    return {
        "count": num_baselines,
        "trained_on": f"{args.protocol} baseline split of the test data",
        "seeds": list(range(first_seed, first_seed + num_baselines)),
        "steps": args.baseline_steps,
        "learning_rate": args.baseline_lr,
        "batch_size": 64,
    }


def _analyze_checkpoints(
    args, opened, *, spec, mask_value, factory, arrays, players, sample_ids, described
) -> None:
    """``interjax analyze`` from the checkpoint layout on (``opened`` closes every source)."""
    import numpy as np

    from interjax import _user_run as user
    from interjax import data
    from interjax._pipeline import analysis_key, analyze_run, check_output_folder
    from interjax.analyze import AnalysisSettings, baseline_split, prepare_analysis
    from interjax.checkpoints import CheckpointSource

    def open_source(folder):
        return opened.enter_context(
            CheckpointSource(folder, described.abstract, item=args.item,
                             params_path=args.params_path, factory_model=described)
        )  # fmt: skip

    out = Path(args.out)
    x_shape = arrays["x_train"].shape[1:]
    source = open_source(args.checkpoints)
    layout = source.describe_layout()
    input_dtype = user.input_dtype(source.stored_arrays(), arrays["x_train"].dtype)
    for k in ("x_train", "x_test"):
        arrays[k] = arrays[k].astype(input_dtype)
    labels = {k: arrays[k] for k in ("y_train", "y_test")}
    user.check_model_fits_data(described, x_shape, input_dtype, labels, args.model)
    mask, mask_description = user.masked_players_value(
        mask_value, args.mask_token, arrays["x_train"]
    )
    baseline_sources = [open_source(d) for d in args.baseline_dirs or []]
    for b in baseline_sources:
        b.describe_layout()  # the same layout detection, before any work

    ds = data.Dataset(**{k: arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")})
    split = baseline_split(ds, protocol=args.protocol)
    train_ids, test_ids = user.select_samples(
        args.samples, sample_ids, len(ds.x_train), split.heldout_ids, args.protocol
    )
    x = np.concatenate([ds.x_train[train_ids], ds.x_test[test_ids]])
    y = np.concatenate([ds.y_train[train_ids], ds.y_test[test_ids]])
    is_test = np.r_[np.zeros(len(train_ids), bool), np.ones(len(test_ids), bool)]
    heldout = np.isin(np.arange(len(ds.x_test)), split.heldout_ids)

    # 4. the plan and the output folder (the memory budget: in analyze_run, before any work)
    steps = source.all_steps()
    num_baselines = len(baseline_sources) or args.baselines
    budget = None if args.memory_budget is None else int(args.memory_budget * 2**30)
    first_seed = 1000
    plan = {
        "checkpoints": str(source.directory),
        "layout": layout,
        "model": args.model,
        "model_kind": described.kind,
        "data": str(Path(args.data).resolve()),
        "input_dtype": str(input_dtype),
        "players": {"spec": str(spec), "kind": players.kind, "n": players.n},
        "mask": mask_description,
        "protocol": args.protocol,
        "samples": {"train_ids": train_ids.tolist(), "test_ids": test_ids.tolist()},
        "heldout_ids": np.flatnonzero(heldout).tolist(),
        "baselines": _baselines_plan(args, baseline_sources, num_baselines, first_seed),
        "steps_listed": steps,
    }
    settings = AnalysisSettings(
        q_ratio=args.q_ratio,
        ratio=args.ratio,
        same_sign=args.same_sign,
        tol=args.tol,
        iterate_dtype=None,  # float64 iterations converge in fewer steps (bench_solver_dtype)
        order_weight=args.order_weight,
    )

    def train_baselines(model):
        if baseline_sources:
            return [b.restore(b.all_steps()[-1]) for b in baseline_sources]
        return user.train_user_baselines(
            factory,
            described,
            split.x_baseline,
            split.y_baseline,
            num=num_baselines,
            steps=args.baseline_steps,
            learning_rate=args.baseline_lr,
            first_seed=first_seed,
            like=model.params,
            quiet=args.quiet,
        )

    x_held, y_held = ds.x_test[heldout], ds.y_test[heldout]

    def losses(model):
        return (
            user.cross_entropy_of(model, model.params, ds.x_train, ds.y_train),
            user.cross_entropy_of(model, model.params, x_held, y_held),
        )

    prepared = prepare_analysis(
        source,
        x,
        y,
        players,
        baseline_params=train_baselines,
        is_test=is_test,
        mask_value=mask,
        steps=steps,
        losses=losses,
        plan=plan,
    )
    key = analysis_key(prepared, settings)
    check_output_folder(out, key)  # another analysis's results there: refused before work

    # 5. the work: each checkpoint restored once (losses and fits), baselines, report
    summary = analyze_run(
        prepared,
        args.out,
        title=f"interjax analysis of {args.checkpoints}",
        settings=settings,
        quiet=args.quiet,
        memory_budget=budget,
        key=key,
    )
    if not args.quiet:
        print(
            f"analysed {len(summary.steps)} checkpoints; phases: {summary.phases.reason}; report: "
            f"{Path(args.out) / 'report.md'}"
        )


def _several_processes(args) -> bool:
    return args.command == "analyze" and (args.distributed or args.coordinator is not None
                                          or args.num_processes is not None
                                          or args.process_id is not None)  # fmt: skip


def _supervise(args, argv: list[str]) -> int:
    """Run this process's part in a worker (``interjax._distributed.supervise``): when the
    runtime ends it (a peer died, never joined, ...) one line says why, not the runtime's log."""
    try:
        _check_numbers(args)
        where = _distributed.check_coordinator(args.coordinator, args.num_processes,
                                               args.process_id)  # fmt: skip
        for flag in ("--join-timeout", "--heartbeat-timeout"):
            if getattr(args, flag[2:].replace("-", "_")) < 1:
                raise ValueError(f"{flag} is out of range: expected seconds >= 1")
    except ValueError as err:
        print(f"interjax analyze: error: {err}", file=sys.stderr)
        return 2
    name = f"process-{args.process_id}" if where else f"{socket.gethostname()}-{os.getpid()}"
    return _distributed.supervise(
        argv,
        Path(args.out) / "logs" / f"{name}.log",
        dict(out=args.out, process_id=args.process_id, coordinator=args.coordinator or "auto",
             timeouts=(args.join_timeout, args.heartbeat_timeout)),
    )  # fmt: skip


def _join(args) -> None:
    """``jax.distributed.initialize`` in the worker, before any JAX computation."""
    import jax

    _distributed.worker_stderr()
    try:
        jax.distributed.initialize(
            args.coordinator,
            args.num_processes,
            args.process_id,
            initialization_timeout=args.join_timeout,
            heartbeat_timeout_seconds=args.heartbeat_timeout,
            shutdown_timeout_seconds=args.heartbeat_timeout,
        )
    except ValueError as err:  # --distributed where JAX detects no cluster
        raise ValueError(
            f"--distributed: JAX found no cluster to join here ({err}); under SLURM, Open MPI or "
            "on a TPU pod it finds the coordinator itself, elsewhere give --coordinator "
            "HOST:PORT --num-processes N --process-id I"
        ) from None
    _distributed.check_count(args.num_processes, args.join_timeout)


# the library's errors name its arguments; on the command line they are these flags
_FLAGS = {
    "item": "--item",
    "params_path": "--params-path",
    "mask_value": "--mask-value",
    "memory_budget": "--memory-budget",
}


def in_flags(message: str) -> str:
    """A library error as the command line's user reads it: ``item=`` becomes ``--item`` & co.

    Example:
      >>> in_flags("pass one of these names as item=, or params_path=a/b")
      'pass one of these names as --item, or --params-path a/b'
    """

    def flag(m):
        value = m.group(2)
        return _FLAGS[m.group(1)] + (f" {value}" if value and value not in ",.;:)" else value)

    return re.sub(r"\b(" + "|".join(_FLAGS) + r")=(\S?)", flag, message)


def cpu_devices_wanted(environ) -> int | None:
    """How many XLA CPU devices the command line asks for: one per core this process may run
    on, or ``None`` where the environment already decides (``XLA_FLAGS`` with
    ``--xla_force_host_platform_device_count``, or ``JAX_NUM_CPU_DEVICES``).

    Example:
      >>> cpu_devices_wanted({"JAX_NUM_CPU_DEVICES": "4"}) is None
      True
      >>> cpu_devices_wanted({}) >= 1
      True
    """
    if "JAX_NUM_CPU_DEVICES" in environ or "host_platform_device_count" in environ.get(
        "XLA_FLAGS", ""
    ):
        return None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if _several_processes(args) and not _distributed.is_worker():
        return _supervise(args, sys.argv[1:] if argv is None else argv)
    import jax

    # the command line's one global setting: transforms and solver in float64 (the models keep
    # the dtypes their checkpoints store); analysis fingerprints record it
    jax.config.update("jax_enable_x64", True)
    # and one XLA CPU device per core (unless the environment says how many): the solver deals
    # a batch of fits over the devices, and a CPU device runs its share on one core
    cpu_devices = cpu_devices_wanted(os.environ)
    if cpu_devices is not None:
        try:
            jax.config.update("jax_num_cpu_devices", cpu_devices)
        except RuntimeError:  # main() called in a process whose JAX already runs: keep its devices
            pass
    from interjax._compile_cache import enable_compile_cache

    enable_compile_cache(disabled=args.no_compile_cache)  # compiled programs kept across runs
    try:
        with ctrl_c_raises():
            return _run_command(args)
    except (ValueError, TypeError, MemoryError, FloatingPointError, OSError, RuntimeError) as err:
        print(f"interjax {args.command}: error: {in_flags(str(err))}", file=sys.stderr)
        return _stopped(err, 2)
    except KeyboardInterrupt as err:  # Ctrl-C: one line, not a traceback through JAX and Orbax
        resume = (
            f"; the finished checkpoint groups are kept in {Path(args.out) / 'stages'}: run the "
            "same command again to resume"
            if args.command == "analyze"
            else ""
        )
        # Ctrl-C during a checkpoint read leaves Orbax's asyncio loop and a coroutine behind;
        # freed at exit they print a traceback and a warning: the process is ending, drop them
        sys.unraisablehook = lambda unraisable: None
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        print(f"interjax {args.command}: interrupted{resume}", file=sys.stderr)
        return _stopped(err, 130)


def _run_command(args) -> int:
    if args.command == "demo":
        if args.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {args.steps}")
        if args.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {args.seed}")
        if args.only in (None, "explain"):
            from interjax._demo import run_demo

            run_demo(args.out, quiet=args.quiet, steps=args.steps, seed=args.seed)
        if args.only in (None, "analysis"):
            from interjax._demo_run import run_tasks

            run_tasks(Path(args.out) / "analysis", seed=args.seed, quiet=args.quiet)
    elif args.command == "analyze":
        if _several_processes(args):
            _join(args)
        _analyze(args)
    elif args.command == "bench":
        return _bench(args)
    return 0


@contextlib.contextmanager
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt wherever the main thread is, for the time of the block.

    Python's own handler does that too, but ``asyncio.run`` (Orbax restores checkpoints through
    it) replaces only that handler with one that cancels its task instead, and a library
    coroutine that swallows the cancellation then finishes as if nothing happened: Ctrl-C during
    a checkpoint read was lost (the run went on to the end). Any other handler is kept by
    asyncio, so this one, which raises at once, is.

    A KeyboardInterrupt raised where Python only reports exceptions (a gc callback, as JAX
    registers one; a ``__del__``) is delivered again to the main code, not lost: CI once saw
    Ctrl-C land in JAX's gc callback and the analysis run to its end.

    Example:
      >>> import signal
      >>> before = signal.getsignal(signal.SIGINT)
      >>> with ctrl_c_raises():
      ...     signal.getsignal(signal.SIGINT) is before
      False
      >>> signal.getsignal(signal.SIGINT) is before  # restored after the block
      True
    """
    import _thread
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    received, ended = threading.Event(), threading.Event()

    def raise_interrupt(signum, frame):
        received.set()
        raise KeyboardInterrupt

    def interrupt_if_running():
        if not ended.is_set():  # not once the block has ended (it ends as Ctrl-C then anyway)
            _thread.interrupt_main()

    def deliver_again_if_lost(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            # raised inside a callback whose exceptions Python only reports (a gc callback such as
            # JAX's, a __del__): lost there. Sent again a moment later, once this hook has
            # returned (sent now, it would be raised in the hook and lost again)
            threading.Timer(0.01, interrupt_if_running).start()
        else:
            hook_before(unraisable)

    before = signal.signal(signal.SIGINT, raise_interrupt)
    hook_before, sys.unraisablehook = sys.unraisablehook, deliver_again_if_lost
    try:
        yield
        if received.is_set():  # swallowed somewhere all the same: the block still ends as Ctrl-C
            raise KeyboardInterrupt
    finally:
        ended.set()
        signal.signal(signal.SIGINT, before)
        sys.unraisablehook = hook_before


def _stopped(err: BaseException, rc: int) -> int:
    """The exit status. A worker of several processes tells the others why it stops and leaves
    at once: JAX's shutdown at exit would wait for them, then end the process with its log."""
    import jax

    if _distributed.is_worker() and jax.distributed.is_initialized():
        _distributed.tell_failure(err)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
