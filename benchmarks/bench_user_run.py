"""Benchmark of the analysis of a researcher's own run: an NNX CNN with BatchNorm and Dropout.

    python benchmarks/bench_user_run.py [--quick] [--out DIR] [--device-name TEXT]

The run stands in for a researcher's own training script (written out as a module file,
``user_cnn.py``, so that ``interjax analyze --model user_cnn:make_model`` can import it): a Flax
NNX CNN (``nnx.Conv`` → ``nnx.BatchNorm`` → relu → pool, twice, → ``nnx.Dropout(rate,
rngs=rngs)`` → ``nnx.Linear`` ×2) on generated 32×30×3 images whose class follows an AND-OR
rule of patterns planted in three image regions (a fourth pattern is a distractor; 5% of the
labels flipped), trained with a real optax loop in the Flax NNX guide's style
(``nnx.Optimizer(model, tx, wrt=nnx.Param)``, ``optimizer.update(model, grads)``,
``model.train()``) and saved as 10 checkpoints with ``ocp.CheckpointManager(...).save(step,
args=ocp.args.StandardSave(nnx.state(model)))``: each state holds ``Param``, ``BatchStat`` and
the Dropout's ``RngKey``/``RngCount``.

Images are 32×30, not 32×32: the analysis uses n = 10 patch players, a 2×5 grid
(``ij.Players.grid((32, 30), 2, 5)``, ``--players grid:2x5``), and ``Players.grid`` (so also
``interjax analyze``) needs a grid that divides the image into equal patches; 5 does not divide
32, and no equal grid of 10 patches exists on a 32×32 image.

Timed, in one process, on 10 checkpoints × 16 samples (8 train + 8 held-out, the samples
``interjax analyze --samples 8`` picks), n = 10, 3 baselines:

1. open the run and find the layout: ``orbax_source(ckpt_dir, model_factory=make_model)`` +
   ``describe_layout()`` (metadata only);
2. ``restore_many()`` of all checkpoints;
3. training the 3 baselines (``interjax._user_run.train_user_baselines``, what ``interjax
   analyze`` calls);
4. the sweep ``ij.evaluate(ij.stack_models(model, params), x, players, batched=True)``, values
   ``(10, 16, 1024)``: compile (first call) and steady (median of the interleaved rounds of the
   efficiency section) apart;
5. the fits ``fit_salient(v, q_ratio=0.02, tol=1e-2, max_iters=20_000, ratio=0.05)`` on the
   values of the checkpoints and the baselines together, ``(13, 16, 1024)``: 208 fits;
6. ``interjax analyze`` on the same run, end to end, as a subprocess (wall time).

**Sweep efficiency**: the same values from the 16 × 1024 masked inputs built beforehand (one
``(16, 1024, 32, 30, 3)`` float32 array), by one jitted call of the eval-mode model: ``raw
forward`` maps over the 10 checkpoints (``lax.map``), each one batched forward of all 16,384
masked inputs (the 10 checkpoints at once would hold ~2.5 GB of first-layer activations);
``raw chunked`` runs the forward in the chunks ``evaluate`` uses (``lax.map`` over chunks of C
masks × 16 samples, one checkpoint after the other, as ``evaluate`` sweeps stacked models).
efficiency = t_raw / t_evaluate (goal >= 0.9), medians of interleaved rounds
(``_common.time_interleaved``). Checked: the raw values equal ``evaluate``'s (1e-5), and v(N)
equals the model's own eval-mode log-odds on the unmasked sample (1e-5).

Every stage also records the XLA compile time JAX itself reports (``jax_log_compiles``; the
command line's from its stderr), since on a shared CPU "first call - steady" can hide a compile
in the noise.

``--quick``: 2 + 2 samples instead of 8 + 8, 100 training steps instead of 400, 50 per baseline
instead of 300, 2 interleaved rounds instead of 5, stages 3 and 5 called once (about a minute on
a 2-core CPU; the full settings about 3 minutes; the fits dominate).

Writes ``bench_user_run.json`` into ``--out`` (default ``benchmarks/results``; with
``--quick``, ``benchmarks/results/quick``) and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # as `interjax analyze`: values and fits in float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import (  # noqa: E402
    call_seconds,
    machine_info,
    median,
    result_row,
    round_ratios,
    time_interleaved,
    write_json,
)

import interjax as ij  # noqa: E402
from interjax import _user_run  # noqa: E402
from interjax.analyze import fit_salient  # noqa: E402
from interjax.checkpoints import orbax_source  # noqa: E402
from interjax.data import Dataset, baseline_split  # noqa: E402
from interjax.evaluate import default_chunk_size, mask_inputs  # noqa: E402

MODULE = "user_cnn"
GRID = (2, 5)
BASELINES = 3
SAVES = 10
TOL, Q_RATIO, RATIO, MAX_ITERS = 1e-2, 0.02, 0.05, 20_000

# The researcher's training script. Written to a temporary folder as user_cnn.py and imported
# from there, here and by `interjax analyze --model user_cnn:make_model`: the same code in both.
MODEL_SOURCE = '''\
"""A researcher's own run: an NNX CNN (Conv, BatchNorm, Dropout) on generated 32x30x3 images.

