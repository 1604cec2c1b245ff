"""Generalization labels, order profiles, phases and the loss gap (docs/method.md §4-5), and the
baseline protocol: the split of the data and the K baseline models trained on data the target
never saw (:func:`baseline_split`, :func:`train_baselines`).
"""

from interjax.analyze._baselines import BaselineSplit, TrainFn, baseline_split, train_baselines
from interjax.analyze._dynamics import (
    LossGap,
    Phases,
    detect_phases,
    loss_gap,
    removal_experiment,
    smooth,
)
from interjax.analyze._generalization import (
    GeneralizationProfile,
    generalization_labels,
    generalization_power,
    generalization_profile,
)
from interjax.analyze._prepare import PreparedAnalysis, prepare_analysis
from interjax.analyze._summary import Summary, SummaryProfile, SummaryRemoval, summarize
from interjax.analyze._trajectory import (
    AnalysisSettings,
    ModelFits,
    Trajectory,
    check_samples,
    check_token_inputs,
    fit_models,
    fit_salient,
    label_fits,
    trajectory,
)

__all__ = [
    "AnalysisSettings",
    "BaselineSplit",
    "GeneralizationProfile",
    "LossGap",
    "ModelFits",
    "Phases",
    "PreparedAnalysis",
    "Summary",
    "SummaryProfile",
    "SummaryRemoval",
    "TrainFn",
    "Trajectory",
    "baseline_split",
    "check_samples",
    "check_token_inputs",
    "detect_phases",
    "fit_models",
    "fit_salient",
    "generalization_labels",
    "generalization_power",
    "generalization_profile",
    "label_fits",
    "loss_gap",
    "prepare_analysis",
    "removal_experiment",
    "smooth",
    "summarize",
    "train_baselines",
    "trajectory",
]
