"""The ``interjax`` command line: ``interjax demo [--out DIR] [--quiet]``.

``analyze`` (checkpoint sequences) and ``bench`` (the benchmark suite) join as their issues land.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="interjax",
        description="Exact AND-OR interactions of JAX models and their generalization power.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train small models on bundled data and explain them")
    demo.add_argument("--out", default="interjax-out", help="output folder (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="print nothing")
    demo.add_argument("--steps", type=int, default=600, help="training steps per model")
    demo.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from interjax._demo import run_demo

            if args.steps < 1:
                raise ValueError(f"--steps must be >= 1, got {args.steps}")
            run_demo(args.out, quiet=args.quiet, steps=args.steps, seed=args.seed)
    except (ValueError, TypeError, MemoryError, FloatingPointError, OSError) as err:
        print(f"interjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
