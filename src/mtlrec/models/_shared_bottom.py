"""Shared-Bottom multi-task network.

Caruana, "Multitask Learning", Machine Learning 28, 1997; as the baseline
``y_k = h^k(f(x))`` of Ma et al., "Modeling Task Relationships in Multi-task
Learning with Multi-gate Mixture-of-Experts", KDD 2018, Section 3.1.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, InputLayer, TaskTowers
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["SharedBottom", "SharedBottomConfig"]


class SharedBottomConfig(ModelConfig):
    """Shared-Bottom settings.

    Args:
        bottom_units: Widths of the shared bottom MLP ``f`` (default [128]).
        tower_units: Hidden widths of each task tower ``h^k`` (default [64]).
        dropout: Dropout after each hidden activation (default 0).
        batch_norm: ``BatchNorm1d`` before every hidden ReLU, bottom and towers (default
            False; the paper has none; torch-rechub's MLPs do).
    """

    name: Literal["shared_bottom"] = "shared_bottom"
    bottom_units: list[int] = Field(default_factory=lambda: [128], min_length=1)
    tower_units: list[int] = Field(default_factory=lambda: [64])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False


@register("shared_bottom")
class SharedBottom(MultiTaskModel):
    """One bottom network shared by all tasks, then one tower per task.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).
    """

    config_class = SharedBottomConfig
    paper = "Caruana 1997, Multitask Learning (baseline of MMoE, KDD 2018)"
    summary = "shared bottom MLP, one tower per task"

    def __init__(self, spec: ModelSpec, config: SharedBottomConfig) -> None:
        super().__init__(spec, config)
        self.inputs = InputLayer(spec.inputs)
        self.bottom = MLP(
            self.inputs.output_dim,
            config.bottom_units,
            config.dropout,
            batch_norm=config.batch_norm,
        )
        self.towers = TaskTowers(
            self.bottom.output_dim,
            spec.num_tasks,
            config.tower_units,
            config.dropout,
            config.batch_norm,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs for ``batch``."""
        x = self.inputs.from_batch(batch, fused=True)  # (B, F * D + dense)
        shared = self.bottom(x)  # (B, H)
        per_task = shared.unsqueeze(1).expand(-1, self.spec.num_tasks, -1)  # (B, K, H)
        return self.outputs_from_matrix(self.towers(per_task))  # K x (B,)
