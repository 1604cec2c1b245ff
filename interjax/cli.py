"""The ``interjax`` command line.

    interjax demo [--out DIR] [--quiet] [--only explain|analysis]
    interjax bench [--quick] [--out DIR] [--only NAME ...] [--device-name TEXT]
    interjax analyze CKPT_DIR --model module:factory --data data.npz --out DIR
                     [--baselines K | --baseline-dirs DIR ...] [--protocol cross_fit|paper]
                     [--players N] [--samples S] [--tol T] [--q-ratio Q] [--ratio R]
                     [--same-sign] [--quiet]

Errors in the input (missing folders, files or keys, a factory that does not match the
checkpoints, ...) end with a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    with np.load(p) as z:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
        if missing:
            raise ValueError(f"{p} lacks {missing}; it must hold x_train, y_train, x_test, y_test")
        arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x_{split} {x.shape} and y_{split} {y.shape} must be (N, ...) and (N,) with N > 0"
            )
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError("x_train and x_test must have the same shape per sample")
    return arrays


def _check_numbers(args) -> None:
    """The numeric options, checked before any checkpoint is read or model trained."""
    checks = [
        ("--tol", args.tol, args.tol > 0, "a relative gap > 0, e.g. 1e-2"),
        ("--q-ratio", args.q_ratio, args.q_ratio >= 0, "a number >= 0, e.g. 0.02"),
        ("--ratio", args.ratio, 0 <= args.ratio <= 1, "a share in [0, 1], e.g. 0.05"),
        ("--samples", args.samples, args.samples >= 1, "at least 1"),
        ("--baselines", args.baselines, args.baselines >= 1, "at least 1"),
        ("--baseline-steps", args.baseline_steps, args.baseline_steps >= 1, "at least 1"),
        (
            "--memory-budget",
            args.memory_budget,
            args.memory_budget is None or args.memory_budget > 0,
            "a size in GiB > 0, e.g. 8",
        ),
    ]
    for flag, value, ok, want in checks:
        if not ok:
            raise ValueError(f"{flag} {value} is out of range: expected {want}")


def _analyze(args) -> None:
    import inspect

    import jax
    import numpy as np
    from flax import nnx

    import interjax as ij
    from interjax import data
    from interjax._pipeline import (
        AnalysisInputs,
        analysis_memory,
        analyze_run,
        check_memory_budget,
    )
    from interjax.checkpoints import orbax_source

    _check_numbers(args)
    factory = _load_factory(args.model)
    arrays = _load_data(args.data)
    takes_seed = "seed" in inspect.signature(factory).parameters
    source = orbax_source(args.checkpoints, model_factory=factory)
    steps, _ = source.restore_many()  # validates the structure, skips broken steps
    x_shape = arrays["x_train"].shape[1:]
    size = int(np.prod(x_shape))
    if not 1 <= args.players <= 16:
        raise ValueError(f"--players must be 1..16, got {args.players}")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
