"""A generated sentiment grammar with negation and a tiny NNX transformer (token players demo).

Grammar (fully offline, seeded). Every sentence follows

    det noun verb ["not"] [intensifier] adjective [ending]

with ``det`` ∈ {the, this, a}, ``noun`` ∈ {movie, film, plot, acting}, ``verb`` ∈ {was, is,
seemed}, optional ``intensifier`` ∈ {very, really, quite}, ``adjective`` ∈ {good, great, fun}
(positive) or {bad, dull, awful} (negative) and optional ``ending`` ∈ {overall, indeed,
honestly}. Sentences have 4 to 7 words and are right-padded with ``<pad>`` to ``seq_len = 8``.
The full grammar holds 6912 distinct sentences; train and test sets are disjoint samples of it.

Label rule: ``1`` (positive) iff (the adjective is positive) XOR ("not" is present), else ``0``.
"not" is in exactly half of the grammar and the adjective's polarity is balanced, so neither the
adjective nor "not" alone predicts the label: a model must learn their AND.

Masking: vocabulary id 1 is ``<mask>`` and means "an unknown word". Token players are masked at
the embedding level: a masked position's row of :meth:`TinyTransformer.embed` is replaced by the
``<mask>`` embedding and positional embeddings are added afterwards
(:meth:`TinyTransformer.from_embeddings`; baseline from :meth:`TinyTransformer.baseline_embedding`).
So that masked inputs are inputs the model knows, :func:`train_tiny_transformer` adds masked copies
of the training sentences (:func:`mask_tokens`: each sentence draws a rate r ~ U(0, 1) and each
word becomes ``<mask>`` with probability r) with their true labels. The model then learns
p(label | visible words): with the adjective masked it is near 1/2 (log-odds near 0), so the
value of a coalition reflects what its words say, and the AND of "not" with the adjective carries
the negation. Padding is never masked (it is background, kept, in the token players), so the
sentence length stays visible; length constrains the grammar (a 7-word sentence always holds
"not"), so to study negation pick sentences whose length leaves "not" uncertain, e.g. 5 words.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import jax
import numpy as np
from flax import nnx

from interjax.data._train import train_classifier
from interjax.masks import token_baseline

__all__ = [
    "TextDataset",
    "TinyTransformer",
    "mask_tokens",
    "negation_sentiment",
    "train_tiny_transformer",
]

_DETS = ("the", "this", "a")
_NOUNS = ("movie", "film", "plot", "acting")
_VERBS = ("was", "is", "seemed")
_INTENSIFIERS = ("very", "really", "quite")
_POSITIVE = ("good", "great", "fun")
_NEGATIVE = ("bad", "dull", "awful")
_ENDINGS = ("overall", "indeed", "honestly")
PAD, MASK, NOT = "<pad>", "<mask>", "not"
VOCAB: tuple[str, ...] = (
    PAD,
    MASK,
    *_DETS,
    *_NOUNS,
    *_VERBS,
    NOT,
    *_INTENSIFIERS,
    *_POSITIVE,
    *_NEGATIVE,
    *_ENDINGS,
)


@dataclasses.dataclass(frozen=True)
class TextDataset:
    """Token ids ``(N, L)`` int32 and labels ``(N,)`` int32 with the vocabulary.

    Attributes:
      x_train, x_test: token ids, ``(N_train, L)`` and ``(N_test, L)``, right-padded.
      y_train, y_test: labels, ``(N,)``; 1 = positive.
      vocab: word of each token id; ``vocab[pad_id] = "<pad>"``, ``vocab[mask_id] = "<mask>"``.
      class_names: ``("negative", "positive")``.
      pad_id, mask_id: ids of ``<pad>`` and ``<mask>``; name: the dataset's name.

    The four arrays may be passed by position or keyword; the rest are keyword-only, with the
    grammar's vocabulary, class names and ids as defaults.

    Example:
      >>> from interjax.data import negation_sentiment
      >>> data = negation_sentiment(num_train=8, num_test=4)
      >>> data.x_train.shape, data.y_test.shape, data.pad_id, data.mask_id, len(data.vocab)
      ((8, 8), (4,), 0, 1, 25)
      >>> data.decode(data.x_train[0]), data.label("the movie was not good")
      ('a film is not quite bad', 0)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    _: dataclasses.KW_ONLY
    vocab: tuple[str, ...] = VOCAB
    class_names: tuple[str, ...] = ("negative", "positive")
    pad_id: int = 0
    mask_id: int = 1
    name: str = "negation_sentiment"

    @property
    def seq_len(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def word_to_id(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocab)}

    def encode(self, sentence: str | Sequence[str]) -> np.ndarray:
        """Words (a string split on spaces, or a list) to ids ``(L,)`` int32, right-padded.

        Example:
          >>> negation_sentiment().encode("the movie was not good").tolist()
          [2, 5, 9, 12, 16, 0, 0, 0]
        """
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        if len(words) > self.seq_len:
            raise ValueError(f"{len(words)} words do not fit seq_len={self.seq_len}: {words}")
        lookup = self.word_to_id
        unknown = [w for w in words if w not in lookup]
        if unknown:
            raise ValueError(f"words {unknown} are not in the vocabulary {self.vocab}")
        ids = np.full(self.seq_len, self.pad_id, np.int32)
        ids[: len(words)] = [lookup[w] for w in words]
        return ids

    def decode(self, ids) -> str:
        """Ids ``(L,)`` to a sentence, padding dropped."""
        return " ".join(self.vocab[int(i)] for i in np.asarray(ids) if int(i) != self.pad_id)

    def label(self, sentence: str | Sequence[str]) -> int:
        """The grammar's label of a sentence: positive adjective XOR "not"."""
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        return int(any(w in _POSITIVE for w in words) != (NOT in words))


