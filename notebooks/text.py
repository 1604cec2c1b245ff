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
# # Negation as an AND interaction: a tiny transformer on a sentiment grammar
#
# This tutorial explains the prediction of a small Flax NNX transformer on one sentence,
# *"the movie was not good"*, with the exact AND-OR interactions of interjax
# (`docs/method.md` §1-3; He et al. 2025, arXiv:2505.06993; Li & Zhang 2023,
# arXiv:2304.13312).
#
# * **Players** are the words of the sentence (token positions). A masked word is replaced, at the
#   embedding level, by the embedding of a `<mask>` token; positions are added afterwards, so a
#   masked word keeps its place. Padding is background and always kept.
# * **Values** `v(T)` are the model's log-odds of *positive* sentiment on the sentence in which
#   only the words of `T` are visible: one number for each of the `2^n` coalitions.
# * **AND interactions** (Harsanyi dividends) `I(S) = Σ_{T⊆S} (-1)^{|S|-|T|} v(T)` split every
#   value exactly into effects of word sets: `v(T) = Σ_{S⊆T} I(S)`. An AND interaction is the
#   part of the output that appears only when *all* words of `S` are present together.
#
# The grammar is built so that negation *must* be an AND: the label is positive iff the adjective
# is positive XOR the sentence contains "not". Neither word alone predicts the label.

# %%
import itertools

import jax

jax.config.update("jax_enable_x64", True)  # the transforms in float64 (README, "Numerics")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import interjax as ij  # noqa: E402
from interjax import data  # noqa: E402

plt.rcParams["figure.dpi"] = 72  # small inline figures
SEED = 0

# %% [markdown]
# ## The data and the model
#
# `negation_sentiment` samples disjoint train and test sets from the grammar
# `det noun verb ["not"] [intensifier] adjective [ending]` (6912 sentences, padded to 8 tokens).
# `train_tiny_transformer` trains a one-block transformer (embedding dimension 16, two heads) with
# Adam, on the training sentences plus randomly masked copies of them (true labels kept), so
# that `<mask>` means "an unknown word" to the model: with the adjective masked it should not
# know the sentiment. Training takes about 15 s on two CPU cores.

# %%
ds = data.negation_sentiment(seed=SEED)
for row, label in zip(ds.x_train[:4], ds.y_train[:4], strict=True):
    print(f"{ds.class_names[label]:>8}: {ds.decode(row)}")

model = data.train_tiny_transformer(ds, seed=SEED)
accuracy = data.accuracy(model, ds.x_test, ds.y_test)
print(f"test accuracy: {accuracy:.3f} on {len(ds.y_test)} unseen sentences")
assert accuracy > 0.99

# %% [markdown]
# ## Values of one sentence
#
# One token player per word (`ij.Players.tokens`), and the sentence as token ids `(L,)`: a
# masked word's id is replaced by the `<mask>` id (`mask_value=ds.mask_id`), so the model embeds
# the masked sentence itself. This is the recipe that stays right over a training run, where
# every checkpoint and every baseline model has its own embedding table (`analyze.trajectory`
# refuses pre-embedded inputs there). `ij.log_odds(target=1)` reads
# `log p(positive) / p(negative)`, so a positive value means "positive sentiment" for every
# sentence below.

# %%
value_model = ij.from_nnx(model, output=ij.log_odds(target=1))


def explain(sentence: str):
    """Words, players and the values v of every coalition of the sentence's words."""
    words = sentence.split()
    players = ij.Players.tokens(ds.seq_len, positions=range(len(words)), names=words)
    tokens = ds.encode(sentence)  # (L,) ids
    v = ij.evaluate(value_model, tokens, players, mask_value=ds.mask_id)
    return words, players, v


# %% [markdown]
# For one model, masking at the embedding level is the same thing: `TinyTransformer` splits at
# the embeddings (`model(tokens) == model.from_embeddings(model.embed(tokens))`), and replacing
# a row of `model.embed(tokens)` by the `<mask>` embedding gives the same values.

# %%
embedded = ij.evaluate(
    ij.from_nnx(model, output=ij.log_odds(target=1), method="from_embeddings"),
    model.embed(ds.encode("the movie was not good")),
    ij.Players.tokens(ds.seq_len, positions=range(5)),
    mask_value=model.baseline_embedding(ds.mask_id),  # (D,): the <mask> embedding
)
np.testing.assert_allclose(embedded, explain("the movie was not good")[2], atol=1e-5)


def name(coalition: int, words) -> str:
    """A coalition's bitmask as its words joined by ∧."""
    return " ∧ ".join(words[i] for i in ij.coalition_players(coalition, len(words))) or "∅"


