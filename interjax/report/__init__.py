"""Host-side reporting: plots, tables and files; never traced; the only module using matplotlib."""

from interjax.report._page import save_figure, write_report
from interjax.report._plots import (
    plot_generalization_by_order,
    plot_patch_interactions,
    plot_power_and_loss,
    plot_removal,
)

__all__ = [
    "plot_generalization_by_order",
    "plot_patch_interactions",
    "plot_power_and_loss",
    "plot_removal",
    "save_figure",
    "write_report",
]
