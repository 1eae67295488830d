"""Single-task baseline: an independent network per task.

The "Single-Task" rows of Ma et al., "Modeling Task Relationships in
Multi-task Learning with Multi-gate Mixture-of-Experts", KDD 2018, Table 1:
each task is learnt by its own model, nothing shared.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, InputLayer
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["SingleTask", "SingleTaskConfig"]


class SingleTaskConfig(ModelConfig):
    """Single-task baseline settings.

    Args:
        hidden_units: Hidden widths of each task's MLP (default [128, 64]).
        dropout: Dropout after each hidden activation (default 0).
    """

    name: Literal["single_task"] = "single_task"
    hidden_units: list[int] = Field(default_factory=lambda: [128, 64])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


@register("single_task")
class SingleTask(MultiTaskModel):
    """``K`` independent networks, each with its own embeddings and MLP.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).

    Notes:
        Training them jointly with a summed loss equals training them apart,
        since no parameter is shared.
    """

    config_class = SingleTaskConfig
    paper = "independent per-task networks (single-task baseline of MMoE, KDD 2018)"
    summary = "one embedding table and MLP per task, nothing shared"

    def __init__(self, spec: ModelSpec, config: SingleTaskConfig) -> None:
        super().__init__(spec, config)
        layers = [InputLayer(spec.inputs) for _ in spec.tasks]
        self.inputs = nn.ModuleList(layers)
        self.nets = nn.ModuleList(
            MLP(layer.output_dim, config.hidden_units, config.dropout, output_dim=1)
            for layer in layers
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs for ``batch``."""
        outputs = {}
        layers: list[InputLayer] = list(self.inputs)  # type: ignore[arg-type]  # ModuleList
        for task, inputs, net in zip(self.spec.tasks, layers, self.nets, strict=True):
            x = inputs.from_batch(batch)  # (B, F * D + dense)
            outputs[task.name] = net(x).squeeze(-1)  # (B,)
        return outputs

    def task_modules(self) -> list[str]:
        """Everything is per task: no parameter is shared."""
        return ["inputs", "nets"]
