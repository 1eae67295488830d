"""Per-task losses, sample spaces of child tasks, and loss combination."""

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
    "joint_labels",
    "sample_mask",
    "task_probabilities",
]
