"""Deep multiple Task-specific feature interactions Network (DTN).

Bi, Lian, Cui, ..., Dong, Zhang, "Deep Multiple Task-specific Feature
Interactions Network for Multi-Task Recommendation", CIKM 2024
(arXiv 2408.11611); built from the abstract and the authors' code.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, cast

import torch
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, InputLayer
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["DTN", "DTNConfig"]

Interaction = Literal["masknet", "gdcn", "memonet", "mlp"]
_DEFAULT_EXPERTS: tuple[Interaction, ...] = ("masknet", "gdcn", "memonet")


class DTNConfig(ModelConfig):
    """DTN settings.

    Args:
        experts: Feature-interaction experts in every branch (default
            masknet, gdcn, memonet, as in the authors' code).
        expert_dim: Output width of each expert (default 64).
        mask_blocks: MaskNet blocks (default 2).
        mask_units: MaskNet aggregation and block width (default 128).
        cross_layers: GDCN gated cross layers (default 2).
        memory_buckets: Buckets of MemoNet's hashed cross-feature codebook
            (default 10000).
        tower_units: Tower widths (default [128, 64]).
        transfer: Task-sensitive transfer ``{target: source}``: the
            source task's experts enter the target's mixture scaled by the
            source's predicted probability, without gradient through that
            factor (default {}, e.g. ``{cvr: ctr}``).
    """

    name: Literal["dtn"] = "dtn"
    experts: list[Interaction] = Field(
        default_factory=lambda: list(_DEFAULT_EXPERTS), min_length=1
    )
    expert_dim: int = Field(64, gt=0)
    mask_blocks: int = Field(2, gt=0)
    mask_units: int = Field(128, gt=0)
    cross_layers: int = Field(2, gt=0)
    memory_buckets: int = Field(10000, gt=1)
    tower_units: list[int] = Field(default_factory=lambda: [128, 64])
    transfer: dict[str, str] = Field(default_factory=dict)


class _MaskNet(nn.Module):
    """Parallel MaskNet: instance-guided masks on the layer-normed input."""

    def __init__(self, width: int, config: DTNConfig) -> None:
        super().__init__()
        units = config.mask_units
        self.norm = nn.LayerNorm(width)
        self.masks = nn.ModuleList(
            _mask(width, units) for _ in range(config.mask_blocks)
        )
        self.hidden = nn.ModuleList(
            nn.Sequential(nn.Linear(width, units), nn.LayerNorm(units), nn.ReLU())
            for _ in range(config.mask_blocks)
        )
        self.out = MLP(units * config.mask_blocks, [config.expert_dim])

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        normed = self.norm(x)  # (B, W)
        blocks = [
            hidden(mask(x) * normed)
            for mask, hidden in zip(self.masks, self.hidden, strict=True)
        ]  # each (B, units)
        return self.out(torch.cat(blocks, dim=1))  # (B, H)


def _mask(width: int, units: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, units), nn.ReLU(), nn.Linear(units, width))


class _GDCN(nn.Module):
    """Gated cross layers ``x_{l+1} = x_0 * (W_c x_l + b) * sigmoid(W_g x_l) + x_l``."""

    def __init__(self, width: int, config: DTNConfig) -> None:
        super().__init__()
        self.cross = nn.ModuleList(
            nn.Linear(width, width) for _ in range(config.cross_layers)
        )
        self.gate = nn.ModuleList(
            nn.Linear(width, width, bias=False) for _ in range(config.cross_layers)
        )
        self.out = MLP(width, [config.expert_dim])

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        layer = x
        for cross, gate in zip(self.cross, self.gate, strict=True):
            layer = x * cross(layer) * torch.sigmoid(gate(layer)) + layer  # (B, W)
        return self.out(layer)  # (B, H)


class _MemoNet(nn.Module):
    """Order-2 cross features looked up in a hashed codebook (two hashes).

    A simplification of MemoNet's multi-hash codebook: each field pair's id
    pair is hashed twice into ``memory_buckets`` rows; the two rows are
    summed, and the pairs' vectors are averaged and projected.
    """

    _PRIMES = ((1_000_003, 998_244_353), (19_260_817, 1_000_000_007))
    pairs: torch.Tensor

    def __init__(self, num_fields: int, dim: int, config: DTNConfig) -> None:
        super().__init__()
        pairs = list(itertools.combinations(range(num_fields), 2))
        self.register_buffer(
            "pairs", torch.tensor(pairs or [(0, 0)], dtype=torch.long), persistent=False
        )
        self.buckets = config.memory_buckets
        self.codebook = nn.Embedding(config.memory_buckets, dim)
        nn.init.normal_(self.codebook.weight, std=0.01)
        self.out = MLP(dim, [config.expert_dim])

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        left, right = ids[:, self.pairs[:, 0]], ids[:, self.pairs[:, 1]]  # (B, P)
        pair_id = torch.arange(len(self.pairs), device=ids.device)
        memory = torch.zeros(())
        for a, b in self._PRIMES:
            code = (left * a + right * b + pair_id * 7919) % self.buckets  # (B, P)
            memory = memory + self.codebook(code)  # (B, P, D)
        return self.out(memory.mean(dim=1))  # (B, H)


class _FullNet(nn.Module):
    def __init__(self, width: int, config: DTNConfig) -> None:
        super().__init__()
        self.net = MLP(width, [128, config.expert_dim])

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _expert(kind: str, width: int, spec: ModelSpec, config: DTNConfig) -> nn.Module:
    if kind == "masknet":
        return _MaskNet(width, config)
    if kind == "gdcn":
        return _GDCN(width, config)
    if kind == "memonet":
        if spec.inputs.num_fields < 2:
            raise ValueError("dtn's memonet expert needs >= 2 categorical fields")
        return _MemoNet(spec.inputs.num_fields, spec.inputs.embedding_dim, config)
    return _FullNet(width, config)


@register("dtn")
class DTN(MultiTaskModel):
    """Task-specific and shared feature-interaction experts with self-scored gates.

    There are ``K + 1`` branches (one per task, one shared), each with its
    own instances of the configured interaction experts over the same
    embeddings (batch-normalised). For task ``i``, every expert output
    ``o_j`` gets the score ``s_j = ReLU(w_{ij} . o_j + b_{ij})``; a softmax
    over the other tasks' and the shared experts and a separate softmax over
    task ``i``'s own experts give weights that sum to 2 in all; the weighted
    sum feeds task ``i``'s tower. With ``transfer {t: s}`` (TSN), task
    ``s``'s experts enter task ``t``'s mixture multiplied by ``stop_grad(p_s)``.

    Outputs: ``{task: (B,)}`` logits over all impressions; a child task
    (``parent`` set, e.g. conversion after click) is trained on every row
    against its joint label, as the code's raw conversion label.

    Notes:
        MemoNet's codebook is simplified (see ``_MemoNet``). The code's
        positive-class weights (200, 3000) are not used; use task weights.

    Raises:
        ValueError: ``transfer`` names unknown tasks, a source that does not
            come before its target, or a non-binary source.
    """

    config_class = DTNConfig
    paper = (
        "Bi et al., Deep Multiple Task-specific Feature Interactions Network, CIKM 2024"
    )
    summary = "task-specific and shared interaction experts, CTR-to-CVR transfer"
    output_space = "joint"
    child_loss_space = "joint"
    config: DTNConfig

    def __init__(self, spec: ModelSpec, config: DTNConfig) -> None:
        super().__init__(spec, config)
        self.source_of = _check_transfer(spec, config.transfer)
        self.inputs = InputLayer(spec.inputs)
        width = self.inputs.output_dim
        self.norm = nn.BatchNorm1d(width)
        num_kinds, num_tasks = len(config.experts), spec.num_tasks
        self.branches = nn.ModuleList(
            nn.ModuleList(_expert(k, width, spec, config) for k in config.experts)
            for _ in range(num_tasks + 1)
        )
        num_experts = num_kinds * (num_tasks + 1)
        bound = 1.0 / math.sqrt(config.expert_dim)
        self.score_weight = nn.Parameter(
            torch.empty(num_tasks, num_experts, config.expert_dim).uniform_(
                -bound, bound
            )
        )
        self.score_bias = nn.Parameter(torch.zeros(num_tasks, num_experts))
        self.towers = nn.ModuleList(
            MLP(config.expert_dim, config.tower_units, output_dim=1) for _ in spec.tasks
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return every task's logit for ``batch``."""
        x = self.norm(self.inputs.from_batch(batch))  # (B, W)
        experts = torch.stack(
            [
                expert(x, batch.categorical)
                for branch in self.branches
                for expert in cast(nn.ModuleList, branch)
            ],
            dim=1,
        )  # (B, (K + 1) * n, H)
        kinds = len(self.config.experts)
        logits: list[torch.Tensor] = []
        for i in range(self.spec.num_tasks):
            inputs = experts
            source = self.source_of.get(i)
            if source is not None:
                scale = torch.ones(experts.shape[:2], device=x.device)
                prob = torch.sigmoid(logits[source]).detach()  # (B,)
                scale[:, source * kinds : (source + 1) * kinds] = prob.unsqueeze(1)
                inputs = experts * scale.unsqueeze(-1)
            mixed = self._mix(i, inputs)  # (B, H)
            logits.append(self.towers[i](mixed).squeeze(-1))  # (B,)
        return self.outputs_from_matrix(torch.stack(logits, dim=1))  # K x (B,)

    def _mix(self, task: int, experts: torch.Tensor) -> torch.Tensor:
        # Self-scored gate: softmax over others + shared, softmax over own.
        kinds = len(self.config.experts)
        scores = torch.relu(
            (experts * self.score_weight[task]).sum(-1) + self.score_bias[task]
        )  # (B, (K + 1) * n)
        own = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
        own[task * kinds : (task + 1) * kinds] = True
        weights = torch.where(
            own,
            torch.softmax(scores.masked_fill(~own, -1e9), dim=1),
            torch.softmax(scores.masked_fill(own, -1e9), dim=1),
        )  # (B, (K + 1) * n), sums to 2
        return (weights.unsqueeze(-1) * experts).sum(dim=1)  # (B, H)


def _check_transfer(spec: ModelSpec, transfer: dict[str, str]) -> dict[int, int]:
    index = {name: k for k, name in enumerate(spec.task_names)}
    result = {}
    for target, source in transfer.items():
        if target not in index or source not in index:
            raise ValueError(
                f"model.transfer {{{target}: {source}}} names an unknown task; "
                f"tasks are {list(spec.task_names)!r}"
            )
        if index[source] >= index[target]:
            raise ValueError(
                f"model.transfer source {source!r} must come before target "
                f"{target!r} in the task list"
            )
        if spec.tasks[index[source]].type != "binary":
            raise ValueError(f"model.transfer source {source!r} must be a binary task")
        result[index[target]] = index[source]
    return result
