"""The ``interjax`` command line.

    interjax demo [--out DIR] [--quiet] [--only explain|analysis]
    interjax bench [--quick] [--out DIR] [--only NAME ...] [--device-name TEXT]
    interjax analyze CKPT_DIR --model module:factory --data data.npz --out DIR
                     [--baselines K | --baseline-dirs DIR ...] [--protocol cross_fit|paper]
                     [--players N] [--samples S] [--tol T] [--q-ratio Q] [--ratio R]
                     [--same-sign] [--quiet]

Errors in the input (missing folders, files or keys, a factory that does not match the
checkpoints, ...) end with a one-line message and exit status 2, never a traceback. Ctrl-C
(SIGINT) ends with a one-line message and exit status 130; ``interjax analyze`` keeps the
finished checkpoint groups, so the same command resumes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

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
        help="module:factory; factory() (or factory(seed=...)) builds the NNX model",
    )
    an.add_argument("--data", required=True, help=".npz with x_train, y_train, x_test, y_test")
    an.add_argument("--out", required=True, help="output folder")
    an.add_argument("--baselines", type=int, default=3, help="baseline models to train (K)")
    an.add_argument(
        "--baseline-dirs",
        nargs="*",
        default=None,
        help="checkpoint folders of already trained baselines (last step used)",
    )
    an.add_argument("--baseline-steps", type=int, default=2000)
    an.add_argument(
        "--protocol",
        choices=("cross_fit", "paper"),
        default="cross_fit",
        help="baselines' data: half of the test split, the other half held out for the "
        "analysed test samples (cross_fit, default), or all of it as in the paper",
    )
    an.add_argument("--players", type=int, default=10, help="number of players n (<= 16)")
    an.add_argument("--samples", type=int, default=32, help="train and held-out samples each")
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
        help="a baseline must also agree on the sign for an interaction to be generalizable",
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
    bench = sub.add_parser(
        "bench", help="the benchmark suite (benchmarks/suite.py of a source checkout)"
    )
    bench.add_argument("--quick", action="store_true", help="reduced set, < 10 min on 2 cores")
    bench.add_argument("--out", default=None, help="folder for the JSON results")
    bench.add_argument("--only", nargs="+", default=None, help="benchmarks to run (by name)")
    bench.add_argument("--device-name", default=None, help="free text naming the machine")
    return p


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


def _load_data(path: str):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data file {p} does not exist")
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        z = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(
            f"{p} is not an .npz archive of arrays ({type(err).__name__} reading it); write it "
            "with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        ) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{p} holds one array, not an .npz archive; write x_train, y_train, x_test, y_test "
            "with np.savez"
        )
    with z:
        missing = [k for k in keys if k not in z.files]
        if missing:
            raise ValueError(f"{p} lacks {missing}; it must hold x_train, y_train, x_test, y_test")
        try:
            arrays = {k: z[k] for k in keys}
        except ValueError as err:  # object arrays: not loaded without pickle
            raise ValueError(f"{p} holds a non-numeric array: {err}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x_{split} {x.shape} and y_{split} {y.shape} must be (N, ...) and (N,) with N > 0"
            )
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
            raise ValueError(f"x_{split} must hold real numbers, got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0].tolist()
            raise ValueError(
                f"x_{split} holds NaN or inf (first at {bad}); clean or impute the data first"
            )
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.iscomplexobj(y):
            raise ValueError(
                f"y_{split} must hold class labels 0, 1, ..., K-1, got dtype {y.dtype}"
            )
        yf = y.astype(np.float64)
        bad = ~np.isfinite(yf) | (yf != np.round(yf)) | (yf < 0)
        if bad.any():
            raise ValueError(
                f"y_{split} must hold class labels 0, 1, ..., K-1 (integers >= 0), got "
                f"{y.dtype} values like {y[bad][:3].tolist()}"
            )
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError("x_train and x_test must have the same shape per sample")
    return arrays


def _check_numbers(args) -> None:
    """The numeric options, checked before any checkpoint is read or model trained."""
    import math

    checks = [
        ("--tol", args.tol, 0 < args.tol < math.inf, "a relative gap > 0, e.g. 1e-2"),
        ("--q-ratio", args.q_ratio, 0 <= args.q_ratio < math.inf, "a number >= 0, e.g. 0.02"),
        ("--ratio", args.ratio, 0 <= args.ratio <= 1, "a share in [0, 1], e.g. 0.05"),
        ("--players", args.players, 1 <= args.players <= 16, "1..16 (2**n masked inputs)"),
        ("--samples", args.samples, args.samples >= 1, "at least 1"),
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


def _check_model_fits_data(factory, arrays, spec: str) -> None:
    """Shape inference of the factory's model on one sample (no computation): the data must
    fit the model's input and its labels the model's classes, before any checkpoint is read."""
    import jax
    import numpy as np
    from flax import nnx

    graphdef, state = nnx.split(nnx.eval_shape(factory))
    x_shape = arrays["x_train"].shape[1:]
    probe = jax.ShapeDtypeStruct((1, *x_shape), np.float32)
    try:
        out = jax.eval_shape(lambda st, xb: nnx.merge(graphdef, st)(xb), state, probe)
    except Exception as err:
        raise ValueError(
            f"the model of --model {spec} cannot take the data's inputs of shape {x_shape} per "
            f"sample: {type(err).__name__}: {str(err).splitlines()[0]}"
        ) from None
    if len(getattr(out, "shape", ())) != 2:
        raise ValueError(
            f"the model of --model {spec} must return class logits (B, K) for inputs (B, "
            f"*{x_shape}), got {getattr(out, 'shape', type(out).__name__)}"
        )
    classes = max(int(out.shape[1]), 2)
    for split in ("train", "test"):
        top = int(arrays[f"y_{split}"].max())
        if top >= classes:
            raise ValueError(
                f"y_{split} holds class {top} but the model of --model {spec} has {classes} "
                "classes; relabel the data as 0..K-1 or build a model with more outputs"
            )


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
    import inspect

    import jax
    import numpy as np
    from flax import nnx

    import interjax as ij
    from interjax import data
    from interjax._pipeline import (
        AnalysisInputs,
        OutputLock,
        analysis_memory,
        analyze_run,
        check_memory_budget,
    )
    from interjax.checkpoints import orbax_source

    _check_numbers(args)
    OutputLock(Path(args.out)).check()  # another run writing there: refused before any work
    _drop_closed_loop_noise()
    factory = _load_factory(args.model)
    arrays = _load_data(args.data)
    takes_seed = "seed" in inspect.signature(factory).parameters
    source = orbax_source(args.checkpoints, model_factory=factory)  # lists steps, reads none
    _check_model_fits_data(factory, arrays, args.model)  # before any checkpoint is read
    steps, _ = source.restore_many()  # validates the structure, skips broken steps
    x_shape = arrays["x_train"].shape[1:]
    size = int(np.prod(x_shape))
    if args.players > size:
        raise ValueError(f"--players {args.players} exceeds the {size} input features")
    players = (
        ij.Players.features(args.players, num_features=x_shape[-1])
        if len(x_shape) == 1
        else ij.Players.segments(
            np.minimum(np.arange(size) * args.players // size, args.players - 1).reshape(x_shape)
        )
    )
    ds = data.Dataset(
        arrays["x_train"].astype(np.float32),
        arrays["y_train"].astype(np.int32),
        arrays["x_test"].astype(np.float32),
        arrays["y_test"].astype(np.int32),
        (),
        (),
        "user",
    )
    split = data.baseline_split(ds, protocol=args.protocol)
    graphdef, abstract_state = nnx.split(nnx.eval_shape(factory))
    budget = None if args.memory_budget is None else int(args.memory_budget * 2**30)
    check_memory_budget(  # before any baseline is trained
        analysis_memory(
            args.players,
            len(steps),
            2 * args.samples,
            len(args.baseline_dirs) if args.baseline_dirs else args.baselines,
            10,
            sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(abstract_state)),
        ),
        budget,
    )
    if args.baseline_dirs:
        base_params = []
        for d in args.baseline_dirs:
            with orbax_source(d, model_factory=factory) as b:
                base_params.append(b.restore(b.all_steps()[-1]))
    else:

        def make(seed):
            return factory(seed=seed) if takes_seed else factory()

        base_params = [
            nnx.split(m)[1]
            for m in data.train_baselines(
                make, split, num=args.baselines, steps=args.baseline_steps
            )
        ]
    losses = {"train_loss": [], "test_loss": []}
    for step in steps:
        model = nnx.merge(graphdef, source.restore(step))
        losses["train_loss"].append(data.cross_entropy(model, ds.x_train, ds.y_train))
        losses["test_loss"].append(data.cross_entropy(model, split.x_heldout, split.y_heldout))
    k = args.samples
    x = np.concatenate([ds.x_train[:k], split.x_heldout[:k]])
    y = np.concatenate([ds.y_train[:k], split.y_heldout[:k]])
    is_test = np.r_[np.zeros(len(ds.x_train[:k]), bool), np.ones(len(split.x_heldout[:k]), bool)]
    template = ij.from_nnx(
        nnx.merge(graphdef, source.restore(steps[0])), output=ij.log_odds(target=0)
    )
    inputs = AnalysisInputs(
        model=template,
        steps=steps,
        restore=source.restore,
        baseline_params=base_params,
        x=x,
        y=y,
        is_test=is_test,
        players=players,
        metrics={"steps": steps, **losses},
    )
    summary = analyze_run(
        inputs,
        args.out,
        title=f"interjax analysis of {args.checkpoints}",
        iterate_dtype=None,  # float64 iterations converge in fewer steps (bench_solver_dtype)
        tol=args.tol,
        q_ratio=args.q_ratio,
        ratio=args.ratio,
        same_sign=args.same_sign,
        quiet=args.quiet,
        memory_budget=budget,
    )
    source.close()
    if not args.quiet:
        ph = summary["phases"]
        print(
            f"analysed {len(steps)} checkpoints; phases: {ph['reason']}; report: "
            f"{Path(args.out) / 'report.md'}"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
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
            _analyze(args)
        elif args.command == "bench":
            return _bench(args)
    except (ValueError, TypeError, MemoryError, FloatingPointError, OSError, RuntimeError) as err:
        print(f"interjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback through JAX and Orbax
        resume = (
            f"; the finished checkpoint groups are kept in {Path(args.out) / 'stages'}: run the "
            "same command again to resume"
            if args.command == "analyze"
            else ""
        )
        print(f"interjax {args.command}: interrupted{resume}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
