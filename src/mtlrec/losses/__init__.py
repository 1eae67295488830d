"""Per-task losses, sample spaces of child tasks, and loss combination."""

from mtlrec.losses._spaces import (
    ENTIRE_SUFFIX,
    ancestors,
    joint_labels,
    prediction_names,
    sample_mask,
    task_predictions,
    task_probabilities,
)
from mtlrec.losses._task_losses import MultiTaskLoss

__all__ = [
    "ENTIRE_SUFFIX",
    "MultiTaskLoss",
    "ancestors",
    "joint_labels",
    "prediction_names",
    "sample_mask",
    "task_predictions",
    "task_probabilities",
]
