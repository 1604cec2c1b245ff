# %% [markdown]
# # Quickstart: exact AND-OR interactions of a tabular MLP
#
# This tutorial trains a small Flax NNX MLP on the breast-cancer table that ships with
# scikit-learn, and explains one held-out prediction with **interjax**:
#
# 1. evaluate the network on all $2^n$ masked versions of the input (one compiled sweep);
# 2. turn those values into the exact **AND** and **OR** interactions and the **Shapley** values;
# 3. find the **sparse AND-OR split** of the paper, with a certificate of optimality, and its
#    few **salient** interactions.
#
# The method follows He, Zhang, Cheng, Zhang, Zhang (2025), *Quantifying and Analyzing the
# Generalization Power of a DNN*, [arXiv:2505.06993](https://arxiv.org/abs/2505.06993), with the
# AND-OR interactions of Li & Zhang (2023, arXiv:2304.13312) and Chen et al. (2024,
# arXiv:2401.16318). Section numbers (§) refer to `docs/method.md`, the project's mathematical
# contract. The whole notebook runs on a CPU in well under a minute.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import interjax as ij
from interjax import data

# x64 before any array is made: the transforms are alternating sums, run them in float64
jax.config.update("jax_enable_x64", True)
plt.rcParams["figure.dpi"] = 80  # small inline figures

# %% [markdown]
# ## 1. Data and model
#
# `data.breast_cancer()` gives 569 tumours × 30 standardized features (398 for training, 171
# held out). The 30 columns are 10 measurements (radius, texture, …), each as mean, standard
# error and worst value. A small MLP trained for a few hundred Adam steps is enough for this
# table.

# %%
ds = data.breast_cancer(seed=0)
net = data.MLP(30, 2, hidden=(64, 64), rngs=nnx.Rngs(0))
data.train_classifier(net, ds.x_train, ds.y_train, steps=300, seed=0)
acc = data.accuracy(net, ds.x_test, ds.y_test)
print(f"{len(ds.x_train)} train / {len(ds.x_test)} test samples; test accuracy {acc:.3f}")
classes = [str(c) for c in ds.class_names]
print("classes:", classes)
assert acc > 0.9

# %% [markdown]
# ## 2. Players, baseline and the value function (§1)
#
# An input is split into $n$ **players**. Here a player is one measurement, the group of its
# three columns, so $n = 10$ (`data.breast_cancer_players()`). A masked input $x_T$ keeps the
# players in the coalition $T$ and replaces the others by a **baseline**, here the mean of the
# training set (`ij.mean_baseline`), i.e. "this measurement is average".
#
# The **value** $v(T)$ is the log-odds of the target class on $x_T$,
# $\log p_y / (1 - p_y) = z_y - \log\sum_{k\ne y} e^{z_k}$ (`ij.log_odds`).
# `ij.from_nnx` wraps the trained module (it takes a snapshot of its parameters).

# %%
players = data.breast_cancer_players()
names = list(players.names)
print(players.n, "players:", names)

i = 0  # the first held-out tumour
x, y = ds.x_test[i], int(ds.y_test[i])
model = ij.from_nnx(net, output=ij.log_odds(target=y))
baseline = ij.mean_mask_value(ds.x_train)
print(f"sample {i}: true class {classes[y]!r}, predicted {int(net(x[None]).argmax())}")

# %% [markdown]
# ## 3. All $2^n$ values in one call
#
# `ij.evaluate` builds the $2^{10} = 1024$ masked inputs and runs the network on all of them in
# one compiled, chunked, vmapped sweep. The result `v` is in **bitmask order**: entry `T` is the
# value of the coalition whose members are the set bits of the integer `T` (player `i` is kept
# iff bit `i` is set). So `v[0]` is the empty coalition $v(\emptyset)$ (everything at the
# baseline), `v[2**n - 1]` the full input $v(N)$, and `v[0b101]` keeps players 0 and 2 only.
# `ij.coalition_index` and `ij.coalition_players` convert between sets and indices.

# %%
n = players.n
v = ij.evaluate(model, x, players, mask_value=baseline)
print(v.shape, v.dtype)
assert v.dtype == jnp.float64 and v.shape == (2**n,)
print(f"v(∅) = {float(v[0]):+.3f}   v(N) = {float(v[-1]):+.3f}")
T = ij.coalition_index([0, 2])  # {radius, perimeter}
print(f"v({{{names[0]}, {names[2]}}}) = v[{T}] = v[{T:#b}] = {float(v[T]):+.3f}")
assert ij.coalition_players(T, n) == (0, 2)

# v(N) is just the model's own log-odds on the unmasked input:
logits = net(x[None])[0]
assert abs(float(v[-1]) - float(ij.log_odds(target=y)(logits))) < 1e-4

