# %% [markdown]
# # Interactions between image patches: a CNN on digits
#
# The same analysis as in `quickstart.py`, for images: a small Flax NNX CNN classifies 8×8
# digits, the players are image **patches**, and the salient AND-OR interactions become groups of
# patches that we can draw on the image.
#
# Method: He et al. (2025), [arXiv:2505.06993](https://arxiv.org/abs/2505.06993); AND-OR
# interactions of Li & Zhang (2023, arXiv:2304.13312) and Chen et al. (2024, arXiv:2401.16318).
# Section numbers (§) refer to `docs/method.md`. Runs on a CPU in well under a minute.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import interjax as ij
from interjax import data, report

# x64 before any array is made: the transforms are alternating sums, run them in float64
jax.config.update("jax_enable_x64", True)
plt.rcParams["figure.dpi"] = 80  # small inline figures

# %% [markdown]
# ## 1. Train a small CNN
#
# `data.digits()` gives scikit-learn's 1797 grey 8×8 digits as `(N, 8, 8, 1)` images in
# [0, 1] (1258 for training, 539 held out). `data.SmallCNN` has two 3×3 convolutions, an average
# pool and a dense head; a few hundred Adam steps give above 90% test accuracy.

# %%
ds = data.digits(seed=0)
net = data.SmallCNN(rngs=nnx.Rngs(0))
data.train_classifier(net, ds.x_train, ds.y_train, steps=250, seed=0)
acc = data.accuracy(net, ds.x_test, ds.y_test)
print(f"{len(ds.x_train)} train / {len(ds.x_test)} test images; test accuracy {acc:.3f}")
assert acc > 0.85

# %% [markdown]
# ## 2. Patch players
#
# Each player is a 2×2 patch on the 4×4 grid of patches. With $n$ players the sweep evaluates
# $2^n$ masked images, so we keep few: the 10 patches that carry the most ink on average over the
# training images (the left and right columns of the grid are nearly blank in most digits).
# Pixels that belong to no player are *background*, kept as they are in every masked image.
# `ij.Players.patches((8, 8), 2, select=...)` makes patch `select[i]` player `i`;
# `data.digit_patch_players()` is a ready-made choice of 12 patches (the grid without its
# corners). A masked patch is set to the **baseline**, here zeros, a blank patch
# (`mask_value=None`).
#
# We explain the first correctly classified held-out image, with the log-odds of its class as the
# value (§1).

# %%
ink = ds.x_train[..., 0].mean(0).reshape(4, 2, 4, 2).sum(axis=(1, 3)).ravel()  # per patch
keep = np.sort(np.argsort(-ink)[:10])
players = ij.Players.patches((8, 8), 2, select=keep.tolist())
n = players.n
member = players.membership  # (8, 8): player id of every pixel, -1 for background

pred = np.asarray(net(ds.x_test)).argmax(-1)
i = int(np.flatnonzero(pred == ds.y_test)[0])
image, y = ds.x_test[i], int(ds.y_test[i])
print(f"test image {i}: digit {y}; players = patches {keep.tolist()} of the 4×4 grid")

fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(image[..., 0], cmap="gray_r")
for p in range(n):  # outline and number every player
    rows, cols = np.nonzero(member == p)
    ax.add_patch(
        plt.Rectangle((cols.min() - 0.5, rows.min() - 0.5), 2, 2, fill=False, ec="C0", lw=0.8)
    )
    ax.text(
        cols.mean(),
        rows.mean(),
        str(p),
        color="C0",
        ha="center",
        va="center",
        fontsize=8,
        bbox={"fc": "white", "alpha": 0.8, "lw": 0, "pad": 1},
    )
ax.set_title(f"digit {y} and its {n} patch players", fontsize=10)
ax.set_xticks([])
ax.set_yticks([])
fig.tight_layout()

# %% [markdown]
# ## 3. All $2^{10} = 1024$ masked images in one call
#
# `v[T]` is the log-odds on the image where only the patches whose bits are set in the integer
# `T` are kept (bitmask order): `v[0]` is the blank image, `v[-1]` the full one.

# %%
model = ij.from_nnx(net, output=ij.log_odds(target=y))
v = ij.evaluate(model, image, players)  # mask_value=None: masked patches become 0
print(v.shape, f"v(∅) = {float(v[0]):+.3f}   v(N) = {float(v[-1]):+.3f}")
assert abs(float(v[-1]) - float(ij.log_odds(target=y)(net(image[None])[0]))) < 1e-4