The class follows an AND-OR rule of patterns planted in image regions: y = (A and B) or C,
each pattern present with probability 1/2 in its region (a fourth, D, is a distractor), on
Gaussian noise; 5% of the labels are flipped. Trained in the Flax NNX guide's style and saved
with an Orbax CheckpointManager, nnx.state(model) per step (Param, BatchStat, RngKey/RngCount).
"""

import pathlib
from functools import partial

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx

H, W, C = 32, 30, 3
NUM_CLASSES = 2
PATCH = 5  # planted patterns: 5x5x3
# (row, col) of the top-left corner of the region each pattern may sit in: regions of 16x6
# pixels, the cells of a 2x5 grid (patterns A, B, C, D in cells 1, 3, 7, 9)
REGIONS = ((0, 6), (0, 18), (16, 12), (16, 24))
BATCH_SIZE = 64
LEARNING_RATE = 3e-3


class CNN(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(C, 16, kernel_size=(3, 3), strides=(2, 2), rngs=rngs)
        self.batch_norm1 = nnx.BatchNorm(16, momentum=0.9, rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm2 = nnx.BatchNorm(32, momentum=0.9, rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.dropout = nnx.Dropout(rate=0.2, rngs=rngs)
        self.linear1 = nnx.Linear(4 * 3 * 32, 64, rngs=rngs)
        self.linear2 = nnx.Linear(64, NUM_CLASSES, rngs=rngs)

    def __call__(self, x):
        x = self.avg_pool(nnx.relu(self.batch_norm1(self.conv1(x))))  # 16x15 -> 8x7
        x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))  # 8x7 -> 4x3
        x = self.dropout(x.reshape(x.shape[0], -1))
        return self.linear2(nnx.relu(self.linear1(x)))


def make_model(seed: int = 0) -> CNN:
    return CNN(rngs=nnx.Rngs(seed))


def make_data(num_train: int = 4000, num_test: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    patterns = rng.choice([-1.5, 1.5], size=(len(REGIONS), PATCH, PATCH, C))
    num = num_train + num_test
    x = rng.normal(0.0, 0.5, size=(num, H, W, C))
    present = rng.random((num, len(REGIONS))) < 0.5
    for k, (r0, c0) in enumerate(REGIONS):
        dr = rng.integers(0, 16 - PATCH + 1, num)
        dc = rng.integers(0, 6 - PATCH + 1, num)
        for i in np.flatnonzero(present[:, k]):
            r, c = r0 + dr[i], c0 + dc[i]
            x[i, r : r + PATCH, c : c + PATCH] += patterns[k]
    y = ((present[:, 0] & present[:, 1]) | present[:, 2]).astype(np.int32)
    flip = rng.random(num) < 0.05
    y = np.where(flip, 1 - y, y).astype(np.int32)
    x = x.astype(np.float32)
    return x[:num_train], y[:num_train], x[num_train:], y[num_train:]


def loss_fn(model, batch):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, logits


@nnx.jit
def train_step(model, optimizer, batch):
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    optimizer.update(model, grads)
    return loss, jnp.mean(jnp.argmax(logits, -1) == batch["label"])


@nnx.jit
def eval_step(model, batch):
    loss, logits = loss_fn(model, batch)
    return loss, jnp.mean(jnp.argmax(logits, -1) == batch["label"])


def main(out_dir, steps: int = 400, num_saves: int = 10, seed: int = 0):
    """Write out_dir/data.npz and out_dir/checkpoints (num_saves steps over [0, steps])."""
    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = make_data()
    np.savez(out_dir / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    model = make_model(seed)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    mngr = ocp.CheckpointManager(out_dir / "checkpoints", options=options)
    to_save = sorted({int(s) for s in np.linspace(0, steps, num_saves).round()})
    batches = np.random.default_rng(seed)
    model.train()  # Dropout on, BatchNorm on batch statistics
    mngr.save(0, args=ocp.args.StandardSave(nnx.state(model)))
    for step in range(1, steps + 1):
        idx = batches.choice(len(x_train), BATCH_SIZE, replace=False)
        train_step(model, optimizer, {"image": x_train[idx], "label": y_train[idx]})
        if step in to_save:
            mngr.save(step, args=ocp.args.StandardSave(nnx.state(model)))
    mngr.wait_until_finished()
    mngr.close()
    model.eval()
    metrics = {}
    for split, (x, y) in {"train": (x_train, y_train), "test": (x_test, y_test)}.items():
        loss, acc = eval_step(model, {"image": x, "label": y})
        metrics[split] = {"loss": float(loss), "accuracy": float(acc)}
    return out_dir / "checkpoints", to_save, metrics
'''


def load_module(folder: Path):
    path = folder / f"{MODULE}.py"
    path.write_text(MODEL_SOURCE)
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    return module


_COMPILED = re.compile(r"Finished XLA compilation of (.+?) in ([0-9.eE+-]+) sec")


class CompileLog(logging.Handler):
    """The XLA compilations JAX reports (``jax_log_compiles``): ``(function, seconds)`` each.

    On a shared CPU ``first call - steady`` can hide a compile in the noise; these are the
    compiler's own durations. The messages are kept here, not printed.
    """

    def __init__(self):
        super().__init__(logging.WARNING)
        self.events: list[tuple[str, float]] = []

    def emit(self, record):
        m = _COMPILED.search(record.getMessage())
        if m:
            self.events.append((m.group(1), float(m.group(2))))

    def mark(self) -> int:
        return len(self.events)

    def since(self, k: int, stop: int | None = None) -> dict:
        return summarize_compiles(self.events[k:stop])

    @classmethod
    def install(cls) -> CompileLog:
        handler = cls()
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        logger.propagate = False  # do not print every compile
        jax.config.update("jax_log_compiles", True)
        return handler


def summarize_compiles(events) -> dict:
    by: dict[str, list] = {}
    for name, sec in events:
        by.setdefault(name, [0, 0.0])
        by[name][0] += 1
        by[name][1] += sec
    top = sorted(by.items(), key=lambda kv: -kv[1][1])[:6]
    return {
        "xla_compiles": len(events),
        "xla_compile_s": float(sum(sec for _, sec in events)),
        "top": [{"function": k, "count": c, "seconds": t} for k, (c, t) in top],
    }


COMPILES: CompileLog | None = None


def timed(fn, repeats: int) -> tuple[dict, object]:
    """First call (compile, first use) and ``repeats`` more; returns (timings, last result),
    with the XLA compile time JAX reports during the first call and during the repeats."""
    k0 = COMPILES.mark()
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    k1 = COMPILES.mark()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    med = median(times)
    return {
        "first_call_s": first,
        "times_s": times,
        "median_s": med,
        "first_minus_steady_s": None if med is None else first - med,
        "first_call_compiles": COMPILES.since(k0, k1),
        "repeat_compiles": COMPILES.since(k1) if repeats else None,
    }, out


def own_log_odds(module, params, x, y) -> np.ndarray:
    """The model's own eval-mode log-odds of class y on the unmasked samples, per checkpoint,
    without interjax: a fresh model updated with the restored state, ``model.eval()``, a call."""
    from flax import nnx

    out = []
    for p in params:
        m = module.make_model(0)
        nnx.update(m, p)
        m.eval()
        logits = np.asarray(m(jnp.asarray(x)), np.float64)
        rows = np.arange(len(y))
        others = np.where(np.arange(logits.shape[1])[None] == y[:, None], -np.inf, logits)
        m_ = others.max(1, keepdims=True)
        lse = m_[:, 0] + np.log(np.exp(others - m_).sum(1))
        out.append(logits[rows, y] - lse)
    return np.stack(out)


def make_raw(model, chunk: int):
    """``raw_forward`` and ``raw_chunked``: jitted ``(P, B, 2**n)`` values of ``model`` (stacked
    over P checkpoints) on prebuilt masked inputs ``xs (B, 2**n, *shape)``, with the model's own
    value function (log-odds of each sample's target)."""
    apply, output = model.apply, model.output
    out_axes = jax.tree.map(lambda t: 0 if jnp.ndim(t) == 1 else None, output)

    def values(params, o, xs):  # xs (B, R, *shape) -> (B, R)
        b, r = xs.shape[:2]
        logits = apply(params, xs.reshape(b * r, *xs.shape[2:]))
        logits = logits.reshape(b, r, -1)
        return jax.vmap(lambda oi, li: jax.vmap(oi)(li), in_axes=(out_axes, 0))(o, logits)

    @jax.jit
    def raw_forward(params, o, xs):  # one batched forward of all B * 2**n inputs per checkpoint
        return jax.lax.map(lambda p: values(p, o, xs), params).astype(jnp.float64)

    @jax.jit
    def raw_chunked(params, o, xs):  # evaluate's chunks: C masks x B samples, one checkpoint
        b, r = xs.shape[:2]  # after the other
        blocks = jnp.moveaxis(xs.reshape(b, r // chunk, chunk, *xs.shape[2:]), 1, 0)

        def one_checkpoint(p):
            v = jax.lax.map(lambda blk: values(p, o, blk), blocks)  # (r // chunk, b, chunk)
            return jnp.moveaxis(v, 0, 1).reshape(b, r)

        return jax.lax.map(one_checkpoint, params).astype(jnp.float64)

    return raw_forward, raw_chunked


def prebuilt_masked_inputs(x, players):
    """All ``2**n`` masked inputs of each sample: ``(B, 2**n, *shape)`` (zero baseline)."""
    n = players.n
    emap = players.element_map(tuple(x.shape[1:]))
    keep_bg = players.background == "keep"

    @jax.jit
    def build(ids, x):
        zero = jnp.zeros((), x.dtype)
        return jax.vmap(lambda xi: mask_inputs(ids, xi, zero, emap, n, keep_bg))(x)

    return jax.block_until_ready(build(jnp.arange(2**n, dtype=jnp.int32), x))


def run_cli(work: Path, ckpt: Path, baseline_steps: int, samples: int) -> dict:
    """``interjax analyze`` on the run, as a user types it, in the run's folder (wall time)."""
    exe = Path(sys.executable).with_name("interjax")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "interjax.cli"]
    out = work / "analysis"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        *base,
        "analyze",
        str(ckpt),
        "--model",
        f"{MODULE}:make_model",
        "--data",
        str(work / "data.npz"),
        "--out",
        str(out),
        "--players",
        f"grid:{GRID[0]}x{GRID[1]}",
        "--samples",
        str(samples),
        "--baselines",
        str(BASELINES),
        "--baseline-steps",
        str(baseline_steps),
        "--quiet",
    ]
    env = {**os.environ, "JAX_LOG_COMPILES": "1"}  # its compiles, parsed from stderr
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    lines = proc.stderr.splitlines()
    events = [(m.group(1), float(m.group(2))) for m in map(_COMPILED.search, lines) if m]
    other = [ln for ln in lines if not ln.startswith("WARNING:jax")]
    res = {
        "command": ["interjax", *cmd[len(base) :]],
        "returncode": proc.returncode,
        "wall_s": wall,
        "compiles": summarize_compiles(events),
        "stderr_tail": "\n".join(other)[-2000:],
    }
    if proc.returncode == 0 and (out / "arrays.npz").exists():
        with np.load(out / "arrays.npz") as z:
            res["arrays"] = {k: z[k] for k in ("values", "baseline_relative_gap", "relative_gap")}
    return res


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer training steps and repeats")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON")
    p.add_argument("--device-name", default=None, help="free text naming the machine")
    p.add_argument("--train-steps", type=int, default=None, help="target run (400; quick 100)")
    p.add_argument("--baseline-steps", type=int, default=None, help="per baseline (300; quick 50)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved rounds (5; quick 2)")
    p.add_argument(
        "--samples", type=int, default=None, help="per split: train and held-out (8; quick 2)"
    )
    p.add_argument("--keep", type=Path, default=None, help="keep the run in this folder")
    a = p.parse_args(argv)
    global COMPILES
    COMPILES = COMPILES or CompileLog.install()
    quick = a.quick
    out_dir = a.out or (HERE / "results" / ("quick" if quick else ""))
    train_steps = a.train_steps or (100 if quick else 400)
    baseline_steps = a.baseline_steps or (50 if quick else 300)
    repeats = a.repeats or (2 if quick else 5)
    samples = a.samples or (2 if quick else 8)
    small_repeats = 2 if quick else 5  # stages 1 and 2
    fit_repeats = 0 if quick else 1  # stage 5 after its first call
    baseline_repeats = 0 if quick else 1  # stage 3 after its first call
    t_start = time.perf_counter()
    results: dict = {
        "machine": machine_info(a.device_name),
        "settings": {
            "mode": "quick" if quick else "full",
            "train_steps": train_steps,
            "saves": SAVES,
            "baseline_steps": baseline_steps,
            "baselines": BASELINES,
            "samples": f"{samples} train + {samples} held-out (cross_fit split, as the CLI)",
            "players": f"ij.Players.grid((32, 30), {GRID[0]}, {GRID[1]}): n = 10 patches of 16x6",
            "mask": "zero (the CLI's default)",
            "value": "ij.log_odds(target=y), the true class of each sample (as the CLI)",
            "fit": {"q_ratio": Q_RATIO, "tol": TOL, "max_iters": MAX_ITERS, "ratio": RATIO},
            "interleaved_rounds": repeats,
            "x64": bool(jax.config.jax_enable_x64),
            "argv": sys.argv[1:] if argv is None else list(argv),
        },
    }

    work = Path(a.keep).absolute() if a.keep else Path(tempfile.mkdtemp(prefix="user_run_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        module = load_module(work)
        # the researcher's training (not an interjax stage; reported for scale)
        t0 = time.perf_counter()
        ckpt, saved, metrics = module.main(work, steps=train_steps, num_saves=SAVES)
        results["run"] = {
            "model": "NNX CNN: Conv(3->16, 3x3, stride 2) + BatchNorm + relu + avg pool, "
            "Conv(16->32, 3x3) + BatchNorm + relu + avg pool, Dropout(0.2), Linear(384->64), "
            "relu, Linear(64->2); float32",
            "data": "generated 32x30x3 float32, 4000 train / 2000 test, y = (A and B) or C of "
            "patterns planted in 3 regions (+1 distractor), 5% labels flipped",
            "train_s": time.perf_counter() - t0,
            "saved_steps": saved,
            "final_eval": metrics,
        }
        print(
            f"[run] trained {train_steps} steps, {len(saved)} checkpoints in "
            f"{results['run']['train_s']:.1f} s; final {metrics}",
            flush=True,
        )
        with np.load(work / "data.npz") as z:
            ds = Dataset(z["x_train"], z["y_train"], z["x_test"], z["y_test"], (), (), "user")
        split = baseline_split(ds)  # the CLI's cross_fit split and sample choice
        heldout = np.asarray(split.heldout_ids[:samples])
        x = np.concatenate([ds.x_train[:samples], ds.x_test[heldout]])
        y = np.concatenate([ds.y_train[:samples], ds.y_test[heldout]]).astype(np.int32)
        players = ij.Players.grid(x.shape[1:3], *GRID)
        stages: dict = {}

        # 1. open the run, find the layout (metadata only)
        sources = []

        def open_run():
            s = orbax_source(ckpt, model_factory=module.make_model)
            sources.append((s, s.describe_layout()))

        stages["open_describe"], _ = timed(open_run, small_repeats)
        src, layout = sources.pop()
        for s, _ in sources:
            s.close()
        print(f"[1] open + describe_layout: {_s(stages['open_describe'])}; layout: {layout}")

        # 2. restore every checkpoint
        restored = {}

        def restore():
            restored["steps"], restored["params"] = src.restore_many()
            return restored["params"]

        stages["restore_many"], _ = timed(restore, small_repeats)
        steps, params = restored["steps"], restored["params"]
        print(f"[2] restore_many ({len(steps)} checkpoints): {_s(stages['restore_many'])}")

        # 3. the baselines, as the CLI trains them
        t0 = time.perf_counter()
        model = src.model(ij.log_odds(target=0))
        stages["model_from_source_s"] = time.perf_counter() - t0

        def train_baselines():
            return _user_run.train_user_baselines(
                module.make_model,
                src.factory_model,
                split.x_baseline,
                split.y_baseline,
                num=BASELINES,
                steps=baseline_steps,
                learning_rate=1e-3,
                first_seed=1000,
                like=model.params,
                quiet=True,
            )

        stages["baselines"], base_params = timed(train_baselines, baseline_repeats)
        stages["baselines"]["note"] = (
            f"{BASELINES} models x {baseline_steps} steps (batch 64); the first call compiles "
            "the training step"
        )
        print(
            f"[3] train {BASELINES} baselines x {baseline_steps} steps: {_s(stages['baselines'])}"
        )

        # 4. the sweep: first call (compile); steady from the interleaved rounds below
        model_y = model.with_output(ij.log_odds(target=y))
        t0 = time.perf_counter()
        stacked = ij.stack_models(model_y, params)
        stages["stack_models_s"] = time.perf_counter() - t0

        def sweep():
            return ij.evaluate(stacked, x, players, batched=True)

        k0 = COMPILES.mark()
        first = call_seconds(sweep)
        sweep_compiles = COMPILES.since(k0)
        v = np.asarray(sweep())
        assert v.shape == (len(steps), len(x), 2**players.n), v.shape
        print(f"[4] sweep first call (compile + run): {first:.2f} s; values {v.shape}")

        # efficiency: the same masked inputs, prebuilt, through one jitted forward
        n = players.n
        chunk = min(default_chunk_size(n, x.shape[1:], len(x)), 2**n)  # as evaluate picks it
        t0 = time.perf_counter()
        buf = {"xs": prebuilt_masked_inputs(jnp.asarray(x), players)}  # (B, 2**n, *shape)
        build_s = time.perf_counter() - t0
        xs_shape, xs_bytes = [int(d) for d in buf["xs"].shape], int(buf["xs"].nbytes)
        raw_forward, raw_chunked = make_raw(stacked, chunk)
        fns = {
            "raw_forward": lambda: raw_forward(stacked.params, stacked.output, buf["xs"]),
            "raw_chunked": lambda: raw_chunked(stacked.params, stacked.output, buf["xs"]),
            "evaluate": sweep,
        }
        print(f"[eff] {list(fns)} x {repeats} interleaved rounds (chunk {chunk})", flush=True)
        timings = time_interleaved(fns, repeats)
        v_raw = np.asarray(fns["raw_forward"]())
        v_raw_c = np.asarray(fns["raw_chunked"]())
        ev = timings["evaluate"]
        stages["sweep"] = {
            "first_call_s": first,
            "times_s": ev["times_s"],
            "median_s": ev["median_s"],
            "first_minus_steady_s": first - ev["median_s"],
            "first_call_compiles": sweep_compiles,
            "note": "steady = median of evaluate's interleaved rounds (efficiency section)",
        }
        own = own_log_odds(module, params, x, y)
        efficiency = {
            "masked_inputs": xs_shape,
            "masked_inputs_bytes": xs_bytes,
            "build_masked_inputs_s": build_s,
            "evaluate_chunk": chunk,
            "raw_forward_how": f"one jitted call: lax.map over the {len(steps)} checkpoints, "
            f"each one batched forward of all {len(x)} x {2**n} prebuilt masked inputs",
            "raw_chunked_how": f"one jitted call: lax.map over chunks of {chunk} masks x "
            f"{len(x)} samples, one checkpoint after the other (evaluate's chunking)",
            "timings": timings,
            "efficiency": round_ratios(timings, "raw_forward", "evaluate"),
            "efficiency_vs_raw_chunked": round_ratios(timings, "raw_chunked", "evaluate"),
        }
        results["checks"] = {
            "max_abs_diff_raw_forward_vs_evaluate": float(np.max(np.abs(v_raw - v))),
            "max_abs_diff_raw_chunked_vs_evaluate": float(np.max(np.abs(v_raw_c - v))),
            "max_abs_diff_vN_vs_own_eval_log_odds": float(np.max(np.abs(v[..., -1] - own))),
            "max_abs_value": float(np.max(np.abs(v))),
        }
        results["checks"]["raw_equals_evaluate_1e-5"] = bool(
            results["checks"]["max_abs_diff_raw_forward_vs_evaluate"] <= 1e-5
            and results["checks"]["max_abs_diff_raw_chunked_vs_evaluate"] <= 1e-5
        )
        results["checks"]["vN_equals_own_log_odds_1e-5"] = bool(
            results["checks"]["max_abs_diff_vN_vs_own_eval_log_odds"] <= 1e-5
        )
        buf.clear()  # free the prebuilt masked inputs
        eff = efficiency["efficiency"]
        print(
            f"[4] sweep steady {ev['median_s']:.2f} s, XLA compile "
            f"{sweep_compiles['xla_compile_s']:.2f} s; raw forward "
            f"{timings['raw_forward']['median_s']:.2f} s, raw chunked "
            f"{timings['raw_chunked']['median_s']:.2f} s; efficiency {eff['ratio_of_medians']:.2f}"
            f" (round median {eff['median_of_round_ratios']:.2f}); checks {results['checks']}",
            flush=True,
        )

        # 5. the fits: checkpoints and baselines together
        t0 = time.perf_counter()
        vb = np.asarray(
            ij.evaluate(ij.stack_models(model_y, base_params), x, players, batched=True)
        )
        stages["baseline_sweep_first_call_s"] = time.perf_counter() - t0
        v_all = np.concatenate([v, vb])
        fit_out = {}

        def fits():
            fit_out["r"] = fit_salient(v_all, Q_RATIO, TOL, MAX_ITERS, RATIO)
            return fit_out["r"][0]

        stages["fits"], _ = timed(fits, fit_repeats)
        _, salient, gap = fit_out["r"]
        stages["fits"].update(
            {
                "fits": int(np.prod(gap.shape)),
                "values_shape": list(v_all.shape),
                "max_relative_gap": float(gap.max()),
                "salient_per_fit_mean": float(salient.sum(axis=(-2, -1)).mean()),
            }
        )
        print(
            f"[5] {stages['fits']['fits']} fits: {_s(stages['fits'])}; max certified gap "
            f"{gap.max():.1e}",
            flush=True,
        )
        stages["in_process_first_calls_s"] = (
            sum(
                stages[k]["first_call_s"]
                for k in ("open_describe", "restore_many", "baselines", "sweep", "fits")
            )
            + stages["baseline_sweep_first_call_s"]
        )

        # 6. the command line, end to end
        src.close()
        print("[6] interjax analyze (subprocess) ...", flush=True)
        cli = run_cli(work, ckpt, baseline_steps, samples)
        arrays = cli.pop("arrays", None)
        if arrays is not None:
            cli["max_abs_diff_values_vs_in_process"] = float(np.max(np.abs(arrays["values"] - v)))
            cli["max_relative_gap"] = float(
                max(arrays["relative_gap"].max(), arrays["baseline_relative_gap"].max())
            )
        stages["cli"] = cli
        print(
            f"[6] interjax analyze: exit {cli['returncode']}, {cli['wall_s']:.1f} s; XLA compiles "
            f"{json.dumps(cli['compiles'])}"
            + (f"\n{cli['stderr_tail']}" if cli["returncode"] else ""),
            flush=True,
        )
        results["run"]["layout"] = layout
        results["run"]["values_shape"] = list(v.shape)
        results["run"]["n"] = players.n
        results["run"]["steps_read"] = steps
        results["stages"] = stages
        results["efficiency"] = efficiency
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    results["total_s"] = time.perf_counter() - t_start
    results["rows"] = rows(results)
    path = write_json(out_dir / "bench_user_run.json", results)
    print_table(results)
    print(f"wrote {path} (total {results['total_s']:.0f} s)")
    return results


def _s(t: dict) -> str:
    med = t.get("median_s")
    steady = f", steady {med:.2f} s" if med is not None else ""
    c = t["first_call_compiles"]
    return (
        f"first call {t['first_call_s']:.2f} s (XLA compile {c['xla_compile_s']:.2f} s in "
        f"{c['xla_compiles']} programs){steady}"
    )


def rows(results: dict) -> list[dict]:
    """The results-table lines of this benchmark (see ``_common.result_row``)."""
    st, eff, ck, run = results["stages"], results["efficiency"], results["checks"], results["run"]
    b = results["settings"]
    T, B, n = run["values_shape"][0], run["values_shape"][1], run["n"]
    bench = f"user run: NNX CNN, {T} checkpoints x {B} samples, n={n} ({b['mode']})"

    def steady_or_first(t):
        return t["median_s"] if t.get("median_s") is not None else t["first_call_s"]

    def note(t, jit=True):
        c = t["first_call_compiles"]
        comp = f"XLA compile {c['xla_compile_s']:.2f} s in {c['xla_compiles']} programs"
        if t.get("median_s") is None:
            return f"one call ({b['mode']} settings), {comp}"
        if not jit:
            return f"first call {t['first_call_s']:.2f} s"
        again = t.get("repeat_compiles")
        again = (
            f"; the repeat compiled {again['xla_compile_s']:.2f} s again"
            if again and again["xla_compiles"]
            else ""
        )
        return f"first call {t['first_call_s']:.2f} s, {comp}{again}"

    out = [
        result_row(bench, "1. orbax_source + describe_layout", st["open_describe"]["median_s"],
                   quality=f"layout {run.get('layout')}", note=note(st["open_describe"], False)),
        result_row(bench, f"2. restore_many ({T} checkpoints)", st["restore_many"]["median_s"],
                   note=note(st["restore_many"], False)),
        result_row(bench, f"3. train {b['baselines']} baselines x {b['baseline_steps']} steps",
                   steady_or_first(st["baselines"]), note=note(st["baselines"])),
        result_row(bench, f"4. evaluate, stacked ({T}, {B}, {2**n})", st["sweep"]["median_s"],
                   note=note(st["sweep"])),
        result_row(bench, f"5. fit_salient, {st['fits']['fits']} fits (tol 1e-2)",
                   steady_or_first(st["fits"]),
                   quality=f"every fit certified within {st['fits']['max_relative_gap']:.0e}",
                   note=note(st["fits"])),
    ]  # fmt: skip
    cli = st["cli"]
    out.append(
        result_row(
            bench,
            "6. interjax analyze, end to end (subprocess)",
            cli["wall_s"] if cli["returncode"] == 0 else None,
            quality=(
                f"values match in-process to {cli['max_abs_diff_values_vs_in_process']:.0e}"
                if "max_abs_diff_values_vs_in_process" in cli
                else None
            ),
            note="wall time of one run, start-up and baseline training included; XLA "
            f"compile {cli['compiles']['xla_compile_s']:.1f} s in "
            f"{cli['compiles']['xla_compiles']} programs"
            if cli["returncode"] == 0
            else f"FAILED (exit {cli['returncode']})",
        )
    )
    t = eff["timings"]
    sweep = f"masked sweep vs raw forward (user CNN, {T} x {B} x 2^{n}, {b['mode']})"
    out.append(
        result_row(
            sweep,
            "evaluate vs one jitted forward, lax.map over checkpoints",
            t["evaluate"]["median_s"],
            peer=f"raw forward over {B} x {2**n} prebuilt masked inputs",
            peer_s=t["raw_forward"]["median_s"],
            quality=f"values differ by {ck['max_abs_diff_raw_forward_vs_evaluate']:.0e}; v(N) vs "
            f"model's own log-odds {ck['max_abs_diff_vN_vs_own_eval_log_odds']:.0e}",
            note=f"ratio = efficiency (goal >= 0.9); round median "
            f"{eff['efficiency']['median_of_round_ratios']:.2f}",
        )
    )
    out.append(
        result_row(
            sweep,
            f"evaluate vs raw forward in evaluate's chunks: {eff['evaluate_chunk']} mask(s) x "
            f"{B} samples, {T} checkpoints one after the other",
            t["evaluate"]["median_s"],
            peer="raw chunked forward over the prebuilt masked inputs",
            peer_s=t["raw_chunked"]["median_s"],
            quality=f"values differ by {ck['max_abs_diff_raw_chunked_vs_evaluate']:.0e}",
            note=f"round median {eff['efficiency_vs_raw_chunked']['median_of_round_ratios']:.2f}",
        )
    )
    return out


def print_table(results: dict) -> None:
    print("\n| stage | seconds | note |\n|---|---:|---|")
    for r in results["rows"]:
        if r["benchmark"].startswith("user run"):
            print(f"| {r['case']} | {_f(r['interjax_s'])} | {r['note'] or ''} |")
    e = results["efficiency"]
    t = e["timings"]
    print(
        f"\nsweep efficiency t_raw/t_evaluate: {e['efficiency']['ratio_of_medians']:.2f} "
        f"(round median {e['efficiency']['median_of_round_ratios']:.2f}; goal >= 0.9); vs raw "
        f"chunked {e['efficiency_vs_raw_chunked']['ratio_of_medians']:.2f}; evaluate "
        f"{_f(t['evaluate']['median_s'])} s, raw forward {_f(t['raw_forward']['median_s'])} s, "
        f"raw chunked {_f(t['raw_chunked']['median_s'])} s"
    )
    print(f"checks: {json.dumps(results['checks'])}")


def _f(x) -> str:
    return "-" if x is None else f"{x:.3g}"


if __name__ == "__main__":
    main()