# %% [markdown]
# ## 4. Exact AND and OR interactions (§2)
#
# The **AND interaction** (Harsanyi dividend) of a set $S$ is
# $I_\text{and}(S) = \sum_{T\subseteq S} (-1)^{|S|-|T|} v(T)$: the part of the output that
# appears only when *all* players of $S$ are present. It satisfies **universal matching**:
# for every masked input, $v(T) = \sum_{S\subseteq T} I_\text{and}(S)$, so the network's output is
# exactly a sum of AND effects. The **OR interaction** is the same transform on the complement,
# $I_\text{or}(S) = -\sum_{T\subseteq S} (-1)^{|S|-|T|} v(N\setminus T)$ with
# $I_\text{or}(\emptyset) = v(\emptyset)$: an effect that appears when *any* player of $S$ is
# present, and $v(T) = I_\text{or}(\emptyset) + \sum_{S\cap T\neq\emptyset} I_\text{or}(S)$.
#
# Both are computed with $n$ butterfly passes over `v` ($O(n\,2^n)$), never with
# $2^n\times 2^n$ matrices. `ij.matching_error(v, and_, or_)` is the largest residual of universal
# matching over all $2^n$ coalitions.

# %%
I_and = ij.and_interactions(v)
I_or = ij.or_interactions(v)
zeros = jnp.zeros_like(v)
err_and = float(ij.matching_error(v, I_and, zeros))  # v(T) = Σ_{S⊆T} I_and(S)
err_or = float(ij.matching_error(v, zeros, I_or))  # v(T) = I_or(∅) + Σ_{S∩T≠∅} I_or(S)
print(f"universal matching residual: AND {err_and:.1e}, OR {err_or:.1e}")
assert err_and < 1e-9 and err_or < 1e-9
assert jnp.allclose(ij.reconstruct(I_and, zeros), v)

# The same numbers, written out: the AND interactions of S ⊆ {0, 2} sum to v({0, 2}).
subsets = [ij.coalition_index(s) for s in ([], [0], [2], [0, 2])]
print(f"Σ_(S⊆{{0,2}}) I_and(S) = {float(sum(I_and[s] for s in subsets)):+.6f} = v[5]")

# %% [markdown]
# Exact AND interactions of a real network are **dense**: almost all $2^n$ of them are nonzero.
# `ij.noise_floor` bounds the rounding error of each interaction (the model runs in float32), so
# anything below it carries no information.

# %%
floor = ij.noise_floor(v, kind="and")
mag = np.abs(np.asarray(I_and[1:]))
print(f"largest |I_and| = {mag.max():.3f}; largest noise floor = {float(floor.max()):.1e}")
print(f"AND interactions above 5% of the largest: {(mag >= 0.05 * mag.max()).sum()} of {2**n - 1}")
print(f"L1 norm of the exact AND interactions: {np.abs(np.asarray(I_and)).sum():.2f}")

# %% [markdown]
# ## 5. Shapley values
#
# Shapley values are weighted sums of the AND interactions, $\phi_i = \sum_{S\ni i}
# I_\text{and}(S)/|S|$: each interaction is shared equally among its players. They satisfy
# **efficiency**, $\sum_i \phi_i = v(N) - v(\emptyset)$. (`ij.banzhaf_values` and
# `ij.pairwise_shapley_interactions` work the same way.)

# %%
phi = np.asarray(ij.shapley_values(v))
efficiency = abs(phi.sum() - float(v[-1] - v[0]))
print(f"Σφ = {phi.sum():+.4f},  v(N) - v(∅) = {float(v[-1] - v[0]):+.4f}")
assert efficiency < 1e-9

order = np.argsort(np.abs(phi))
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.barh(np.array(names)[order], phi[order], color=np.where(phi[order] > 0, "C0", "C3"))
ax.set_xlabel(f"Shapley value (log-odds of {classes[y]!r})")
ax.set_title(f"Shapley values, test sample {i}")
fig.tight_layout()

# %% [markdown]
# ## 6. The sparse AND-OR split, certified (§3)
#
# The paper explains the output with few interactions by splitting $v$ into an AND part and an
# OR part, allowing a small error $q$:
#
# $$v_\text{and} = \tfrac12(v+q) + \gamma,\qquad v_\text{or} = \tfrac12(v+q) - \gamma,\qquad
# |q(T)| \le \tau = q_\text{ratio}\,|v(N) - v(\emptyset)|,$$
#
# and choosing $\gamma, q$ to minimize $\sum_S |I_\text{and}(S)| + \sum_S |I_\text{or}(S)|$.
# That is a linear program. `ij.fit_and_or` solves it with a preconditioned, restarted
# primal-dual method on the fast transforms and returns an `AndOr` result with a
# **certificate**:
#
# * `objective`: the L1 norm reached; `lower_bound`: the objective of a *dual feasible* point,
#   so no split whatsoever can do better than `lower_bound`;
# * `gap = objective - lower_bound` therefore bounds the distance to the true optimum,
#   whatever the iterations did; `relative_gap = gap / objective`;
# * `converged`: the relative gap reached `tol` (default 1e-3) before `max_iters`.
#
# After solving, the OR terms of ∅ and of single players are folded into AND (for one player,
# AND and OR are the same pattern). Universal matching still holds, now for $v + q$.

