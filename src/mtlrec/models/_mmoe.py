"""Multi-gate Mixture-of-Experts.

Ma, Zhao, Yi, Chen, Hong, Chi, "Modeling Task Relationships in Multi-task
Learning with Multi-gate Mixture-of-Experts", KDD 2018, Section 4 (Eq. 5-6).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import ExpertBank, Gates, InputLayer, TaskTowers, mix
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["MMoE", "MMoEConfig"]


class MMoEConfig(ModelConfig):
    """MMoE settings.

    Args:
        num_experts: Number of experts ``E`` (default 8).
        expert_units: Layer widths of each expert MLP (default [64]).
        tower_units: Hidden widths of each task tower (default [32]).
        gate_bias: Give the gates a bias; the paper's ``softmax(W x)`` has
            none (default False).
        dropout: Dropout in the towers (default 0).
        batch_norm: ``BatchNorm1d`` before every hidden ReLU of the experts and
            towers (default False; the paper has none; torch-rechub's MLPs do).
    """

    name: Literal["mmoe"] = "mmoe"
    num_experts: int = Field(8, gt=0)
    expert_units: list[int] = Field(default_factory=lambda: [64], min_length=1)
    tower_units: list[int] = Field(default_factory=lambda: [32])
    gate_bias: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False


@register("mmoe")
class MMoE(MultiTaskModel):
    """Experts shared by all tasks, mixed by one softmax gate per task.

    ``f^k(x) = sum_i g^k(x)_i f_i(x)`` with ``g^k(x) = softmax(W_gk x)`` on the
    raw input ``x``; ``y_k = h^k(f^k(x))``.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).
    ``last_gates`` holds the latest gate weights ``(B, K, E)`` (``(B, 1, E)``
    for OMoE); :meth:`gate_weights` returns them per task. Each MMoE gate
    serves one task, so the gates are task-specific parameters; OMoE's single
    gate is shared.
    """

    config_class: ClassVar[type[ModelConfig]] = MMoEConfig
    paper = "Ma et al., Multi-gate Mixture-of-Experts, KDD 2018"
    summary = "shared experts, one softmax gate per task"
    one_gate: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, config: MMoEConfig) -> None:
        super().__init__(spec, config)
        self.inputs = InputLayer(spec.inputs)
        width = self.inputs.output_dim
        self.experts = ExpertBank(
            width, config.num_experts, config.expert_units, config.batch_norm
        )
        num_gates = 1 if self.one_gate else spec.num_tasks
        self.gates = Gates(width, num_gates, config.num_experts, config.gate_bias)
        self.towers = TaskTowers(
            self.experts.output_dim,
            spec.num_tasks,
            config.tower_units,
            config.dropout,
            config.batch_norm,
        )
        self.last_gates: torch.Tensor | None = None

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs for ``batch``."""
        num_tasks = self.spec.num_tasks  # K
        x = self.inputs.from_batch(batch, fused=True)  # (B, F * D + dense)
        experts = self.experts(x)  # (B, E, H)
        gates = self.gates(x)  # (B, K or 1, E)
        self.last_gates = gates.detach()
        mixed = mix(gates, experts).expand(-1, num_tasks, -1)  # (B, K, H)
        return self.outputs_from_matrix(self.towers(mixed))  # K x (B,)

    def task_modules(self) -> list[str]:
        """Towers, plus the gates when each task has its own."""
        return super().task_modules() + ([] if self.one_gate else ["gates"])

    def gate_weights(self) -> dict[str, torch.Tensor]:
        """``{task: (B, E)}`` gate weights of the latest forward pass."""
        if self.last_gates is None:
            return {}
        return {
            name: self.last_gates[:, 0 if self.one_gate else k]
            for k, name in enumerate(self.spec.task_names)
        }

    def gate_experts(self) -> dict[str, list[str]]:
        """Every task's gate weighs the same ``E`` experts."""
        names = [f"expert_{i}" for i in range(self.experts.num_experts)]
        return {task: names for task in self.spec.task_names}
