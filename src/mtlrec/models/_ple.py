"""Progressive Layered Extraction (PLE) with Customized Gate Control levels.

Tang, Liu, Zhao, Gong, "Progressive Layered Extraction (PLE): A Novel
Multi-Task Learning (MTL) Model for Personalized Recommendations",
RecSys 2020, Section 4 (Eq. 2-6).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import (
    ExpertBank,
    Gates,
    InputLayer,
    TaskTowers,
    fused_dtype,
    fused_linear,
    gate_softmax,
    mix,
)
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["PLE", "PLEConfig"]


class PLEConfig(ModelConfig):
    """PLE settings.

    Args:
        num_levels: Number of extraction levels ``N``; 1 is CGC (default 2,
            as every multi-level model in the paper).
        num_task_experts: Task-specific experts per task and level (default 1).
        num_shared_experts: Shared experts per level (default 1).
        expert_units: Layer widths of each expert MLP (default [64]).
        tower_units: Hidden widths of each task tower (default [32]).
        dropout: Dropout in the towers (default 0).
        batch_norm: ``BatchNorm1d`` before every hidden ReLU of the experts and
            towers (default False; the paper has none; torch-rechub's MLPs do).
    """

    name: Literal["ple"] = "ple"
    num_levels: int = Field(2, gt=0)
    num_task_experts: int = Field(1, gt=0)
    num_shared_experts: int = Field(1, gt=0)
    expert_units: list[int] = Field(default_factory=lambda: [64], min_length=1)
    tower_units: list[int] = Field(default_factory=lambda: [32])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False


class _ExtractionLevel(nn.Module):
    """One CGC level: task and shared experts, task gates, optional shared gate.

    Task ``k``'s gate reads task ``k``'s previous output and weighs
    ``[task k experts, shared experts]``; the shared gate reads the previous
    shared output and weighs every expert of the level.
    """

    selection: torch.Tensor

    def __init__(
        self, input_dim: int, num_tasks: int, config: PLEConfig, shared_gate: bool
    ) -> None:
        super().__init__()
        units, m_task, m_shared = (
            config.expert_units,
            config.num_task_experts,
            config.num_shared_experts,
        )
        self.task_experts = nn.ModuleList(
            ExpertBank(input_dim, m_task, units, config.batch_norm)
            for _ in range(num_tasks)
        )
        self.shared_experts = ExpertBank(input_dim, m_shared, units, config.batch_norm)
        self.task_gates = nn.ModuleList(
            Gates(input_dim, 1, m_task + m_shared) for _ in range(num_tasks)
        )
        self.shared_gate = (
            Gates(input_dim, 1, num_tasks * m_task + m_shared) if shared_gate else None
        )
        self.output_dim = units[-1]
        # Expert j of task k's selection, as an index into the level's experts
        # in the shared gate's order [task 0, ..., task K-1, shared].
        own = torch.arange(m_task).repeat(num_tasks, 1)  # (K, m_k)
        own += torch.arange(num_tasks)[:, None] * m_task
        common = torch.arange(m_shared).expand(num_tasks, -1) + num_tasks * m_task
        self.register_buffer(
            "selection", torch.cat([own, common], dim=1), persistent=False
        )  # (K, m_k + m_s)

    def forward(
        self, task_inputs: list[torch.Tensor], shared_input: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor | None, list[torch.Tensor]]:
        """Return per-task outputs ``K x (B, H)``, the shared output and gates."""
        if all(u is shared_input for u in task_inputs):
            return self._forward_one_input(shared_input)
        shared = self.shared_experts(shared_input)  # (B, m_s, H)
        own = [bank(u) for bank, u in zip(self.task_experts, task_inputs, strict=True)]
        outputs, gate_weights = [], []
        for experts, gate, u in zip(own, self.task_gates, task_inputs, strict=True):
            weights = gate(u)  # (B, 1, m_k + m_s)
            selected = torch.cat([experts, shared], dim=1)  # (B, m_k + m_s, H)
            outputs.append(mix(weights, selected).squeeze(1))  # (B, H)
            gate_weights.append(weights.squeeze(1))
        shared_out = None
        if self.shared_gate is not None:
            weights = self.shared_gate(shared_input)  # (B, 1, K * m_k + m_s)
            every = torch.cat([*own, shared], dim=1)  # (B, K * m_k + m_s, H)
            shared_out = mix(weights, every).squeeze(1)  # (B, H)
        return outputs, shared_out, gate_weights

    def _forward_one_input(
        self, x: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor | None, list[torch.Tensor]]:
        # The same computation when every expert and gate reads the same x
        # (the first level): all experts in one bank run, all gates in one
        # product, and each task's gate weights scattered to the level's
        # experts (zero elsewhere) so that one product mixes every task.
        banks = [*self.task_experts, self.shared_experts]
        every = ExpertBank.run_together(banks, x)  # (B, N, H), N = K * m_k + m_s
        gates = [*self.task_gates]
        if self.shared_gate is not None:
            gates.append(self.shared_gate)
        weight = torch.cat([g.linear.weight for g in gates])
        bias = None
        if gates[0].linear.bias is not None:
            bias = torch.cat([g.linear.bias for g in gates])
        if fused_dtype(x) is not None:  # bfloat16 inference
            logits = fused_linear(x, weight, bias)  # (B, K * S [+ N])
        else:
            logits = nn.functional.linear(x, weight, bias)  # (B, K * S [+ N])
        num_tasks, size = self.selection.shape  # K, S = m_k + m_s
        task_logits = logits[:, : num_tasks * size].view(-1, num_tasks, size)
        task_weights = gate_softmax(task_logits)  # (B, K, S)
        placed = task_weights.new_zeros(x.shape[0], num_tasks, every.shape[1])
        index = self.selection.expand(x.shape[0], -1, -1)
        placed = placed.scatter(2, index, task_weights)  # (B, K, N)
        outputs = list(mix(placed, every).unbind(1))  # K x (B, H)
        shared_out = None
        if self.shared_gate is not None:
            shared_logits = logits[:, num_tasks * size :].unsqueeze(1)  # (B, 1, N)
            shared_out = mix(gate_softmax(shared_logits), every).squeeze(1)  # (B, H)
        return outputs, shared_out, list(task_weights.unbind(1))


def build_levels(
    input_dim: int, num_tasks: int, config: PLEConfig
) -> tuple[nn.ModuleList, int]:
    """``config.num_levels`` stacked CGC levels; returns them and their output width.

    Every level but the last has a shared gate, whose output feeds the next
    level's shared experts.
    """
    levels, width = [], input_dim
    for level in range(config.num_levels):
        last = level == config.num_levels - 1
        levels.append(_ExtractionLevel(width, num_tasks, config, not last))
        width = levels[-1].output_dim
    return nn.ModuleList(levels), width


def run_levels(
    levels: nn.ModuleList, x: torch.Tensor, num_tasks: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run the levels of :func:`build_levels` on ``x``.

    Returns:
        ``(outputs, gates)``: each task's last-level output ``K x (B, H)``
        and its last-level gate weights ``K x (B, m_k + m_s)``, detached.
    """
    task_inputs, shared = [x] * num_tasks, x
    gates: list[torch.Tensor] = []
    for level in levels:
        task_inputs, shared_out, gates = level(task_inputs, shared)
        shared = shared_out if shared_out is not None else shared
    return task_inputs, [g.detach() for g in gates]


class LevelGatesModel(MultiTaskModel):
    """A model built on CGC levels (:func:`build_levels`): reports their gates.

    Subclasses set ``level_config`` (the levels' settings) and, each forward
    pass, ``last_gates`` from :func:`run_levels`.
    """

    level_config: PLEConfig
    last_gates: list[torch.Tensor] | None = None

    def gate_weights(self) -> dict[str, torch.Tensor]:
        """``{task: (B, m_k + m_s)}`` last-level gate weights of the latest pass."""
        if self.last_gates is None:
            return {}
        return dict(zip(self.spec.task_names, self.last_gates, strict=True))

    def gate_experts(self) -> dict[str, list[str]]:
        """Each task's own last-level experts, then the shared ones."""
        config = self.level_config
        shared = [f"shared_{j}" for j in range(config.num_shared_experts)]
        return {
            task: [f"{task}_{i}" for i in range(config.num_task_experts)] + shared
            for task in self.spec.task_names
        }


@register("ple")
class PLE(LevelGatesModel):
    """Stacked CGC levels with task and shared experts, then one tower per task.

    Level ``j``'s task gates read the same task's level ``j-1`` output (the raw
    input at level 1); every level but the last has a shared gate over all its
    experts, whose output feeds the next level's shared experts.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).
    ``last_gates`` holds the last level's task gate weights, ``K x (B, m_k+m_s)``;
    :meth:`gate_weights` returns them by task name.

    Notes:
        Gates are a single bias-free linear layer with softmax,
        ``softmax(W_g^k x)`` as in Eq. 2. With one task, PLE is a stack of task
        plus shared experts and still valid.
    """

    config_class = PLEConfig
    paper = "Tang et al., Progressive Layered Extraction (PLE), RecSys 2020"
    summary = "multi-level task-specific and shared experts with gates (CGC)"

    def __init__(self, spec: ModelSpec, config: PLEConfig) -> None:
        super().__init__(spec, config)
        self.level_config = config
        self.inputs = InputLayer(spec.inputs)
        self.levels, width = build_levels(
            self.inputs.output_dim, spec.num_tasks, config
        )
        self.towers = TaskTowers(
            width,
            spec.num_tasks,
            config.tower_units,
            config.dropout,
            config.batch_norm,
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs for ``batch``."""
        x = self.inputs.from_batch(batch, fused=True)  # (B, F * D + dense)
        task_inputs, self.last_gates = run_levels(self.levels, x, self.spec.num_tasks)
        stacked = torch.stack(task_inputs, dim=1)  # (B, K, H)
        return self.outputs_from_matrix(self.towers(stacked))  # K x (B,)

    def task_modules(self) -> list[str]:
        """Towers, every level's task gates and the last level's task experts.

        Task experts below the last level also feed the shared gate, so they
        are shared parameters.
        """
        last = len(self.levels) - 1
        gates = [f"levels.{i}.task_gates" for i in range(len(self.levels))]
        return [*super().task_modules(), *gates, f"levels.{last}.task_experts"]
