"""Per-task losses with sample-space masks, combined by fixed task weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812

from mtlrec.config import TaskConfig
from mtlrec.losses._spaces import ancestors, joint_labels, sample_mask

if TYPE_CHECKING:  # models import losses for their own terms; no cycle at runtime
    from mtlrec.models import ModelSpec

__all__ = ["MultiTaskLoss"]

_LOG_EPS = -1e-7


class MultiTaskLoss:
    """Computes each task's mean loss over its sample space.

    ``L_k = sum_i delta_k^i loss_k(i) / sum_i delta_k^i`` (PLE Eq. 7) where
    ``delta`` marks rows in the task's space; a batch with no eligible row
    adds exactly 0 for that task, never NaN.

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
        self, outputs: dict[str, torch.Tensor], labels: torch.Tensor
    ) -> torch.Tensor:
        """Return the ``(K,)`` vector of task losses for one batch."""
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
            count = mask.sum()
            losses.append((row_loss * mask).sum() / count.clamp_min(1.0))
        return torch.stack(losses)  # (K,)

    def __call__(
        self, outputs: dict[str, torch.Tensor], labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(total, per_task)``: the weighted sum and the ``(K,)`` losses."""
        per_task = self.per_task(outputs, labels)
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
    return F.mse_loss(output, label, reduction="none")
