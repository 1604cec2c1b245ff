"""The negation grammar, the tiny transformer and token players masked at the embedding level."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402

import interjax as ij  # noqa: E402
from interjax.data import (  # noqa: E402
    TinyTransformer,
    mask_tokens,
    negation_sentiment,
    train_tiny_transformer,
)

SEED = 0  # (c) was also checked by hand for seeds 1, 2, 3
SENTENCES = ["the movie was not good", "the acting was not awful"]
ADJECTIVES = {"good", "great", "fun", "bad", "dull", "awful"}


@pytest.fixture(scope="module")
def data():
    return negation_sentiment(seed=SEED)


@pytest.fixture(scope="module")
def model(data):
    return train_tiny_transformer(data, seed=SEED)


@nnx.jit
def forward(model, tokens):
    return model(tokens)


@nnx.jit
def from_embeddings(model, emb):
    return model.from_embeddings(emb)


def log_odds(logits, y):
    """log p_y / (1 - p_y) for two classes, from the definition."""
    p = jax.nn.softmax(jnp.asarray(logits, jnp.float64), axis=-1)[..., y]
    return jnp.log(p) - jnp.log1p(-p)


def sweep(model, data, sentence):
    """(v over all coalitions, tokens, label, words) for the non-pad tokens of ``sentence``."""
    tokens, y, words = data.encode(sentence), data.label(sentence), sentence.split()
    players = ij.Players.tokens(data.seq_len, positions=list(range(len(words))))
    m = ij.from_nnx(model, output=ij.log_odds(target=y), method="from_embeddings")
    v = ij.evaluate(
        m, model.embed(tokens[None])[0], players, baseline=model.baseline_embedding(data.mask_id)
    )
    return v, tokens, y, words


def test_grammar(data):
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.dtype == np.int32 and y.dtype == np.int32 and x.shape == (len(y), 8)
        sentences = [data.decode(row) for row in x]
        assert [data.label(s) for s in sentences] == y.tolist()
        for s, row in zip(sentences, x, strict=True):
            assert (data.encode(s) == row).all()
        negated = np.array(["not" in s.split() for s in sentences])
        assert 0.4 < negated.mean() < 0.6
        assert 0.4 < y.mean() < 0.6
        assert data.mask_id not in x
    train = {tuple(r) for r in data.x_train.tolist()}
    assert not train & {tuple(r) for r in data.x_test.tolist()}
    assert data.label("the movie was good") == 1 and data.label("the movie was not good") == 0
    assert data.label("a plot is not very dull") == 1


def test_mask_tokens_keeps_padding():
    x = np.array([[2, 5, 9, 16, 0, 0]] * 200, np.int32)
    xm = mask_tokens(x, np.random.default_rng(0), pad_id=0, mask_id=1)
    assert ((xm == x) | (xm == 1)).all() and (xm[:, 4:] == 0).all()
    assert 0.3 < (xm == 1)[:, :4].mean() < 0.7


def test_model_splits_at_embeddings(data, model):
    assert isinstance(model, TinyTransformer)
    x = data.x_test[:5]
    emb = model.embed(x)
    assert emb.shape == (5, 8, model.embedding.features)
    np.testing.assert_allclose(forward(model, x), from_embeddings(model, emb), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(
        model.baseline_embedding(data.mask_id), model.embedding.embedding[...][data.mask_id]
    )
    assert (np.asarray(forward(model, data.x_test)).argmax(-1) == data.y_test).all()


@pytest.mark.parametrize("sentence", SENTENCES)
def test_token_values_match_explicit_masking(data, model, sentence):
    v, tokens, y, words = sweep(model, data, sentence)
    n = len(words)
    assert v.shape == (2**n,) and v.dtype == jnp.float64
    # (a) the full coalition is the unmasked sentence
    np.testing.assert_allclose(
        v[-1], log_odds(forward(model, tokens[None])[0], y), rtol=1e-5, atol=1e-5
    )
    # (b) hand-masked embeddings: masked rows replaced by <mask>'s embedding, pads kept
    emb = np.asarray(model.embed(tokens))
    mask_emb = np.asarray(model.embedding.embedding[...])[data.mask_id]
    coalitions = [0, 1, 0b01010, 2**n - 2, 2 ** (n - 1) + 3]
    masked = np.stack(
        [
            [emb[i] if (t >> i) & 1 or i >= n else mask_emb for i in range(data.seq_len)]
            for t in coalitions
        ]
    )
    np.testing.assert_allclose(
        v[np.array(coalitions)], log_odds(from_embeddings(model, masked), y), rtol=1e-5, atol=1e-5
    )
    # the empty coalition is the sentence with every non-pad token id replaced by <mask>
    all_masked = np.where(np.arange(data.seq_len) < n, data.mask_id, tokens)
    np.testing.assert_allclose(
        v[0], log_odds(forward(model, all_masked[None])[0], y), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("sentence", SENTENCES)
def test_negation_is_an_and_interaction(data, model, sentence):
    v, _, _, words = sweep(model, data, sentence)
    I = np.asarray(ij.and_interactions(v))
    neg = 1 << words.index("not")
    adj = 1 << next(i for i, w in enumerate(words) if w in ADJECTIVES)
    pair = neg | adj
    # (c) {not, adjective} is among the 3 strongest non-empty AND interactions ...
    assert (np.abs(I[1:]) > abs(I[pair])).sum() < 3
    # ... and flips the adjective: with every other word masked, adding the adjective moves the
    # log-odds of the label one way without "not" (I(adj) = v(adj) - v(∅)) and the other way
    # with it (v(not, adj) - v(not) = I(adj) + I(not, adj)).
    assert I[adj] < 0 < I[adj] + I[pair]
    np.testing.assert_allclose(I[adj] + I[pair], v[pair] - v[neg], atol=1e-9)
    # (d) universal matching: the AND interactions sum back to v
    np.testing.assert_allclose(ij.and_inverse(ij.and_interactions(v)), v, rtol=0, atol=1e-10)
