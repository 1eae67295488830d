"""Adaptive Information Transfer Multi-task (AITM) framework.

Xi, Chen, Liu, Zhao, Hu, Xiao, Han, Shi, Wei, "Modeling the Sequential
Dependence among Audience Multi-step Conversions with Multi-task Learning in
Targeted Display Advertising", KDD 2021 (arXiv 2105.08489), Section 3.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, InputLayer
from mtlrec.losses._model_terms import behavioural_calibrator
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["AITM", "AITMConfig"]


class AITMConfig(ModelConfig):
    """AITM settings.

    Args:
        tower_units: Widths of each task's tower; the last is the AIT width
            ``k`` (default [128, 64, 32], the authors' code).
        dropout: Dropout after each tower layer (default 0.1).
        calibrator_weight: ``alpha`` of the behavioural expectation
            calibrator (default 0.6, the authors' README for Ali-CCP; their
            standard script uses 0.3). 0 turns it off.
        batch_norm: ``BatchNorm1d`` before every hidden ReLU of the towers (default
            False; the paper has none; torch-rechub's MLPs do).
    """

    name: Literal["aitm"] = "aitm"
    tower_units: list[int] = Field(default_factory=lambda: [128, 64, 32], min_length=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    calibrator_weight: float = Field(0.6, ge=0.0)
    batch_norm: bool = False


class _AITUnit(nn.Module):
    """Attention over ``{p_{t-1}, q_t}`` with bias-free maps ``h1, h2, h3``.

    ``w_u = softmax_u(<h2(u), h3(u)> / sqrt(k))`` and ``z_t = sum_u w_u h1(u)``.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.value = nn.Linear(width, width, bias=False)  # h1
        self.query = nn.Linear(width, width, bias=False)  # h2
        self.key = nn.Linear(width, width, bias=False)  # h3
        self.scale = math.sqrt(width)

    def forward(
        self, transferred: torch.Tensor, own: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``z_t (B, k)`` and the weights ``(B, 2)`` of ``[p, q]``."""
        items = torch.stack([transferred, own], dim=1)  # (B, 2, k)
        scores = (self.query(items) * self.key(items)).sum(-1) / self.scale  # (B, 2)
        weights = torch.softmax(scores, dim=1)  # (B, 2)
        fused = (weights.unsqueeze(-1) * self.value(items)).sum(dim=1)  # (B, k)
        return fused, weights


@register("aitm")
class AITM(MultiTaskModel):
    """Per-step towers linked by adaptive information transfer along a funnel.

    Each step ``t`` has its own tower over the shared embeddings, giving
    ``q_t``. From step 2 on, ``p_{t-1} = g_{t-1}(z_{t-1})`` (Dense + ReLU +
    dropout) carries the previous step's knowledge and the AIT unit fuses it
    with ``q_t`` into ``z_t``; ``z_1 = q_1``. Each ``z_t`` ends in one logit.

    Tasks: a funnel of any length ``K >= 2``, all binary, each task's parent
    the task before it (click -> application -> approval -> activation).

    Outputs: ``{task: (B,)}`` logits of **end-to-end** probabilities
    (``P(step t reached | impression)``), supervised on every row against
    the joint label; the trainer adds ``calibrator_weight * L_lc``
    (:func:`~mtlrec.losses.behavioural_calibrator`). ``last_transfer`` holds
    the AIT weights ``(B, K - 1, 2)``.

    Notes:
        The AIT maps ``h1, h2, h3`` are shared by all steps, as in the
        authors' code. Towers use one dropout rate (the code uses 0.1, 0.3,
        0.3). The code's batch normalisation in ``g`` and L2 penalty are left
        out (use ``train.optimizer.weight_decay``).

    Raises:
        ValueError: The tasks are not such a chain.
    """

    config_class = AITMConfig
    paper = "Xi et al., Adaptive Information Transfer Multi-task (AITM), KDD 2021"
    summary = "funnel towers with attention-based transfer and a calibrator term"
    output_space = "joint"
    child_loss_space = "joint"
    config: AITMConfig

    def __init__(self, spec: ModelSpec, config: AITMConfig) -> None:
        super().__init__(spec, config)
        _check_chain(spec, "aitm")
        self.inputs = InputLayer(spec.inputs)
        width, k = self.inputs.output_dim, config.tower_units[-1]
        self.towers = nn.ModuleList(
            MLP(width, config.tower_units, config.dropout, batch_norm=config.batch_norm)
            for _ in spec.tasks
        )
        self.transfers = nn.ModuleList(
            nn.Sequential(nn.Linear(k, k), nn.ReLU(), nn.Dropout(config.dropout))
            for _ in spec.tasks[1:]
        )
        self.ait = _AITUnit(k)
        self.heads = nn.ModuleList(nn.Linear(k, 1) for _ in spec.tasks)
        self.last_transfer: torch.Tensor | None = None

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return each step's end-to-end logit for ``batch``."""
        x = self.inputs.from_batch(batch, fused=True)  # (B, F * D + dense)
        fused = self.towers[0](x)  # (B, k): z_1 = q_1
        logits, weights = [self.heads[0](fused)], []
        for t in range(1, self.spec.num_tasks):
            own = self.towers[t](x)  # (B, k): q_t
            fused, w = self.ait(self.transfers[t - 1](fused), own)  # (B, k), (B, 2)
            logits.append(self.heads[t](fused))  # (B, 1)
            weights.append(w)
        self.last_transfer = torch.stack(weights, dim=1).detach()  # (B, K - 1, 2)
        return self.outputs_from_matrix(torch.cat(logits, dim=1))  # K x (B,)

    def auxiliary_loss(
        self,
        outputs: dict[str, torch.Tensor],
        batch: Batch,
        task_losses: torch.Tensor,
    ) -> torch.Tensor | None:
        """``calibrator_weight * L_lc`` over the batch (None when the weight is 0)."""
        weight = self.config.calibrator_weight
        if weight == 0:
            return None
        logits = torch.stack([outputs[n] for n in self.spec.task_names], dim=1)
        return weight * behavioural_calibrator(torch.sigmoid(logits))  # ()


def _check_chain(spec: ModelSpec, model: str) -> None:
    tasks = spec.tasks
    expected = [None, *(t.name for t in tasks[:-1])]
    if (
        len(tasks) < 2
        or any(t.type != "binary" for t in tasks)
        or [t.parent for t in tasks] != expected
    ):
        described = [(t.name, t.type, t.parent) for t in tasks]
        raise ValueError(
            f"{model} needs a funnel of >= 2 binary tasks, each with the task "
            f"before it as parent; got (name, type, parent) = {described!r}"
        )