sentence = "the movie was not good"
words, players, v = explain(sentence)
n = len(words)
print(f"{sentence!r}: n = {n} players, {len(v)} coalitions, label = {ds.label(sentence)}")
for coalition in (set(), {4}, {3}, {3, 4}, set(range(n))):
    idx = ij.coalition_index(coalition)
    print(f"  v({name(idx, words)}) = {float(v[idx]):+.2f}")

# %% [markdown]
# With every word masked the model is undecided (`v(∅) ≈ 0`). "good" alone pushes towards
# positive, "not" alone does almost nothing, and "not" together with "good" is strongly negative,
# as is the whole sentence. The Shapley values share the output among the words but cannot say
# *which words act together*; that is what the interactions do.

# %%
phi = np.asarray(ij.shapley_values(v))
print("Shapley values:", ", ".join(f"{w} {p:+.2f}" for w, p in zip(words, phi, strict=True)))
np.testing.assert_allclose(phi.sum(), v[-1] - v[0], atol=1e-9)  # efficiency

# %% [markdown]
# ## Exact AND interactions
#
# `ij.and_interactions` computes all `2^n` Harsanyi dividends with `n` butterfly passes. They
# match the model exactly: `ij.and_inverse` sums them back into `v` on every coalition
# (*universal matching*, docs/method.md §2).

# %%
I_and = np.asarray(ij.and_interactions(v))
np.testing.assert_allclose(np.asarray(ij.and_inverse(I_and)), v, atol=1e-10)

strongest = np.argsort(-np.abs(I_and[1:]))[:6] + 1  # non-empty sets, strongest first
for s in strongest:
    print(f"  I_and({name(int(s), words)}) = {I_and[s]:+.2f}")

NOT, GOOD = 1 << words.index("not"), 1 << words.index("good")
PAIR = NOT | GOOD
# {not, good} is the strongest AND interaction ...
assert strongest[0] == PAIR
# ... and it flips the adjective: with every other word masked, "good" raises the log-odds of
# "positive" without "not" (I(good) = v(good) - v(∅)) and lowers them with "not"
# (v(not, good) - v(not) = I(good) + I(not, good)).
assert I_and[GOOD] > 0 > I_and[GOOD] + I_and[PAIR]
np.testing.assert_allclose(I_and[GOOD] + I_and[PAIR], v[PAIR] - v[NOT], atol=1e-9)

# %% [markdown]
# The dividend of {not, good} is about -4: a negation effect that appears only when both words
# are visible. The next ones are the same pair with one more word (the context makes the model
# more confident), and the adjective alone is small and positive.
#
# ## Sparse AND-OR interactions
#
# Exact AND interactions of a real network are dense (all 31 non-empty sets carry some
# weight). The paper's representation (docs/method.md §3) splits `v` into an AND part and an OR
# part, with a small error `|q| ≤ 2% · |v(N) - v(∅)|`, so that the L1 norm of all AND and OR
# interactions is as small as possible. `ij.fit_and_or` solves this linear program and returns
# a certificate: the gap to a dual lower bound, i.e. how far the result can be from the optimum.
# The *salient* interactions are those with `|I| ≥ 5%` of the strongest one.
#
# `fit_and_or` takes a batch of value vectors and solves them in one compiled program. We fit our
# sentence together with the one we compare it to below, *"the movie was very good"*.

# %%
words_b, _, v_b = explain("the movie was very good")
fits = ij.fit_and_or(np.stack([v, v_b]), q_ratio=0.02)  # one batched solve, (2, 2**n) arrays
errors = np.asarray(ij.matching_error(np.stack([v, v_b]), fits.and_, fits.or_, fits.q))
print(f"L1 norm of the AND-OR split {np.asarray(fits.objective).round(2)}")
gaps = ", ".join(f"{g:.1e}" for g in np.asarray(fits.relative_gap))
print(f"certified relative gaps {gaps}, converged {np.asarray(fits.converged)}")
print(f"L1 norm of the dense AND interactions of our sentence: {np.abs(I_and[1:]).sum():.2f}")
assert np.asarray(fits.converged).all()
assert (errors < 1e-6).all()  # the AND and OR parts reproduce v + q exactly


def salient_table(salient, words):
    """Print the salient interactions with the words as names; returns them as records."""
    records = salient.as_records()  # strongest first
    for r in records:
        print(f"  {r['kind'].upper():<3} {name(r['set'], words):<34} {r['value']:+6.2f}")
    return records


salient_sets = ij.salient(fits, ratio=0.05)  # one Salient per sentence
records = salient_table(salient_sets[0], words)
top = records[0]
# the strongest salient interaction is the AND of "not" and "good", and it is negative:
assert (top["kind"], top["set"], top["value"] < 0) == ("and", PAIR, True)
total = sum(abs(r["value"]) for r in records)
with_not = sum(abs(r["value"]) for r in records if r["set"] & NOT) / total
share = abs(top["value"]) / total
assert with_not > 0.9  # nearly all the salient strength is in interactions that contain "not"
print(
    f"{len(records)} salient interactions; those with 'not' hold {with_not:.0%} of their "
    f"strength, not ∧ good alone {share:.0%}"
)

