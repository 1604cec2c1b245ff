"""Does penalizing non-generalizable interactions while training help? (issue 15)

    python benchmarks/bench_suppression.py [--quick] --out DIR

The paper's training method (He et al. 2025, arXiv:2505.06993, Eq. 11-12; reconstructed in
docs/method.md §6): ``loss = cross-entropy + λ · ij.train.penalty(model, state)``, the state
refreshed every R steps by ``ij.train.refresh_penalty`` against K = 3 baseline models trained on
half of the test split (``analyze.baseline_split``, cross-fitted: the other half is the test set
reported here, never seen by the target or the baselines).

Two tasks: the planted-rule task with 10% flipped training labels (MLP, n = 8 feature players)
and digits (SmallCNN on a subset of the training images, n = 8 patch players). For each, the
same model (same seed, same initial parameters, same minibatch stream, same Adam schedule and
number of steps) is trained plain and penalized. λ is chosen by a small sweep on a validation
split cut from the training data (the lowest validation loss at the last step); the test split
is never used to choose. Logged every ``--log-every`` steps: train loss (on the training part),
test loss and accuracy (held-out test half), and on 8 fixed training samples the
generalization power H and the non-generalizable strength (``analyze.fit_models`` +
``label_fits``, the analysis path). Time per step (medians, refresh steps excluded) and the
refresh time are reported, and the cost ratio penalized / plain step at n = 8 and 10
(interleaved in one process).

Writes ``DIR/suppression.json`` and ``DIR/suppression.png``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, round_ratios, time_interleaved, write_json  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import analyze, data  # noqa: E402

NUM_BASELINES = 3
NUM_LOGGED_SAMPLES = 8
DIGIT_PATCHES_8 = [1, 2, 5, 6, 9, 10, 13, 14]  # the middle two columns of the 4x4 patch grid
DIGIT_PATCHES_10 = [1, 2, 4, 5, 6, 9, 10, 11, 13, 14]


def _settings(quick: bool) -> dict:
    if quick:
        return {
            "planted": {"steps": 1200, "lams": [0.01, 0.1], "train": 256, "lr": 3e-3},
            "digits": {"steps": 500, "lams": [0.01, 0.1], "train": 300, "lr": 3e-3},
            "log_every": 100,
            "refresh_every": 50,
            "num_samples": 8,
            "baseline_steps": 600,
            "cost_repeats": 10,
        }
    return {
        "planted": {"steps": 3000, "lams": [0.003, 0.03, 0.3], "train": 256, "lr": 3e-3},
        "digits": {"steps": 1500, "lams": [0.003, 0.03, 0.3], "train": 400, "lr": 3e-3},
        "log_every": 100,
        "refresh_every": 50,
        "num_samples": 8,
        "baseline_steps": 1500,
        "cost_repeats": 30,
    }


def _task(name: str, num_train: int, n: int = 8):
    """Data, players, model factory and the validation cut of one task."""
    if name == "planted":
        ds = data.planted_rules(num_train=num_train, num_test=512, num_features=n, seed=0)
        players = ij.Players.features(n)

        def factory(seed):
            return data.MLP(n, 2, hidden=(64, 64), rngs=nnx.Rngs(seed))

        x, y = ds.x_train, ds.y_train
    else:
        ds = data.digits()
        patches = DIGIT_PATCHES_8 if n == 8 else DIGIT_PATCHES_10
        players = data.digit_patch_players(select=patches)

        def factory(seed):
            return data.SmallCNN(num_classes=10, width=8, rngs=nnx.Rngs(seed))

        x, y = ds.x_train[:num_train], ds.y_train[:num_train]
    cut = len(x) * 4 // 5  # the last fifth of the training data: the validation split
    return ds, players, factory, (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _ce(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@nnx.jit
def _plain_step(model, optimizer, xb, yb):
    def loss_fn(m):
        return _ce(m(xb), yb)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def _penalized_step(model, optimizer, xb, yb, state, lam):
    def loss_fn(m):
        task = _ce(m(xb), yb)
        pen = ij.train.penalty(m, state)
        return task + lam * pen, (task, pen)

    (_, (task, pen)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    return task, pen


@nnx.jit
def _loss_and_accuracy(model, x, y):
    logits = model(x)
    return _ce(logits, y), (logits.argmax(-1) == y).mean()


def _minibatches(num: int, batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(num)
        for i in range(0, num - batch_size + 1, batch_size):
            yield order[i : i + batch_size]


def train(
    factory, fit, val, test, players, baselines, *, steps, lr, lam, cfg, log_every, logged, seed
):
    """One training run (plain when ``lam`` is None); returns its log."""
    x, y = fit
    model = factory(seed)
    optimizer = nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)
    batches = _minibatches(len(x), 32, seed)
    log = {k: [] for k in ("steps", "train_loss", "test_loss", "test_accuracy", "val_loss")}
    log |= {"H": [], "nongeneralizable_strength": [], "penalty": []}
    step_s, refresh_s, state, pen = [], [], None, float("nan")
    base_fits = logged["baseline_fits"]
    for step in range(steps + 1):
        if step % log_every == 0 or step == steps:
            tl, _ = _loss_and_accuracy(model, x, y)
            te, acc = _loss_and_accuracy(model, *test)
            vl, _ = _loss_and_accuracy(model, *val)
            (fits,) = analyze.fit_models(
                ij.from_nnx(model, output=ij.log_odds(0)),
                [[ij.from_nnx(model, output=ij.log_odds(0)).params]],
                logged["x"],
                logged["y"],
                players,
            )
            traj = analyze.label_fits(fits, base_fits, steps=[step], targets=logged["y"])
            prof = analyze.generalization_profile(
                traj.interactions, traj.salient, traj.generalizable, sample_axis=1
            )
            log["steps"].append(step)
            log["train_loss"].append(float(tl))
            log["test_loss"].append(float(te))
            log["test_accuracy"].append(float(acc))
            log["val_loss"].append(float(vl))
            log["H"].append(float(prof.power[0]))
            log["nongeneralizable_strength"].append(float(prof.nongeneralizable_strength[0].sum()))
            log["penalty"].append(float(pen))
        if step == steps:
            break
        idx = next(batches)
        xb, yb = x[idx], y[idx]
        if lam is not None and cfg.due(step):
            t0 = time.perf_counter()
            state = ij.train.refresh_penalty(model, xb, yb, baselines, players, config=cfg)
            jax.block_until_ready(state.gamma)
            refresh_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        if lam is None:
            jax.block_until_ready(_plain_step(model, optimizer, xb, yb))
        else:
            _, pen = jax.block_until_ready(_penalized_step(model, optimizer, xb, yb, state, lam))
        step_s.append(time.perf_counter() - t0)
    steady = step_s[1:]
    log["step_seconds_median"] = statistics.median(steady)
    log["step_seconds_first"] = step_s[0]
    log["refresh_seconds"] = refresh_s
    log["refresh_seconds_median"] = statistics.median(refresh_s[1:]) if len(refresh_s) > 1 else None
    log["lam"] = lam
    return log


def run_task(name: str, s: dict) -> dict:
    t = s[name]
    ds, players, factory, fit, val = _task(name, t["train"])
    split = analyze.baseline_split(ds, protocol="cross_fit", seed=0)
    test = (split.x_heldout, split.y_heldout)
    t0 = time.perf_counter()
    baselines = analyze.train_baselines(
        factory,
        split,
        train=data.train_classifier,
        num=NUM_BASELINES,
        steps=s["baseline_steps"],
        batch_size=32,
        learning_rate=t["lr"],
    )
    baseline_s = time.perf_counter() - t0
    lx, ly = fit[0][:NUM_LOGGED_SAMPLES], fit[1][:NUM_LOGGED_SAMPLES]
    template = ij.from_nnx(baselines[0], output=ij.log_odds(0))
    (base_fits,) = analyze.fit_models(
        template,
        [[ij.from_nnx(b, output=ij.log_odds(0)).params for b in baselines]],
        lx,
        ly,
        players,
    )
    logged = {"x": lx, "y": ly, "baseline_fits": base_fits}
    common = dict(
        fit=fit,
        val=val,
        test=test,
        players=players,
        baselines=baselines,
        steps=t["steps"],
        lr=t["lr"],
        log_every=s["log_every"],
        logged=logged,
        seed=0,
    )
    print(f"[{name}] plain", flush=True)
    plain = train(factory, lam=None, cfg=None, **common)
    sweep = {}
    for lam in t["lams"]:
        cfg = ij.train.PenaltyConfig(
            lam=lam, num_samples=s["num_samples"], refresh_every=s["refresh_every"]
        )
        print(f"[{name}] lam={lam}", flush=True)
        sweep[lam] = train(factory, lam=lam, cfg=cfg, **common)
    best = min(sweep, key=lambda lam: sweep[lam]["val_loss"][-1])
    pen = sweep[best]
    return {
        "players": players.n,
        "num_train": len(fit[0]),
        "num_validation": len(val[0]),
        "num_test": len(test[0]),
        "baseline_training_seconds": baseline_s,
        "lam_sweep": {
            str(lam): {"val_loss_final": r["val_loss"][-1], "test_loss_final": r["test_loss"][-1]}
            for lam, r in sweep.items()
        },
        "plain_val_loss_final": plain["val_loss"][-1],
        "lam_chosen": best,
        "plain": plain,
        "penalized": pen,
        "summary": {
            "train_loss_final": [plain["train_loss"][-1], pen["train_loss"][-1]],
            "test_loss_final": [plain["test_loss"][-1], pen["test_loss"][-1]],
            "test_loss_min": [min(plain["test_loss"]), min(pen["test_loss"])],
            "test_accuracy_final": [plain["test_accuracy"][-1], pen["test_accuracy"][-1]],
            "H_final": [plain["H"][-1], pen["H"][-1]],
            "nongeneralizable_strength_final": [
                plain["nongeneralizable_strength"][-1],
                pen["nongeneralizable_strength"][-1],
            ],
            "training_loss_rose": pen["train_loss"][-1] > plain["train_loss"][-1],
            "test_loss_held_or_fell": pen["test_loss"][-1] <= plain["test_loss"][-1],
            "step_cost_ratio": pen["step_seconds_median"] / plain["step_seconds_median"],
        },
    }


def cost(name: str, n: int, s: dict) -> dict:
    """Time per step, plain against penalized, interleaved in one process (refresh apart)."""
    _, players, factory, fit, _ = _task(name, 256, n=n)
    x, y = fit[0][:32], fit[1][:32]
    cfg = ij.train.PenaltyConfig(lam=0.1, num_samples=s["num_samples"])
    models = {k: factory(0) for k in ("plain", "penalized")}
    opts = {k: nnx.Optimizer(m, optax.adam(1e-3), wrt=nnx.Param) for k, m in models.items()}
    t0 = time.perf_counter()
    state = ij.train.refresh_penalty(models["penalized"], x, y, [factory(1)], players, config=cfg)
    first_refresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = ij.train.refresh_penalty(models["penalized"], x, y, [factory(1)], players, config=cfg)
    jax.block_until_ready(state.gamma)
    second_refresh = time.perf_counter() - t0
    res = time_interleaved(
        {
            "plain": lambda: _plain_step(models["plain"], opts["plain"], x, y),
            "penalized": lambda: _penalized_step(
                models["penalized"], opts["penalized"], x, y, state, 0.1
            ),
        },
        s["cost_repeats"],
    )
    return {
        "task": name,
        "n": n,
        "num_samples": s["num_samples"],
        "batch_size": 32,
        "plain_step_median_s": res["plain"]["median_s"],
        "penalized_step_median_s": res["penalized"]["median_s"],
        "ratio": round_ratios(res, "penalized", "plain"),
        "refresh_first_call_s": first_refresh,
        "refresh_s": second_refresh,
        "refresh_note": "one baseline, m samples: (1+1)·m fits in one batched solve",
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results["tasks"])
    fig, axes = plt.subplots(len(tasks), 3, figsize=(13, 3.6 * len(tasks)), squeeze=False)
    for row, name in zip(axes, tasks, strict=True):
        task = results["tasks"][name]
        for label, style in (("plain", "-"), ("penalized", "--")):
            r = task[label]
            tag = label if label == "plain" else f"penalized (λ={task['lam_chosen']})"
            row[0].plot(r["steps"], r["train_loss"], style, color="C0", label=f"train, {tag}")
            row[0].plot(r["steps"], r["test_loss"], style, color="C3", label=f"test, {tag}")
            row[1].plot(r["steps"], r["H"], style, color="C2", label=tag)
            row[2].plot(r["steps"], r["nongeneralizable_strength"], style, color="C1", label=tag)
        row[0].set_title(f"{name}: loss")
        row[1].set_title(f"{name}: generalization power H (8 train samples)")
        row[2].set_title(f"{name}: non-generalizable strength")
        for ax in row:
            ax.set_xlabel("step")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and λ values")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--device-name", default=None)
    p.add_argument("--tasks", default="planted,digits")
    a = p.parse_args(argv)
    s = _settings(a.quick)
    t0 = time.perf_counter()
    results = {
        "benchmark": "suppression",
        "machine": machine_info(a.device_name),
        "quick": a.quick,
        "settings": {**s, "num_baselines": NUM_BASELINES, "batch_size": 32},
        "method": "docs/method.md §6 (a reconstruction of arXiv:2505.06993 Eq. 11-12)",
        "tasks": {},
    }
    for name in a.tasks.split(","):
        results["tasks"][name] = run_task(name, s)
    results["cost"] = [cost(name, n, s) for name in a.tasks.split(",") for n in (8, 10)]
    results["wall_seconds"] = time.perf_counter() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "suppression.json", results)
    plot(results, a.out / "suppression.png")
    for name, task in results["tasks"].items():
        print(name, task["lam_chosen"], task["summary"])
    for c in results["cost"]:
        print(c["task"], c["n"], c["ratio"]["median_of_round_ratios"], c["refresh_s"])


if __name__ == "__main__":
    main()
