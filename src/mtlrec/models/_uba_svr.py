"""UBA-SVR: user behaviour-aware multi-task learning for short-video ranking.

Wu, Fu, Xing, Yu, Yin, "A user behavior-aware multi-task learning model for
enhanced short video recommendation", Neurocomputing 617 (2025) 129076.
Only the abstract was available: this model composes the four components it
names, each built as documented in the class docstring.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, HistoryEmbedding, InputLayer, length_mask
from mtlrec.losses._model_terms import uncertainty_term
from mtlrec.models._base import ModelSpec
from mtlrec.models._ple import LevelGatesModel, PLEConfig, build_levels, run_levels
from mtlrec.models._registry import register

__all__ = ["UBASVR", "UBASVRConfig"]


class UBASVRConfig(ModelConfig):
    """UBA-SVR settings.

    Args:
        num_heads: Attention heads of the behaviour transformer (default 2).
        num_layers: Transformer layers (default 1).
        num_levels: Extraction levels (default 2).
        num_task_experts: Task experts per task and level (default 1).
        num_shared_experts: Shared experts per level (default 1).
        expert_units: Expert widths (default [64]).
        tower_units: Widths of each tower before the task attention (default
            [32]).
        dynamic_weights: Learn task-loss weights (default True).
        dropout: Dropout in the transformer (default 0).
    """

    name: Literal["uba_svr"] = "uba_svr"
    num_heads: int = Field(2, gt=0)
    num_layers: int = Field(1, gt=0)
    num_levels: int = Field(2, gt=0)
    num_task_experts: int = Field(1, gt=0)
    num_shared_experts: int = Field(1, gt=0)
    expert_units: list[int] = Field(default_factory=lambda: [64], min_length=1)
    tower_units: list[int] = Field(default_factory=lambda: [32], min_length=1)
    dynamic_weights: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @property
    def learns_task_weights(self) -> bool:
        """True with ``dynamic_weights``: the model adds its own weighting term."""
        return self.dynamic_weights


class _BehaviourTransformer(nn.Module):
    """Transformer over ``[target token, event_1 .. event_L]``.

    Event tokens sum the embeddings of the event's channels (item and
    behaviour type) and a position embedding; the target token projects the
    row's own features. Padding is masked; the target token is never masked,
    so an empty history is valid. Returns the target token's output.
    """

    def __init__(self, spec: ModelSpec, flat_dim: int, config: UBASVRConfig) -> None:
        super().__init__()
        dim, length = spec.inputs.embedding_dim, spec.inputs.sequence_length
        if dim % config.num_heads:
            raise ValueError(
                f"model.num_heads={config.num_heads} must divide the embedding "
                f"dim {dim}; change one of them"
            )
        self.events = HistoryEmbedding(spec.inputs.sequence_vocab_sizes, dim)
        self.positions = nn.Parameter(torch.randn(length + 1, dim) * 0.02)
        self.target = nn.Linear(flat_dim, dim)
        layer = nn.TransformerEncoderLayer(
            dim, config.num_heads, 4 * dim, config.dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, config.num_layers, enable_nested_tensor=False
        )

    def forward(
        self, x: torch.Tensor, history: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        num_rows, length = history.shape[:2]  # B, L
        tokens = torch.cat(
            [self.target(x).unsqueeze(1), self.events(history)], dim=1
        )  # (B, 1 + L, D)
        tokens = tokens + self.positions[: length + 1]
        valid = torch.cat(
            [
                lengths.new_ones(num_rows, 1, dtype=torch.bool),
                length_mask(lengths, length),
            ],
            dim=1,
        )  # (B, 1 + L)
        return self.encoder(tokens, src_key_padding_mask=~valid)[:, 0]  # (B, D)


class _TaskAttention(nn.Module):
    """Each task's tower state attends over every task's tower state."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.query = nn.Linear(width, width, bias=False)
        self.key = nn.Linear(width, width, bias=False)
        self.value = nn.Linear(width, width, bias=False)
        self.scale = math.sqrt(width)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, K, H)`` -> attended states ``(B, K, H)`` and weights ``(B, K, K)``."""
        scores = self.query(states) @ self.key(states).transpose(1, 2) / self.scale
        weights = torch.softmax(scores, dim=-1)  # (B, K, K)
        return states + weights @ self.value(states), weights  # (B, K, H)


@register("uba_svr")
class UBASVR(LevelGatesModel):
    """Behaviour transformer, multi-level extraction, task-aware tower attention.

    1. **Behaviour-aware transformer.** Each event of the user's history is
       the sum of its channel embeddings (item id, behaviour type) and a
       position embedding; a target token projects the row's features. The
       target token's output after self-attention is the fused interest
       vector, appended to the row's features.
    2. **Hierarchical extraction.** ``num_levels`` PLE extraction levels
       (task and shared experts with gates) over the fused features.
    3. **Task-aware attention in the towers.** Each task's tower MLP gives a
       state ``q_k``; a scaled dot-product attention over all tasks' states
       (with a residual) lets towers share and differentiate; then one
       linear output each.
    4. **Dynamic joint loss.** Learnt ``s_k`` (initially 0) make the loss
       ``sum_k exp(-s_k) L_k + s_k`` (uncertainty weighting, added through
       :meth:`auxiliary_loss`; it assumes the task weights are 1).

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).
    ``last_task_attention`` holds the ``(B, K, K)`` tower attention.

    Notes:
        The paper's exact layers, sizes and weighting formula were not
        available; each choice above is the simplest reading of its abstract.
        Without a history feature the transformer is skipped.
    """

    config_class = UBASVRConfig
    paper = "Wu et al., UBA-SVR, Neurocomputing 2025 (from the abstract)"
    summary = (
        "behaviour transformer, multi-level experts, tower attention, dynamic loss"
    )
    config: UBASVRConfig

    def __init__(self, spec: ModelSpec, config: UBASVRConfig) -> None:
        super().__init__(spec, config)
        plain = dataclasses.replace(spec.inputs, sequence_vocab_sizes=())
        self.inputs = InputLayer(plain)
        width = self.inputs.output_dim
        self.behaviour = None
        if spec.inputs.has_sequence:
            self.behaviour = _BehaviourTransformer(spec, width, config)
            width += spec.inputs.embedding_dim
        level_config = PLEConfig(
            num_levels=config.num_levels,
            num_task_experts=config.num_task_experts,
            num_shared_experts=config.num_shared_experts,
            expert_units=config.expert_units,
            dropout=0.0,
        )
        self.level_config = level_config
        self.levels, width = build_levels(width, spec.num_tasks, level_config)
        self.towers = nn.ModuleList(MLP(width, config.tower_units) for _ in spec.tasks)
        self.attention = _TaskAttention(config.tower_units[-1])
        self.heads = nn.Parameter(
            torch.randn(spec.num_tasks, config.tower_units[-1]) * 0.05
        )
        self.head_bias = nn.Parameter(torch.zeros(spec.num_tasks))
        self.log_vars = nn.Parameter(torch.zeros(spec.num_tasks))
        self.last_task_attention: torch.Tensor | None = None

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs for ``batch``."""
        x = self.inputs(batch.categorical, batch.dense)  # (B, F * D + dense)
        if self.behaviour is not None:
            if batch.history is None or batch.history_lengths is None:
                raise ValueError(
                    "uba_svr was built with a history feature but the batch has none"
                )
            interest = self.behaviour(x, batch.history, batch.history_lengths)
            x = torch.cat([x, interest], dim=1)  # (B, W + D)
        task_inputs, self.last_gates = run_levels(self.levels, x, self.spec.num_tasks)
        states = torch.stack(
            [tower(u) for tower, u in zip(self.towers, task_inputs, strict=True)], dim=1
        )  # (B, K, H)
        states, weights = self.attention(states)  # (B, K, H), (B, K, K)
        self.last_task_attention = weights.detach()
        outputs = (states * self.heads).sum(-1) + self.head_bias  # (B, K)
        return self.outputs_from_matrix(outputs)  # K x (B,)

    def auxiliary_loss(
        self,
        outputs: dict[str, torch.Tensor],
        batch: Batch,
        task_losses: torch.Tensor,
    ) -> torch.Tensor | None:
        """The dynamic weighting term (None when ``dynamic_weights`` is off)."""
        if not self.config.dynamic_weights:
            return None
        return uncertainty_term(task_losses, self.log_vars)

    def task_weights(self) -> dict[str, float]:
        """Current learnt weights ``exp(-s_k)`` by task."""
        values = torch.exp(-self.log_vars.detach()).tolist()
        return dict(zip(self.spec.task_names, values, strict=True))