# %%
fit = ij.fit_and_or(v, q_ratio=0.02)
print(f"objective   {float(fit.objective):.4f}")
print(f"lower_bound {float(fit.lower_bound):.4f}")
print(f"gap         {float(fit.gap):.2e}  (relative {float(fit.relative_gap):.1e}, tol {fit.tol})")
print(f"converged   {bool(fit.converged)} after {int(fit.iterations)} iterations")
print(f"L1 of the exact AND interactions was {np.abs(np.asarray(I_and)).sum():.4f}")
assert bool(fit.converged) and float(fit.relative_gap) <= fit.tol
assert float(fit.lower_bound) <= float(fit.objective)
assert float(jnp.abs(fit.q).max()) <= float(fit.tau) + 1e-12  # the error stays in its box
assert float(ij.matching_error(v, fit.and_, fit.or_, fit.q)) < 1e-8  # v + q = AND + OR parts

# %% [markdown]
# ## 7. Salient interactions
#
# The salient interactions are those with $|I| \ge 5\%$ of the largest, over both kinds and all
# non-empty sets (never below the noise floor). `ij.salient` lists them strongest first;
# `top_k=` and `share=` are the other selection rules.

# %%
sal = ij.salient(fit, ratio=0.05)
print(f"{len(sal)} salient interactions (of 2 × {2**n - 1}):\n")
print(f"{'kind':4s} {'order':>5s} {'I':>8s}  players")
for r in sal.as_records(names=names)[:12]:  # names: the players' names in each record
    who = ", ".join(r["names"])
    print(f"{r['kind'].upper():4s} {r['order']:5d} {r['value']:+8.3f}  {{{who}}}")

# %% [markdown]
# How the salient strength $\sum|I|$ spreads over orders $|S|$ (`ij.strength_by_order`, per kind),
# and how quickly the sorted interaction strengths fall off: the AND-OR split concentrates the
# output on far fewer terms than the exact AND interactions.

# %%
strength, counts = ij.strength_by_order(fit)
k = np.arange(n + 1)
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(k - 0.2, np.asarray(strength[0]), width=0.4, label="AND")
ax.bar(k + 0.2, np.asarray(strength[1]), width=0.4, label="OR")
ax.set_xticks(k[1:])
ax.set_xlim(0.5, n + 0.5)
ax.set_xlabel("order |S|")
ax.set_ylabel("salient strength Σ|I|")
ax.legend()
fig.tight_layout()
print("salient counts by order (AND):", np.asarray(counts[0], dtype=int)[1:].tolist())
print("salient counts by order (OR): ", np.asarray(counts[1], dtype=int)[1:].tolist())

# %%
exact = np.sort(np.abs(np.asarray(I_and[1:])))[::-1]
split = np.sort(np.abs(np.concatenate([np.asarray(fit.and_[1:]), np.asarray(fit.or_[1:])])))[::-1]
rank = np.arange(1, 2**n)
fig, ax = plt.subplots(figsize=(5, 3))
ax.loglog(rank, exact, label="exact AND interactions")
ax.loglog(rank, split[: 2**n - 1], label="AND-OR split (AND and OR)")
ax.axhline(0.05 * split[0], color="k", ls=":", lw=1, label="5% of the largest")
ax.set_ylim(1e-6, 2 * max(exact[0], split[0]))
ax.set_xlabel("rank (strongest first)")
ax.set_ylabel("|I|")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 8. A batch of samples in one call
#
# `x` may carry a leading batch axis, with one target per input: `v` is then `(B, 2**n)` and
# every transform works row by row. Here are the Shapley values of eight held-out tumours at once
# (`ij.fit_and_or(v_batch)` would likewise fit all of them in one vmapped program).

# %%
xb, yb = ds.x_test[:8], ds.y_test[:8]
model_b = ij.from_nnx(net, output=ij.log_odds(target=jnp.asarray(yb)))
v_batch = ij.evaluate(model_b, xb, players, mask_value=baseline)
phi_b = np.asarray(ij.shapley_values(v_batch))
print(v_batch.shape, phi_b.shape)
assert np.allclose(v_batch[0], v)  # row 0 is the sample explained above
assert np.allclose(phi_b.sum(-1), v_batch[:, -1] - v_batch[:, 0])  # efficiency, every row
top = np.argmax(np.abs(phi_b), axis=-1)
for j in range(len(xb)):
    print(
        f"sample {j}: class {classes[int(yb[j])]:9s} v(N) = {float(v_batch[j, -1]):+6.2f}"
        f"   most important: {names[top[j]]}"
    )

# %% [markdown]
# ## Where next
#
# * `images.py`: the same analysis for a CNN on digit images, with patches as players.
# * `training_dynamics.py`: which salient interactions *generalize* (are shared with baseline
#   models trained on unseen data) and how that changes over training, the core of
#   arXiv:2505.06993 (§4-5).
