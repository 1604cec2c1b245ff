"""Small offline datasets, example models and a training loop for the demo and tutorials."""

from interjax.data._datasets import (
    Dataset,
    breast_cancer,
    breast_cancer_players,
    digit_patch_players,
    digits,
    planted_rule_flips,
    planted_rules,
)
from interjax.data._models import MLP, SmallCNN
from interjax.data._runs import (
    BaselineSplit,
    TrainingRun,
    baseline_split,
    save_schedule,
    train_baselines,
    train_run,
)
from interjax.data._text import (
    TextDataset,
    TinyTransformer,
    mask_tokens,
    negation_sentiment,
    train_tiny_transformer,
)
from interjax.data._train import (
    Trainer,
    accuracy,
    cross_entropy,
    train_classifier,
    train_linen_classifier,
)

__all__ = [
    "MLP",
    "BaselineSplit",
    "Dataset",
    "SmallCNN",
    "TextDataset",
    "TinyTransformer",
    "Trainer",
    "TrainingRun",
    "accuracy",
    "baseline_split",
    "breast_cancer",
    "breast_cancer_players",
    "cross_entropy",
    "digit_patch_players",
    "digits",
    "mask_tokens",
    "negation_sentiment",
    "planted_rule_flips",
    "planted_rules",
    "save_schedule",
    "train_baselines",
    "train_classifier",
    "train_linen_classifier",
    "train_run",
    "train_tiny_transformer",
]