# %% [markdown]
# ## 4. Exact interactions and Shapley values (§2)
#
# The exact AND interactions reconstruct every one of the 1024 values (universal matching);
# the Shapley values share each AND interaction equally among its patches and sum to
# $v(N) - v(\emptyset)$.

# %%
I_and = ij.and_interactions(v)
err = float(ij.matching_error(v, I_and, jnp.zeros_like(v)))
phi = np.asarray(ij.shapley_values(v))
print(f"universal matching residual {err:.1e}")
print(f"Σφ = {phi.sum():+.4f},  v(N) - v(∅) = {float(v[-1] - v[0]):+.4f}")
assert err < 1e-9
assert abs(phi.sum() - float(v[-1] - v[0])) < 1e-9

# %% [markdown]
# Shapley values per patch as a heat map next to the image: red patches push the log-odds of
# this digit up, blue ones down.

# %%
heat = np.where(member >= 0, phi[np.maximum(member, 0)], np.nan)
lim = np.abs(phi).max()
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6, 3))
ax0.imshow(image[..., 0], cmap="gray_r")
ax0.set_title(f"test image {i} (digit {y})", fontsize=10)
im = ax1.imshow(heat, cmap="RdBu_r", vmin=-lim, vmax=lim)
ax1.contour(image[..., 0], levels=[0.5], colors="k", linewidths=0.8)  # the digit's outline
ax1.set_title("Shapley value per patch", fontsize=10)
for ax in (ax0, ax1):
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=ax1, fraction=0.046, pad=0.04)
fig.tight_layout()

# %% [markdown]
# ## 5. The sparse AND-OR split and its certificate (§3)
#
# `ij.fit_and_or` splits $v$ into an AND part and an OR part (with an error $|q| \le \tau =
# 0.02\,|v(N) - v(\emptyset)|$) that minimize the L1 norm of all AND and OR interactions, a linear
# program. The returned `gap = objective - lower_bound` is certified by a dual feasible point:
# the true optimum lies between `lower_bound` and `objective`.

# %%
fit = ij.fit_and_or(v, q_ratio=0.02)
print(
    f"objective {float(fit.objective):.3f}, lower bound {float(fit.lower_bound):.3f}, "
    f"relative gap {float(fit.relative_gap):.1e}, converged {bool(fit.converged)} "
    f"({int(fit.iterations)} iterations)"
)
print(f"L1 of the exact AND interactions: {float(jnp.abs(I_and).sum()):.3f}")
assert bool(fit.converged) and float(fit.relative_gap) <= fit.tol
assert float(ij.matching_error(v, fit.and_, fit.or_, fit.q)) < 1e-8

# %% [markdown]
# ## 6. The salient interactions, drawn on the image
#
# The salient interactions ($|I| \ge 5\%$ of the largest) are listed strongest first.
# `report.plot_patch_interactions` draws the strongest ones, one panel each: the patches of an
# AND interaction (all of them needed) outlined in blue, of an OR interaction (any of them
# suffices) in orange, the interaction's effect on the log-odds in the title.

# %%
sal = ij.salient(fit)
records = sal.as_records()
strength, counts = ij.strength_by_order(fit)
print(f"{len(sal)} salient interactions; counts by order 1..{n}:")
print("  AND", np.asarray(counts[0], dtype=int)[1:].tolist())
print("  OR ", np.asarray(counts[1], dtype=int)[1:].tolist())
for r in records[:8]:
    print(
        f"{r['kind'].upper():3s} order {r['order']:2d}  {r['value']:+7.3f}  players {r['players']}"
    )
assert len(sal) > 0 and all(r["order"] >= 1 for r in records)

# %%
fig, axes = report.plot_patch_interactions(image, member, records, top=4)

# %% [markdown]
# Removing an AND interaction's patches one at a time each destroys its effect; an OR interaction
# only vanishes when all of its patches are masked. Together, the few salient terms above explain
# the network's log-odds on all 1024 masked images up to the small error $q$ and the many tiny
# remaining terms. Which of them *generalize* (are shared with models trained on other data) is
# the subject of `training_dynamics.py` (arXiv:2505.06993, §4-5).
