"""Small offline datasets, example models, a training loop and the example runs of the demo
and tutorials.

Orbax is imported by two places of interjax: :mod:`interjax.checkpoints` (reading) and this
package, which writes the example runs' checkpoints (:class:`CheckpointWriter`,
:func:`train_run`).

Kept for one release as aliases (the baseline protocol moved to :mod:`interjax.analyze`):
``BaselineSplit`` and ``baseline_split`` are :class:`interjax.analyze.BaselineSplit` and
:func:`interjax.analyze.baseline_split`; :func:`train_baselines` is
:func:`interjax.analyze.train_baselines` with :func:`train_classifier` as its ``train``.
"""

from interjax.data._checkpoint_writer import CheckpointWriter
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
    "CheckpointWriter",
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
