"""The truth the tests compare interjax against: each run of these scripts made in a fresh
process (x64 off, as a researcher trains) and restored the way the Flax and Orbax guides restore
it, with plain Orbax, into a model evaluated in inference mode.

``make_runs(root)`` writes every (script, layout) run under ``root`` in one subprocess;
``reference_logits(root, script, layout, step, x)`` restores one step the guide's way and
returns the model's eval-mode logits on ``x``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

HERE = Path(__file__).parent
LAYOUTS = {
    "nnx_mlp": ("state", "pure", "params", "composite"),
    "nnx_cnn": ("state", "composite"),
    "nnx_tokens": ("state",),
    "linen_mlp": ("params", "trainstate", "composite"),
    "linen_cnn": ("variables", "trainstate"),
}
CASES = [(script, layout) for script, layouts in LAYOUTS.items() for layout in layouts]

_DRIVER = """
import sys
sys.path.insert(0, sys.argv[1])
import importlib
from pathlib import Path
root = Path(sys.argv[2])
for case in sys.argv[3:]:
    script, layout, seed = case.split(":")
    importlib.import_module(script).main(root / f"{script}_{layout}_{seed}", layout=layout,
                                         seed=int(seed))
"""


def run_dir(root, script: str, layout: str, seed: int = 0) -> Path:
    """The folder of one run: ``checkpoints/`` and ``data.npz``."""
    return Path(root) / f"{script}_{layout}_{seed}"


def make_runs(root, cases=None, seeds=(0,)) -> Path:
    """Train and save every ``(script, layout)`` of ``cases`` (default: all) for each seed, in
    one fresh Python process without x64, as the scripts' users would."""
    cases = CASES if cases is None else cases
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "XLA_FLAGS")}
    args = [f"{s}:{layout}:{seed}" for s, layout in cases for seed in seeds]
    subprocess.run(
        [sys.executable, "-c", _DRIVER, str(HERE), str(root), *args],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    return Path(root)


def load_script(script: str):
    """The script as a module (``tests.guide_runs.<script>``)."""
    import importlib

    return importlib.import_module(f"tests.guide_runs.{script}")


def _manager(folder: Path):
    options = ocp.CheckpointManagerOptions(read_only=True, create=False)
    return ocp.CheckpointManager(folder.absolute(), options=options)


def reference_logits(root, script: str, layout: str, step: int, x, seed: int = 0) -> np.ndarray:
    """Eval-mode logits on ``x`` of ``step``, restored with plain Orbax the guide's way."""
    from flax import nnx

    mod = load_script(script)
    folder = run_dir(root, script, layout, seed) / "checkpoints"
    mngr = _manager(folder)
    try:
        if script.startswith("nnx"):
            abstract = nnx.eval_shape(lambda: mod.make_model(0))
            graphdef, state = nnx.split(abstract)
            if layout == "state":
                model = nnx.merge(
                    graphdef, mngr.restore(step, args=ocp.args.StandardRestore(state))
                )
            elif layout == "pure":
                pure = mngr.restore(step, args=ocp.args.StandardRestore())
                nnx.replace_by_pure_dict(state, pure)
                model = nnx.merge(graphdef, state)
            elif layout == "params":
                graphdef, params = nnx.split(abstract, nnx.Param)
                model = nnx.merge(
                    graphdef, mngr.restore(step, args=ocp.args.StandardRestore(params))
                )
            else:  # composite: the model item alone
                args = ocp.args.Composite(model=ocp.args.StandardRestore(state))
                model = nnx.merge(graphdef, mngr.restore(step, args=args).model)
            model.eval()
            return np.asarray(model(jnp.asarray(x)))
        model = mod.make_model(0)
        sample = jnp.ones((1, *np.shape(x)[1:]), np.asarray(x).dtype)
        if script == "linen_mlp":
            variables = jax.eval_shape(lambda: model.init(jax.random.key(0), sample))

            def make_state():
                params = model.init(jax.random.key(0), sample)["params"]
                return mod.train_state.TrainState.create(
                    apply_fn=model.apply, params=params, tx=optax.adam(mod.LEARNING_RATE)
                )

            target = jax.eval_shape(make_state)
            if layout == "params":
                params = mngr.restore(step, args=ocp.args.StandardRestore(variables["params"]))
            elif layout == "trainstate":
                params = mngr.restore(step, args=ocp.args.StandardRestore(target)).params
            else:
                args = ocp.args.Composite(state=ocp.args.StandardRestore(target))
                params = mngr.restore(step, args=args).state.params
            return np.asarray(model.apply({"params": params}, jnp.asarray(x)))
        variables = jax.eval_shape(lambda: model.init(jax.random.key(0), sample, train=False))

        def make_cnn_state():
            v = model.init(jax.random.key(0), sample, train=False)
            return mod.TrainState.create(
                apply_fn=model.apply,
                params=v["params"],
                batch_stats=v["batch_stats"],
                tx=optax.adam(mod.LEARNING_RATE),
            )

        if layout == "variables":
            v = mngr.restore(step, args=ocp.args.StandardRestore(variables))
        else:
            st = mngr.restore(step, args=ocp.args.StandardRestore(jax.eval_shape(make_cnn_state)))
            v = {"params": st.params, "batch_stats": st.batch_stats}
        return np.asarray(model.apply(v, jnp.asarray(x), train=False))
    finally:
        mngr.close()


def log_odds(logits: np.ndarray, target: int) -> np.ndarray:
    """``logit_y - logsumexp(other logits)`` per row (interjax's default value)."""
    logits = np.asarray(logits, np.float64)
    others = np.delete(logits, target, axis=-1)
    m = others.max(-1, keepdims=True)
    return logits[..., target] - (m[..., 0] + np.log(np.exp(others - m).sum(-1)))