def _grammar() -> list[tuple[str, ...]]:
    opt = lambda xs: ((), *((x,) for x in xs))  # noqa: E731
    out = []
    for d, n, v, neg, i, a, e in itertools.product(
        opt(_DETS)[1:],
        _NOUNS,
        _VERBS,
        ((), (NOT,)),
        opt(_INTENSIFIERS),
        _POSITIVE + _NEGATIVE,
        opt(_ENDINGS),
    ):
        out.append((*d, n, v, *neg, *i, a, *e))
    return out


def negation_sentiment(
    num_train: int = 2000,
    num_test: int = 500,
    *,
    seq_len: int = 8,
    seed: int = 0,
) -> TextDataset:
    """Disjoint train/test samples of the negation grammar (see the module docstring).

    Args:
      num_train, num_test: sentence counts; together at most 6912 (the grammar's size).
      seq_len: padded length ``L`` (at least 7, the longest sentence).
      seed: seeds the sample.

    Returns:
      A :class:`TextDataset` with ``x_*`` of shape ``(N, seq_len)`` int32 and ``y_*`` ``(N,)``.

    Example:
      >>> import numpy as np
      >>> from interjax.data import negation_sentiment
      >>> data = negation_sentiment(num_train=100, num_test=20)
      >>> data.x_train.shape, data.x_test.shape, data.seq_len
      ((100, 8), (20, 8), 8)
      >>> all(data.label(data.decode(s)) == y for s, y in zip(data.x_train, data.y_train))
      True
    """
    sentences = _grammar()
    if num_train + num_test > len(sentences):
        raise ValueError(
            f"num_train + num_test = {num_train + num_test} exceeds the {len(sentences)} distinct "
            "sentences of the grammar"
        )
    if seq_len < 7:
        raise ValueError(f"seq_len must be at least 7 (the longest sentence), got {seq_len}")
    lookup = {w: i for i, w in enumerate(VOCAB)}
    x = np.full((len(sentences), seq_len), lookup[PAD], np.int32)
    for r, s in enumerate(sentences):
        x[r, : len(s)] = [lookup[w] for w in s]
    positive = np.isin(x, [lookup[w] for w in _POSITIVE]).any(1)
    negated = (x == lookup[NOT]).any(1)
    y = (positive != negated).astype(np.int32)

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sentences))
    tr, te = order[:num_train], order[num_train : num_train + num_test]
    return TextDataset(
        x_train=x[tr],
        y_train=y[tr],
        x_test=x[te],
        y_test=y[te],
        vocab=VOCAB,
        class_names=("negative", "positive"),
        pad_id=lookup[PAD],
        mask_id=lookup[MASK],
    )


def mask_tokens(x, rng: np.random.Generator, *, pad_id: int = 0, mask_id: int = 1) -> np.ndarray:
    """Randomly masked copy of token ids ``(N, L)``: row k draws ``r_k ~ U(0, 1)`` and each of its
    non-pad tokens becomes ``mask_id`` with probability ``r_k`` (all coalition sizes occur).

    Example:
      >>> x = np.array([[2, 5, 9, 16, 0]])
      >>> mask_tokens(x, np.random.default_rng(0))[0, -1]  # padding is kept
      np.int32(0)
    """
    x = np.asarray(x)
    rate = rng.random((x.shape[0], 1))
    hit = (rng.random(x.shape) < rate) & (x != pad_id)
    return np.where(hit, mask_id, x).astype(np.int32)


