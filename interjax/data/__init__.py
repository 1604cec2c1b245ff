"""Small offline datasets, example models and a training loop for the demo and tutorials."""

from interjax.data._datasets import (
    Dataset,
    breast_cancer,
    breast_cancer_players,
    digit_patch_players,
    digits,
)
from interjax.data._models import MLP, SmallCNN
from interjax.data._text import (
    TextDataset,
    TinyTransformer,
    mask_tokens,
    negation_sentiment,
    train_tiny_transformer,
)
from interjax.data._train import accuracy, cross_entropy, train_classifier

__all__ = [
    "MLP",
    "Dataset",
    "SmallCNN",
    "TextDataset",
    "TinyTransformer",
    "accuracy",
    "breast_cancer",
    "breast_cancer_players",
    "cross_entropy",
    "digit_patch_players",
    "digits",
    "mask_tokens",
    "negation_sentiment",
    "train_classifier",
    "train_tiny_transformer",
]