# %% [markdown]
# Out of 2 × 31 possible AND and OR interactions only about eight are salient, nearly all of their
# strength in interactions containing "not", and the AND of "not" with "good" carries about half
# of it. The next ones are the same negation seen with one more word; the small terms of opposite
# sign correct the overshoot of the larger ones. (The sparsest split is not always unique: when
# several splits reach the same L1 norm, which one the solver returns can change a small salient
# term, so we check the share, not the exact list.)
#
# ## The same sentence without "not"
#
# In *"the movie was very good"* the intensifier "very" takes the place of "not" (same length,
# same positions). Because the sentence length stays visible (padding is never masked), the
# model knows that a 5-word sentence holds either "not" or an intensifier in front of the
# adjective, or an ending after it; so "very" tells it the adjective is *not* negated. The
# strongest interaction is again a pair with the adjective, now **positive**: the AND of "very"
# and "good" confirms the adjective, where "not" reversed it.

# %%
records_b = salient_table(salient_sets[1], words_b)
VERY_GOOD = ij.coalition_index({3, 4})
assert records_b[0]["kind"] == "and" and records_b[0]["set"] == VERY_GOOD
assert records_b[0]["value"] > 0 > top["value"] and float(v_b[-1]) > 0

fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharex=True)
for ax, recs, ws in zip(axes, (records, records_b), (words, words_b), strict=True):
    recs = recs[:6][::-1]
    labels = [f"{r['kind'].upper()} {name(r['set'], ws)}" for r in recs]
    values = [r["value"] for r in recs]
    ax.barh(labels, values, color=["C3" if x < 0 else "C0" for x in values])
    ax.axvline(0, color="k", lw=0.6)
    ax.set_title(" ".join(ws), fontsize=10)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("salient interaction (log-odds of positive)", fontsize=8)
fig.tight_layout()

# %% [markdown]
# A 4-word sentence such as *"the movie was good"* cannot contain "not" in this grammar, so there
# the adjective alone decides: its strongest exact AND interaction has order 1.

# %%
words_c, _, v_c = explain("the movie was good")
I_c = np.asarray(ij.and_interactions(v_c))
s_c = int(np.abs(I_c[1:]).argmax()) + 1
print(f"strongest: I_and({name(s_c, words_c)}) = {I_c[s_c]:+.2f} of v(N) = {float(v_c[-1]):+.2f}")
assert name(s_c, words_c) == "good" and I_c[s_c] > 0

# %% [markdown]
# ## Does it hold beyond one sentence?
#
# `ij.evaluate` also takes a batch of inputs. All 216 sentences of the form
# `det noun verb not adjective` go through one compiled sweep, and their exact AND interactions
# through one batched transform. In every one of them the AND of "not" with the adjective is the
# strongest interaction, and it acts against the adjective's own effect (negative for a positive
# adjective, positive for a negative one).

# %%
grammar = [
    f"{d} {n_} {vb} not {adj}"
    for d, n_, vb, adj in itertools.product(
        ("the", "this", "a"),
        ("movie", "film", "plot", "acting"),
        ("was", "is", "seemed"),
        ("good", "great", "fun", "bad", "dull", "awful"),
    )
]
tokens = np.stack([ds.encode(s) for s in grammar])  # (216, L)
players5 = ij.Players.tokens(ds.seq_len, positions=range(5))
v_all = ij.evaluate(value_model, tokens, players5, mask_value=ds.mask_id)  # (216, 32)
I_all = np.asarray(ij.and_interactions(v_all))
ADJ = 1 << 4  # the adjective is word 4 in all of them, "not" word 3 (PAIR = {3, 4})
is_pair_strongest = np.abs(I_all[:, 1:]).argmax(axis=1) + 1 == PAIR
opposes = np.sign(I_all[:, PAIR]) == -np.sign(I_all[:, ADJ])
print(f"{len(grammar)} sentences; AND(not, adjective) is the strongest interaction in")
print(f"{is_pair_strongest.mean():.0%} of them and opposes the adjective in {opposes.mean():.0%}")
assert is_pair_strongest.all() and opposes.all()

# %% [markdown]
# **What to take away.** Masking words (by the `<mask>` id), with a model trained to read
# `<mask>` as "unknown word", makes the values `v(T)` meaningful for every subset of words. The
# exact AND interactions and the sparse AND-OR split then name the mechanism the grammar
# demands: negation is an AND interaction of "not" with the adjective, opposite in sign to the
# adjective's own effect. The `training_dynamics` tutorial follows such interactions over
# training and asks which of them generalize.
