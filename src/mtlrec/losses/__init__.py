"""Per-task losses, sample spaces of child tasks, and loss balancers."""

from mtlrec.losses._balancers import (
    Balancer,
    DWABalancer,
    FixedBalancer,
    GradNormBalancer,
    PCGradBalancer,
    UncertaintyBalancer,
    build_balancer,
    dwa_weights,
    gradnorm_targets,
    pairwise_cosines,
    pcgrad_project,
)
from mtlrec.losses._model_terms import behavioural_calibrator, uncertainty_term
from mtlrec.losses._spaces import (
    ENTIRE_SUFFIX,
    ancestors,
    joint_labels,
    prediction_names,
    regression_value,
    sample_mask,
    task_predictions,
    task_probabilities,
)
from mtlrec.losses._task_losses import (
    MultiTaskLoss,
    lognormal_loss,
    weighted_logistic_loss,
)

__all__ = [
    "ENTIRE_SUFFIX",
    "Balancer",
    "DWABalancer",
    "FixedBalancer",
    "GradNormBalancer",
    "MultiTaskLoss",
    "PCGradBalancer",
    "UncertaintyBalancer",
    "ancestors",
    "build_balancer",
    "dwa_weights",
    "gradnorm_targets",
    "behavioural_calibrator",
    "joint_labels",
    "prediction_names",
    "lognormal_loss",
    "pairwise_cosines",
    "pcgrad_project",
    "regression_value",
    "sample_mask",
    "task_predictions",
    "task_probabilities",
    "weighted_logistic_loss",
    "uncertainty_term",
]