class _Block(nnx.Module):
    """Pre-norm transformer block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, *, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(dim, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(num_heads, dim, decode=False, rngs=rngs)
        self.norm2 = nnx.LayerNorm(dim, rngs=rngs)
        self.mlp1 = nnx.Linear(dim, 2 * dim, rngs=rngs)
        self.mlp2 = nnx.Linear(2 * dim, dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp2(nnx.gelu(self.mlp1(self.norm2(x))))


class TinyTransformer(nnx.Module):
    """Token embedding, learned positions, self-attention blocks, mean pooling, linear head.

    ``model(tokens)`` maps ids ``(B, L)`` to logits ``(B, num_classes)`` and equals
    ``model.from_embeddings(model.embed(tokens))``; mask token players on ``embed``'s output
    (positions are added inside ``from_embeddings``, so a masked token keeps its position).

    Example:
      >>> m = TinyTransformer(vocab_size=26, seq_len=8, rngs=nnx.Rngs(0))
      >>> m(np.zeros((3, 8), np.int32)).shape
      (3, 2)
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_classes: int = 2,
        *,
        dim: int = 16,
        num_heads: int = 2,
        num_layers: int = 1,
        rngs: nnx.Rngs,
    ):
        self.embedding = nnx.Embed(vocab_size, dim, rngs=rngs)
        self.position = nnx.Param(0.02 * jax.random.normal(rngs.params(), (seq_len, dim)))
        self.blocks = nnx.List([_Block(dim, num_heads, rngs=rngs) for _ in range(num_layers)])
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = nnx.Linear(dim, num_classes, rngs=rngs)

    def embed(self, tokens: jax.Array) -> jax.Array:
        """Token embeddings without positions: ids ``(..., L)`` → ``(..., L, D)``."""
        return self.embedding(tokens)

    def from_embeddings(self, emb: jax.Array) -> jax.Array:
        """Logits ``(B, num_classes)`` from token embeddings ``(B, L, D)``; adds the positions."""
        x = emb + self.position[...]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x.mean(axis=-2)))

    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Logits ``(B, num_classes)`` from token ids ``(B, L)``."""
        return self.from_embeddings(self.embed(tokens))

    def baseline_embedding(self, token_id: int) -> jax.Array:
        """Embedding ``(D,)`` of ``token_id`` (e.g. ``<mask>``), the baseline for token players."""
        return token_baseline(self.embedding.embedding[...], token_id)


def train_tiny_transformer(
    data: TextDataset,
    *,
    dim: int = 16,
    num_heads: int = 2,
    num_layers: int = 1,
    steps: int = 600,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    masked_copies: int = 1,
    seed: int = 0,
) -> TinyTransformer:
    """A :class:`TinyTransformer` initialised with ``seed`` and trained with
    :func:`interjax.data.train_classifier` (Adam, minibatches seeded by ``seed``).

    The training set is ``data``'s train split plus ``masked_copies`` copies of it passed through
    :func:`mask_tokens` (true labels kept), so that the ``<mask>`` baseline means "unknown word";
    ``masked_copies=0`` trains on clean sentences only.

    Returns:
      The trained :class:`TinyTransformer`: token ids ``(B, seq_len)`` → logits ``(B, 2)``.

    Example:
      ``steps=0`` only keeps the example fast (it skips compiling the training step):

      >>> from interjax.data import negation_sentiment, train_tiny_transformer
      >>> data = negation_sentiment(num_train=16, num_test=3)
      >>> model = train_tiny_transformer(data, steps=0)
      >>> model(data.x_test).shape, model.position.shape
      ((3, 2), (8, 16))
    """
    rng = np.random.default_rng(seed)
    copies = [
        mask_tokens(data.x_train, rng, pad_id=data.pad_id, mask_id=data.mask_id)
        for _ in range(masked_copies)
    ]
    x = np.concatenate([data.x_train, *copies])
    y = np.tile(data.y_train, 1 + masked_copies)
    model = TinyTransformer(
        len(data.vocab),
        data.seq_len,
        len(data.class_names),
        dim=dim,
        num_heads=num_heads,
        num_layers=num_layers,
        rngs=nnx.Rngs(seed),
    )
    return train_classifier(
        model, x, y, steps=steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed
    )
