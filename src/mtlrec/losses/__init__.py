"""Per-task losses, sample spaces of child tasks, and loss combination."""

from mtlrec.losses._model_terms import behavioural_calibrator, uncertainty_term
from mtlrec.losses._spaces import (
    ancestors,
    joint_labels,
    sample_mask,
    task_probabilities,
)
from mtlrec.losses._task_losses import MultiTaskLoss

__all__ = [
    "MultiTaskLoss",
    "ancestors",
    "behavioural_calibrator",
    "joint_labels",
    "sample_mask",
    "task_probabilities",
    "uncertainty_term",
]
