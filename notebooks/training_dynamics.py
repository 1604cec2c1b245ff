# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Generalization power of interactions over training
#
# He, Zhang, Cheng, Zhang, Zhang (2025, *Quantifying and Analyzing the Generalization Power of
# a DNN*, arXiv:2505.06993) explain a network's output on a sample by a few salient AND-OR
# interactions between its input variables, and ask of each one whether it *generalizes*.
# This tutorial runs their analysis on a whole training run with interjax's public API
# (`docs/method.md` §4-5):
#
# 1. train a target network and save an **Orbax checkpoint sequence**;
# 2. train **baseline models** on data the target never saw;
# 3. read the checkpoints **read-only** and extract, at every checkpoint and for every analysed
#    sample, the salient AND-OR interactions of the target and of the baselines;
# 4. label each salient interaction of the target **generalizable** (G = 1) when at least one
#    baseline has it salient too, of the same kind, on the same sample;
# 5. follow the **generalization power** `H = Σ_{G=1}|I| / Σ_{salient}|I|` (the share of the
#    salient strength that generalizes) over training, detect the **three phases**, relate the
#    **loss gap** to the non-generalizable strength, **remove** the non-generalizable
#    interactions, and write a **report**.
#
# It runs in about a minute on two CPU cores.

# %%
import hashlib
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # the transforms in float64 (README, "Numerics")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import analyze, data, report  # noqa: E402
from interjax.checkpoints import orbax_source  # noqa: E402

plt.rcParams["figure.dpi"] = 60  # small inline figures
SEED = 0

# %% [markdown]
# ## The task: planted rules with label noise
#
# Ten features `x ∈ {-1, +1}^10` and the label `y = (x0 ∧ x1) ∨ (x2 ∧ x3)` (a feature is "on"
# when it is +1); the other six features are irrelevant. 10% of the 256 *training* labels are
# flipped, so a network that fits the training set perfectly must memorize noise; the 512 test
# labels are clean. With the baseline value 0 for a masked feature, the true rules are AND
# interactions of {x0, x1} and {x2, x3}. The players are the first eight features (x8, x9 are
# background and always kept). The target is an MLP with two hidden layers of 128 units, trained
# long enough to overfit.

# %%
ds = data.planted_rules(num_train=256, num_test=512, num_features=10, label_noise=0.1, seed=SEED)
players = ij.Players.features(8, num_features=10, names=ds.feature_names[:8])


def factory(seed: int = SEED) -> data.MLP:
    return data.MLP(10, 2, hidden=(128, 128), rngs=nnx.Rngs(seed))


print(f"{len(ds.y_train)} training samples, {len(ds.y_test)} test samples, n = {players.n} players")

# %% [markdown]
# ## 1. A training run saved as Orbax checkpoints
#
# `data.train_run` trains with Adam and saves the parameters with Orbax's `CheckpointManager`
# at 10 steps (dense early, then log-spaced), recording the train and test loss at each saved step
# in `metrics.json`. Any Orbax checkpoint folder of an NNX or Linen model works the same way below.
# The run goes into `./dynamics_run` (an existing run there is reused).

# %%
RUN = Path("dynamics_run")
if (RUN / "metrics.json").exists():
    run = data.TrainingRun.load(RUN)
else:
    run = data.train_run(
        factory, ds, RUN, total_steps=4000, num_saves=10, learning_rate=3e-3, seed=SEED
    )
print(
    "checkpoint folder:",
    run.checkpoints,
    "holds",
    sorted(p.name for p in run.checkpoints.iterdir()),
)
for step, tr, te, acc in zip(
    run.steps, run.train_loss, run.test_loss, run.test_accuracy, strict=True
):
    print(f"  step {step:>4}: train loss {tr:.3f}, test loss {te:.3f}, test accuracy {acc:.3f}")
assert run.train_loss[-1] < 0.1 < run.test_loss[-1]  # it memorizes the flipped labels


