"""Sample spaces of tasks with parents: masks, joint labels, probabilities.

A task with a parent lives in the space of rows where every ancestor's label
is 1 (CVR on clicks). Its *conditional* probability is
``P(y_k | ancestors positive, x)``; its *joint* probability is
``P(y_k and every ancestor | x)``, the product of conditionals along the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # models import losses for their own terms; no cycle at runtime
    from mtlrec.models import ModelSpec

__all__ = [
    "ENTIRE_SUFFIX",
    "ancestors",
    "joint_labels",
    "prediction_names",
    "regression_value",
    "sample_mask",
    "task_predictions",
    "task_probabilities",
]

_EPS = 1e-7

ENTIRE_SUFFIX = "@entire"


def ancestors(spec: ModelSpec, k: int) -> list[int]:
    """Indices of task ``k``'s ancestors, nearest first."""
    index = {t.name: i for i, t in enumerate(spec.tasks)}
    chain, parent = [], spec.tasks[k].parent
    while parent is not None:
        chain.append(index[parent])
        parent = spec.tasks[index[parent]].parent
    return chain


def sample_mask(spec: ModelSpec, labels: torch.Tensor, k: int) -> torch.Tensor:
    """``(B,)`` 0/1 mask of the rows in task ``k``'s space (all ancestors 1)."""
    mask = torch.ones_like(labels[:, k])
    for a in ancestors(spec, k):
        mask = mask * labels[:, a]
    return mask


def joint_labels(spec: ModelSpec, labels: torch.Tensor, k: int) -> torch.Tensor:
    """``(B,)`` joint label of task ``k``: its label times every ancestor's."""
    return labels[:, k] * sample_mask(spec, labels, k)


def task_probabilities(
    spec: ModelSpec, outputs: dict[str, torch.Tensor], output_space: str
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Conditional and joint probabilities of every binary task.

    Args:
        spec: The model's tasks.
        outputs: ``{task: (B,) logit}`` as returned by the model.
        output_space: What a child's logit means, ``"conditional"`` or ``"joint"``.

    Returns:
        ``(conditional, joint)``, each ``{task: (B,) probability}``; for a root
        task both are its probability.
    """
    raw = {
        t.name: torch.sigmoid(outputs[t.name]) for t in spec.tasks if t.type == "binary"
    }
    conditional: dict[str, torch.Tensor] = {}
    joint: dict[str, torch.Tensor] = {}
    for k, task in enumerate(spec.tasks):
        if task.type != "binary":
            continue
        chain = ancestors(spec, k)
        if not chain:
            conditional[task.name] = joint[task.name] = raw[task.name]
        elif output_space == "conditional":
            conditional[task.name] = raw[task.name]
            parent_joint = _joint_of(spec, raw, chain[0], output_space)
            joint[task.name] = raw[task.name] * parent_joint
        else:
            joint[task.name] = raw[task.name]
            parent = raw[spec.tasks[chain[0]].name]
            conditional[task.name] = (raw[task.name] / parent.clamp_min(_EPS)).clamp(
                0.0, 1.0
            )
    return conditional, joint


def prediction_names(spec: ModelSpec) -> list[str]:
    """Names of the quantities :func:`task_predictions` returns, in its order.

    Every task in task order, each child task followed by ``{task}@entire``.
    """
    names = []
    for k, task in enumerate(spec.tasks):
        names.append(task.name)
        if ancestors(spec, k):
            names.append(task.name + ENTIRE_SUFFIX)
    return names


def task_predictions(
    spec: ModelSpec, outputs: dict[str, torch.Tensor], output_space: str
) -> dict[str, torch.Tensor]:
    """Turn raw model outputs into the quantities a prediction reports.

    A binary task gives its probability (conditional on its parent for a child
    task), a regression task its value (see :func:`regression_value`), and
    each child task also gives ``{task}@entire`` over the entire space: the
    joint probability of a binary child, or for a regression child its value
    times the parent's joint probability (an expected value per impression).

    Args:
        spec: The model's tasks.
        outputs: ``{task: (B,) logit or value}`` as returned by the model.
        output_space: What a child's logit means, ``"conditional"`` or ``"joint"``.

    Returns:
        ``{name: (B,)}`` in the order of :func:`prediction_names`.
    """
    conditional, joint = task_probabilities(spec, outputs, output_space)
    result: dict[str, torch.Tensor] = {}
    for k, task in enumerate(spec.tasks):
        chain = ancestors(spec, k)
        if task.type == "binary":
            result[task.name] = conditional[task.name]
            entire = joint[task.name] if chain else None
        else:
            result[task.name] = regression_value(spec, k, outputs[task.name])
            parent = spec.tasks[chain[0]].name if chain else None
            entire = joint[parent] * result[task.name] if parent else None
        if entire is not None:
            result[task.name + ENTIRE_SUFFIX] = entire
    return result


def _joint_of(
    spec: ModelSpec, raw: dict[str, torch.Tensor], k: int, output_space: str
) -> torch.Tensor:
    result = raw[spec.tasks[k].name]
    if output_space == "conditional":
        for a in ancestors(spec, k):
            result = result * raw[spec.tasks[a].name]
    return result


def regression_value(spec: ModelSpec, k: int, output: torch.Tensor) -> torch.Tensor:
    """Map regression task ``k``'s ``(B,)`` output to its predicted value.

    ``weighted_logistic``: ``exp(logit)`` (the odds, an expected value);
    ``lognormal``: ``exp(mu + sigma^2 / 2)`` (the log-normal mean); other
    losses: the output itself.
    """
    task = spec.tasks[k]
    if task.loss == "weighted_logistic":
        return torch.exp(output)
    if task.loss == "lognormal":
        return torch.exp(output + 0.5 * task.lognormal_sigma**2)
    return output
