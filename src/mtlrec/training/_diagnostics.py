"""Gate diagnostics: how much each task uses each expert, and unused experts."""

from __future__ import annotations

import logging
from typing import Any

import torch

from mtlrec.data import EncodedData, iterate_batches
from mtlrec.models import MultiTaskModel

__all__ = ["gate_report", "gate_usage", "unused_experts"]

logger = logging.getLogger(__name__)

#: An expert is unused when every task gives it less than this share of the
#: uniform weight ``1 / E_k`` of the gate that mixes it.
COLLAPSE_RATIO = 0.1


@torch.no_grad()
def gate_usage(
    model: MultiTaskModel, data: EncodedData, batch_size: int
) -> dict[str, dict[str, float]]:
    """Mean gate weight each task puts on each expert over a whole split.

    Args:
        model: A model whose :meth:`~mtlrec.models.MultiTaskModel.gate_weights`
            reports its gates.
        data: The encoded split.
        batch_size: Rows per forward pass.

    Returns:
        ``{task: {expert: mean weight}}``; empty for models without gates.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    rows = 0
    for batch in iterate_batches(data, batch_size):
        model(batch)
        for task, weights in model.gate_weights().items():  # (B, E_k) each
            total = weights.sum(0).double()
            sums[task] = sums[task] + total if task in sums else total
        rows += len(batch)
    model.train(was_training)
    names = model.gate_experts()
    return {
        task: dict(zip(names[task], (total / max(rows, 1)).tolist(), strict=True))
        for task, total in sums.items()
    }


def unused_experts(
    usage: dict[str, dict[str, float]], ratio: float = COLLAPSE_RATIO
) -> list[str]:
    """Experts that no task uses: every gate weighs them below ``ratio / E_k``.

    Args:
        usage: Output of :func:`gate_usage`.
        ratio: Share of the uniform weight below which an expert counts as
            unused by a task (default 0.1).

    Returns:
        Expert names, in first-seen order.
    """
    used: dict[str, bool] = {}
    for experts in usage.values():
        uniform = 1.0 / max(len(experts), 1)
        for name, weight in experts.items():
            used[name] = used.get(name, False) or weight >= ratio * uniform
    return [name for name, flag in used.items() if not flag]


def gate_report(
    model: MultiTaskModel, data: EncodedData, batch_size: int, split: str
) -> dict[str, Any] | None:
    """Gate usage of one split plus the experts flagged as unused.

    Returns:
        ``{"split", "mean_weight": {task: {expert: w}}, "unused_experts",
        "collapse_ratio"}``, or None for a model without gates. A WARNING is
        logged when some expert is unused.
    """
    usage = gate_usage(model, data, batch_size)
    if not usage:
        return None
    unused = unused_experts(usage)
    if unused:
        logger.warning(
            "Some experts are unused by every task (expert collapse). split=%s "
            "experts=%s",
            split,
            unused,
        )
    return {
        "split": split,
        "mean_weight": usage,
        "unused_experts": unused,
        "collapse_ratio": COLLAPSE_RATIO,
    }