def digest(folder: Path) -> str:
    """Hash of every file under a folder, to check later that nothing wrote into it."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


checkpoints_digest = digest(run.checkpoints)

# %% [markdown]
# ## 2. Baseline models trained on other data
#
# Whether an interaction generalizes is judged by K = 3 baseline models of the same
# architecture (other seeds) trained on data the target never saw (docs/method.md §4). The paper
# trains them on the test split; interjax's default `cross_fit` protocol halves the test split:
# the baselines train on one half, and the other half supplies the held-out samples we analyse,
# so that train and test samples alike are judged by models that never saw them.

# %%
split = analyze.baseline_split(ds, "cross_fit", seed=SEED)
baselines = analyze.train_baselines(
    factory, split, train=data.train_classifier, num=3, steps=1500, learning_rate=3e-3
)
for k, b in enumerate(baselines):
    print(
        f"baseline {k}: held-out accuracy {data.accuracy(b, split.x_heldout, split.y_heldout):.3f}"
    )

# %% [markdown]
# ## 3. The trajectory: salient interactions at every checkpoint
#
# `orbax_source` opens the folder read-only and restores each step into an abstract model built
# from the factory (a factory that does not match is refused, naming the mismatched leaves).
# `analyze.trajectory` then evaluates all 10 checkpoints and the 3 baselines on 8 training and 8
# held-out samples (2^8 masked inputs each) in two stacked sweeps, one for the checkpoints and
# one for the baselines, solves all 208 AND-OR fits in one batched solve (certified to a 1%
# relative gap, as the command line does), and labels every salient interaction of the target.

# %%
with orbax_source(run.checkpoints, model_factory=factory) as source:
    steps, params = source.restore_many()
print("restored steps:", steps)
assert list(steps) == list(run.steps)

S = 8
x = np.concatenate([ds.x_train[:S], split.x_heldout[:S]])
y = np.concatenate([ds.y_train[:S], split.y_heldout[:S]])
is_test = np.arange(2 * S) >= S
traj = analyze.trajectory(
    ij.from_nnx(factory(), output=ij.log_odds(target=0)),  # the architecture only
    params,
    [nnx.split(b)[1] for b in baselines],
    x,
    y,
    players,
    steps=steps,
    is_test=is_test,
    tol=1e-2,
)
print("interactions (checkpoints, samples, AND/OR, 2^n):", traj.interactions.shape)
print(f"largest certified relative gap: {traj.relative_gap.max():.1e}")
assert traj.relative_gap.max() <= 1e-2 + 1e-9

# %% [markdown]
# One training sample, `x0 = x1 = x2 = x3 = +1` (label 1), followed over training: its salient
# interactions at initialization, at step 200 and at the end, strongest first, with their
# generalization labels. At initialization the salient interactions are small, of high order
# and shared by no baseline: noise. By step 200 the strongest ones are the rules: the AND of
# {x0, x1} and of {x2, x3}, and OR interactions of one feature of each pair, which is how the
# OR of the two ANDs shows up in AND-OR form; all of them generalize. At the end the strongest
# interaction is a non-generalizable OR of order 5.


# %%
def describe(t: int, j: int, top: int = 6) -> None:
    kinds, sets = np.nonzero(traj.salient[t, j])
    vals = traj.interactions[t, j, kinds, sets]
    order = np.argsort(-np.abs(vals))
    gen = traj.generalizable[t, j, kinds, sets]
    print(f"step {traj.steps[t]}: {len(sets)} salient, {gen.sum()} generalizable")
    for i in order[:top]:
        names = " ∧ ".join(players.names[p] for p in ij.coalition_players(int(sets[i]), players.n))
        kind = ("AND", "OR")[kinds[i]]
        print(f"    {kind:<3} {names:<38} {vals[i]:+6.2f}  G={int(gen[i])}")


j = 1  # training sample with x0..x3 all +1
for t in (0, 2, len(steps) - 1):
    describe(t, j)

# %% [markdown]
# **The true rules generalize.** Where {x0, x1} or {x2, x3} is salient for the final network
# on a sample (as an AND or an OR interaction), a baseline almost always has it salient too,
# while most salient interactions of the final network are not shared with any baseline.

# %%
final = len(steps) - 1
rules = [ij.coalition_index({0, 1}), ij.coalition_index({2, 3})]
rule_salient = traj.salient[final][:, :, rules]  # (samples, kind, rule)
rule_share = traj.generalizable[final][:, :, rules][rule_salient].mean()
overall_share = traj.generalizable[final][traj.salient[final]].mean()
print(f"rule interactions salient at the last checkpoint: {rule_salient.sum()}")
print(f"generalizable: {rule_share:.0%} of them, against {overall_share:.0%} of all salient ones")
assert rule_salient.sum() >= 16 and rule_share > 0.8 > 0.3 > overall_share

# %% [markdown]
# ## 4. Generalization power over training
#
# `analyze.summarize` averages over samples, per checkpoint, kind and order, the generalizable
# (G = 1) and non-generalizable (G = 0) salient strength `Σ|I|` and their counts, and
# `H = generalizable strength / all salient strength`, for all, training and held-out samples.
# `report.plot_generalization_by_order` draws the strengths: generalizable interactions
# (solid) are of low order, while the non-generalizable strength (dashed) that keeps growing
# is mostly of order 3 and higher.

# %%
summary = analyze.summarize(traj, run.train_loss, run.test_loss)
H = summary.profiles["all"].power
print("H over training:", ", ".join(f"{s} {h:.2f}" for s, h in zip(steps, H, strict=True)))

g = summary.profiles["all"].generalizable_strength[final].sum(0)  # per order
ng = summary.profiles["all"].nongeneralizable_strength[final].sum(0)
orders = np.arange(len(g))
mean_order_g, mean_order_ng = (orders * g).sum() / g.sum(), (orders * ng).sum() / ng.sum()
print(f"mean order at the last checkpoint: G=1 {mean_order_g:.2f}, G=0 {mean_order_ng:.2f}")
assert mean_order_ng > mean_order_g + 0.5

fig, axes = report.plot_generalization_by_order(summary)
fig.set_size_inches(9, 3.2)

# %% [markdown]
# ## 5. Three phases
#
# The paper sees three phases in H (docs/method.md §5): **phase 1** discards the noisy interactions
# of the initialized network and learns simple generalizable ones, so H rises; in **phase 2**
# increasingly complex interactions with falling generalization power are learned; in **phase 3**
# mostly non-generalizable (high-order) interactions are learned. The paper reads the phases off
# figures; `analyze.detect_phases` (called by `summarize`) applies a stated rule to curves
# smoothed over 3 checkpoints and returns the curves with the boundaries, or says which pattern
# is missing.

# %%
phases = summary.phases
print(phases.as_dict()["rule"])
print(f"-> {phases.reason}; boundaries at steps {phases.boundary_steps}")
print(" step | H smoothed | G=1 strength | G=0 strength")
for row in zip(
    phases.steps,
    phases.power_smoothed,
    phases.generalizable_smoothed,
    phases.nongeneralizable_smoothed,
    strict=True,
):
    print(" {:>4} | {:10.3f} | {:12.2f} | {:12.2f}".format(*row))

assert phases.found
b1, b3 = phases.end_of_phase1, phases.start_of_phase3
assert 0 < b1 <= b3 < len(steps) - 1
assert H[0] < H.max() - 0.15 and H[-1] < H.max() - 0.05  # H rises, then falls

# %% [markdown]
# On this small run H rises steeply in the first 100-200 steps (the noise of the initialization
# gives way to the rules), peaks, and then falls while the non-generalizable strength grows
# more than twice as fast as the generalizable one: phase 2 is very short here, the detector
# puts the end of phase 1 and the start of phase 3 at (nearly) the same checkpoint.
#
# ## 6. The loss gap and the removal experiment
#
# The paper relates the train-test loss gap to the non-generalizable interactions.
# `summarize` reports the Pearson correlation over checkpoints between `test loss - train loss`
# and the non-generalizable strength, and the step where the gap reaches 25% of its maximum
# (against the end of phase 1). `report.plot_power_and_loss` shows H with both losses and the
# phase boundaries.

# %%
lg = summary.loss_gap
print(f"corr(loss gap, non-generalizable strength) = {lg.correlation:.3f}")
print(f"gap onset at step {lg.onset_step}, end of phase 1 at step {phases.boundary_steps[0]}")
assert lg.correlation > 0.8

fig, axes = report.plot_power_and_loss(summary, run.train_loss, run.test_loss)
fig.set_size_inches(6.5, 3.2)

# %% [markdown]
# **Removal.** On the unmasked input every interaction is active, so subtracting a sample's
# non-generalizable salient interactions from its output gives `ṽ(x) = v(x) - Σ_{G=0} I(S|x)`,
# and `p̃_y = sigmoid(ṽ)`. If the non-generalizable interactions are what separates training
# from test behaviour, the test - train gap of the cross-entropy shrinks when they are removed.

# %%
removal = summary.removal
before, after = np.array(removal.gap_before), np.array(removal.gap_after)
for step, b, a in zip(steps, before, after, strict=True):
    print(f"  step {step:>4}: test - train cross-entropy {b:+.3f} -> {a:+.3f} after removal")
assert after[-1] < 0.5 * before[-1] and after[1:].mean() < 0.5 * before[1:].mean()

fig, ax = report.plot_removal(summary)
fig.set_size_inches(6.5, 3.2)

# %% [markdown]
# ## 7. The report
#
# `report.write_report` writes `summary.json`, `arrays.npz` (every array of the trajectory), the
# three plots as PNG and a `report.md` / `report.html` page into `./dynamics_report`, each file
# atomically. The checkpoint folder was only read: its files are byte for byte unchanged.

# %%
metrics = {"steps": list(steps), "train_loss": run.train_loss, "test_loss": run.test_loss}
page = report.write_report(
    "dynamics_report",
    summary,
    traj.arrays(),
    title="Planted rules with 10% label noise",
    metrics=metrics,
)
print(sorted(p.name for p in page.parent.iterdir()))
assert digest(run.checkpoints) == checkpoints_digest
text = page.read_text()
display(Markdown(text[: text.index("## Per checkpoint")]))

# %% [markdown]
# ## 8. Training without non-generalizable interactions
#
# The paper also trains networks while suppressing the interactions that do not generalize
# (its Eq. 11-12). Its equations are not public; `ij.train` implements our reconstruction
# (`docs/method.md` §6). You add `lam * ij.train.penalty(model, state)` to the loss inside your
# own jitted step. The penalty is the mean strength |I(S)| of the interactions that were labelled
# non-generalizable at the last refresh, computed from the model being trained on the masked
# inputs of m samples, with the AND-OR split (γ, q) of the refresh held fixed.
# `ij.train.refresh_penalty` recomputes the split and the labels against the same baselines every
# `refresh_every` steps, in one batched solve. The state is a pytree, so the step compiles once.
#
# Below, the same MLP (same seed, batches and Adam schedule) trains for 200 steps, once plain and
# once penalized (λ = 0.3, m = 4 samples, a refresh every 100 steps). A real experiment chooses λ
# on a validation split: `benchmarks/bench_suppression.py` does that on this task and on digits,
# and its results are in `benchmarks/results/suppression/`.

# %%
cfg = ij.train.PenaltyConfig(lam=0.3, num_samples=4, refresh_every=100)


@nnx.jit
def train_step(model, optimizer, xb, yb, state, lam):
    def loss_fn(m):
        task = optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()
        return task + lam * ij.train.penalty(m, state)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


losses = {}
for lam in (0.0, cfg.lam):  # λ = 0: the plain run, through the same compiled step
    model = factory(SEED)
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    batches = np.random.default_rng(SEED)
    for step in range(200):
        idx = batches.choice(len(ds.x_train), 32, replace=False)
        xb, yb = ds.x_train[idx], ds.y_train[idx]
        if cfg.due(step):
            state = ij.train.refresh_penalty(model, xb, yb, baselines, players, config=cfg)
        train_step(model, optimizer, xb, yb, state, lam)
    losses[lam] = (
        data.cross_entropy(model, ds.x_train, ds.y_train),
        data.cross_entropy(model, split.x_heldout, split.y_heldout),
        float(state.power),
    )
    print(
        f"λ = {lam}: train loss {losses[lam][0]:.3f}, held-out loss {losses[lam][1]:.3f}, "
        f"H of the last refresh's samples {losses[lam][2]:.2f}"
    )
