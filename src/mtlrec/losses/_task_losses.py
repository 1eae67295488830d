"""Per-task losses with sample-space masks, combined by fixed task weights."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812

from mtlrec.config import TaskConfig
from mtlrec.losses._spaces import ancestors, joint_labels, sample_mask

if TYPE_CHECKING:  # models import losses for their own terms; no cycle at runtime
    from mtlrec.models import ModelSpec

__all__ = ["MultiTaskLoss", "lognormal_loss", "weighted_logistic_loss"]

_LOG_EPS = -1e-7


class MultiTaskLoss:
    """Computes each task's mean loss over its sample space.

    ``L_k = sum_i delta_k^i loss_k(i) / sum_i delta_k^i`` (PLE Eq. 7) where
    ``delta`` marks rows in the task's space; a batch with no eligible row
    adds exactly 0 for that task, never NaN. With sample weights ``v``, the
    mean is weighted: ``sum_i delta v loss / sum_i delta v``.

    For models whose ``child_loss_space`` is ``"joint"`` (ESMM, AITM), a child
    task is supervised on every row of its root's space against its joint
    label ``y_k * y_parent * ...``; when the model outputs conditional logits,
    the joint probability is the product of the chain's probabilities and the
    cross-entropy is taken on that product (never on a sum of logits).

    Args:
        spec: The model's tasks.
        tasks: The task configs, in the same order (losses and weights).
        output_space: The model's ``output_space``.
        child_loss_space: The model's ``child_loss_space``.
    """

    def __init__(
        self,
        spec: ModelSpec,
        tasks: list[TaskConfig],
        output_space: str = "conditional",
        child_loss_space: str = "conditional",
    ) -> None:
        if [t.name for t in tasks] != list(spec.task_names):
            raise ValueError(
                f"task configs {[t.name for t in tasks]!r} do not match the model's "
                f"tasks {list(spec.task_names)!r}"
            )
        self.spec = spec
        self.tasks = tasks
        self.output_space = output_space
        self.child_loss_space = child_loss_space
        self.weights = torch.tensor([t.weight for t in tasks], dtype=torch.float32)

    def per_task(
        self,
        outputs: dict[str, torch.Tensor],
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the ``(K,)`` vector of task losses for one batch.

        Args:
            outputs: ``{task: (B,)}`` model outputs.
            labels: ``(B, K)`` labels.
            weights: Optional sample weights, ``(B, K)`` per task or ``(B,)``
                for all tasks.
        """
        if weights is not None and weights.dim() == 1:
            weights = weights.unsqueeze(1).expand(-1, len(self.tasks))  # (B, K)
        losses = []
        for k, task in enumerate(self.tasks):
            has_parent = task.parent is not None
            if has_parent and self.child_loss_space == "joint":
                target = joint_labels(self.spec, labels, k)
                row_loss = self._joint_bce(outputs, k, target)
                mask = sample_mask(self.spec, labels, self._root(k))
            else:
                row_loss = _row_loss(task, outputs[task.name], labels[:, k])
                mask = sample_mask(self.spec, labels, k)
            if weights is not None:
                mask = mask * weights[:, k]
            count = mask.sum()
            losses.append((row_loss * mask).sum() / count.clamp_min(1.0))
        return torch.stack(losses)  # (K,)

    def __call__(
        self,
        outputs: dict[str, torch.Tensor],
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(total, per_task)``: the weighted sum and the ``(K,)`` losses."""
        per_task = self.per_task(outputs, labels, weights)
        total = (per_task * self.weights.to(per_task.device)).sum()
        return total, per_task

    def _root(self, k: int) -> int:
        chain = ancestors(self.spec, k)
        return chain[-1] if chain else k

    def _joint_bce(
        self, outputs: dict[str, torch.Tensor], k: int, target: torch.Tensor
    ) -> torch.Tensor:
        logit = outputs[self.tasks[k].name]
        if self.output_space == "joint":
            return F.binary_cross_entropy_with_logits(logit, target, reduction="none")
        # log p_joint = sum of log-sigmoids along the chain; BCE on the product.
        log_p = F.logsigmoid(logit)
        for a in ancestors(self.spec, k):
            log_p = log_p + F.logsigmoid(outputs[self.tasks[a].name])
        log_not_p = torch.log1p(-torch.exp(log_p.clamp(max=_LOG_EPS)))
        return -(target * log_p + (1.0 - target) * log_not_p)


def _row_loss(
    task: TaskConfig, output: torch.Tensor, label: torch.Tensor
) -> torch.Tensor:
    if task.loss == "bce":
        return F.binary_cross_entropy_with_logits(output, label, reduction="none")
    if task.loss == "huber":
        return F.huber_loss(output, label, reduction="none", delta=task.huber_delta)
    if task.loss == "weighted_logistic":
        return weighted_logistic_loss(output, label)
    if task.loss == "lognormal":
        return lognormal_loss(output, label, task.lognormal_sigma)
    return F.mse_loss(output, label, reduction="none")


def weighted_logistic_loss(logit: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Per-row weighted logistic loss for a non-negative target such as watch time.

    Rows with ``value > 0`` are positives weighted by ``value``; the others
    are negatives of weight 1. The odds ``exp(logit)`` then estimate
    ``E[value] / (1 - P(value > 0))``, close to ``E[value]`` when positives
    are rare.

    Args:
        logit: ``(B,)`` model outputs.
        value: ``(B,)`` targets, >= 0.

    Returns:
        ``(B,)`` weighted cross-entropies.
    """
    positive = (value > 0).to(logit.dtype)
    weight = torch.where(value > 0, value, torch.ones_like(value))
    return weight * F.binary_cross_entropy_with_logits(
        logit, positive, reduction="none"
    )


def lognormal_loss(mu: torch.Tensor, value: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-row negative log-likelihood of ``value`` under ``LogNormal(mu, sigma)``.

    ``log y + log sigma + log(2 pi) / 2 + (log y - mu)^2 / (2 sigma^2)``.
    Values are clamped to at least 1e-7 (rows outside a task's space may
    hold 0 and are masked out by the caller).

    Args:
        mu: ``(B,)`` model outputs, the mean of ``log y``.
        value: ``(B,)`` positive targets.
        sigma: Standard deviation of ``log y``.

    Returns:
        ``(B,)`` negative log-likelihoods.
    """
    log_y = torch.log(value.clamp_min(1e-7))
    const = math.log(sigma) + 0.5 * math.log(2 * math.pi)
    return log_y + const + 0.5 * ((log_y - mu) / sigma) ** 2
