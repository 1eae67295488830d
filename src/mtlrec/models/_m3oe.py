"""M3oE: multi-domain multi-task mixture of experts with learnt fusion.

Zhang, Li, Wang, Chen, Zhao, Wang, Wang, Hu, Zhou, Zhao, Yang, "M3oE:
Multi-Domain Multi-Task Mixture-of Experts Recommendation Framework",
SIGIR 2024 (arXiv 2404.18465), Section 2 (Eq. 1-12).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from pydantic import Field
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import InputLayer
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["M3oE", "M3oEConfig"]


class M3oEConfig(ModelConfig):
    """M3oE settings (defaults from the authors' code).

    Args:
        star_units: Width of the STAR layer ``f_DR`` (default 512).
        hidden_dim: Width of ``h_d``, the experts' input (default 256).
        expert_dim: Width of every expert's output (default 64).
        num_shared_experts: Shared experts ``N`` (default 4, the code; the
            paper uses 1 on MovieLens).
        tower_dim: Hidden width of each (domain, task) tower (default 64).
        fusion_init: Initial logit ``e_w`` of ``alpha_d, alpha_t, beta_d,
            beta_t`` (default 1.0, so each weight starts at sigmoid(1)).
        architecture_lr: Learning rate of the separate Adam that updates the
            fusion logits after each epoch (default 1e-3).
    """

    name: Literal["m3oe"] = "m3oe"
    star_units: int = Field(512, gt=0)
    hidden_dim: int = Field(256, gt=0)
    expert_dim: int = Field(64, gt=0)
    num_shared_experts: int = Field(4, gt=0)
    tower_dim: int = Field(64, gt=0)
    fusion_init: float = 1.0
    architecture_lr: float = Field(1e-3, gt=0)


class _NormExperts(nn.Module):
    """``E`` one-layer experts ``ReLU(LayerNorm(W_e h + b_e))``, batched.

    Shapes: ``(B, in) -> (B, E, H)``.
    """

    def __init__(self, input_dim: int, num_experts: int, output_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(input_dim)
        self.weight = nn.Parameter(
            torch.empty(num_experts, input_dim, output_dim).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.zeros(num_experts, output_dim))
        self.norm_weight = nn.Parameter(torch.ones(num_experts, output_dim))
        self.norm_bias = nn.Parameter(torch.zeros(num_experts, output_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return every expert's output ``(B, E, H)``."""
        out = torch.einsum("bi,eih->beh", h, self.weight) + self.bias  # (B, E, H)
        out = F.layer_norm(out, out.shape[-1:])  # (B, E, H)
        return torch.relu(out * self.norm_weight + self.norm_bias)  # (B, E, H)


def _mix_with_others(outputs: torch.Tensor, own: torch.Tensor, beta: torch.Tensor):
    """``beta f^own + (1 - beta) / (M - 1) sum_{m != own} f^m`` (Eq. 5-6).

    ``outputs (B, M, H)``, ``own (B, S)`` indices -> ``(B, S, H)``.
    """
    count = outputs.shape[1]  # M
    chosen = torch.gather(
        outputs, 1, own.unsqueeze(-1).expand(-1, -1, outputs.shape[-1])
    )  # (B, S, H)
    if count == 1:
        return chosen
    others = (outputs.sum(dim=1, keepdim=True) - chosen) / (count - 1)  # (B, S, H)
    return beta * chosen + (1.0 - beta) * others


@register("m3oe")
class M3oE(MultiTaskModel):
    """Shared, domain and task experts fused at two levels; one tower per (d, t).

    1. STAR-style domain representation: ``f_DR(x) = (W_d * W_sh) x + b_d +
       b_sh`` (element-wise product of a domain and a shared matrix), then
       ``h = LN-ReLU(W_c f_DR(x)) + f_DA(x)`` with ``f_DA`` a one-layer skip.
    2. Experts ``Linear -> LayerNorm -> ReLU`` on ``h``: ``N`` shared experts
       mixed by one softmax gate per (domain, task) on ``h`` (detached, as in
       the code); one expert per domain, ``D(h) = beta_d f^d + (1 - beta_d)
       mean_{d' != d} f^{d'}``; one per task, ``T(h)`` likewise with
       ``beta_t``.
    3. ``h_bar = S(h) + alpha_d D(h) + alpha_t T(h)`` (the code's reading of
       Eq. 7: the domain module takes the domain weight).
    4. Tower of the row's (domain, task): ``Linear -> LN -> ReLU -> Linear``.

    ``alpha_d, alpha_t, beta_d, beta_t = sigmoid(e_w)`` are learnt by the
    bi-level step (Eq. 11): :meth:`architecture_parameters` keeps them out of
    the main optimiser, and the trainer updates them alone after each epoch
    on one validation mini-batch with their own Adam. (The reference code
    draws that batch from the training data and, through a bug, also lets
    the main optimiser update them; neither is reproduced.)

    Outputs: ``{task: (B,)}`` logits of the row's domain tower.

    Notes:
        The loss is the configured per-task mean over all domains, which
        weights domains by their size; the paper sums per-(domain, task)
        means (Eq. 12).

    Raises:
        ValueError: The run has no domain column, or a task is not binary.
    """

    config_class = M3oEConfig
    paper = "Zhang et al., M3oE, SIGIR 2024"
    summary = "multi-domain multi-task experts with learnt two-level fusion"
    reads_domains = True
    config: M3oEConfig

    def __init__(self, spec: ModelSpec, config: M3oEConfig) -> None:
        super().__init__(spec, config)
        if spec.num_domains == 0:
            raise ValueError(
                "m3oe needs domains; set data.domain_column to the column naming "
                "each row's domain"
            )
        num_domains, num_tasks = spec.num_domains, spec.num_tasks  # D, K
        self.architecture_lr = config.architecture_lr
        self.inputs = InputLayer(spec.inputs)
        width, hidden = self.inputs.output_dim, config.hidden_dim
        bound = 1.0 / math.sqrt(width)
        self.star_shared = nn.Parameter(
            torch.empty(width, config.star_units).uniform_(-bound, bound)
        )
        self.star_domain = nn.Parameter(
            torch.ones(num_domains, width, config.star_units)
        )
        self.star_bias = nn.Parameter(torch.zeros(num_domains + 1, config.star_units))
        self.combine = _norm_layer(config.star_units, hidden)
        self.skip = _norm_layer(width, hidden)
        self.shared = _NormExperts(hidden, config.num_shared_experts, config.expert_dim)
        self.domain_experts = _NormExperts(hidden, num_domains, config.expert_dim)
        self.task_experts = _NormExperts(hidden, num_tasks, config.expert_dim)
        self.gates = nn.Linear(
            hidden, num_domains * num_tasks * config.num_shared_experts
        )
        self.tower_hidden = _NormExperts(
            config.expert_dim, num_domains * num_tasks, config.tower_dim
        )
        self.tower_out = nn.Parameter(
            torch.randn(num_domains * num_tasks, config.tower_dim) * 0.05
        )
        self.tower_bias = nn.Parameter(torch.zeros(num_domains * num_tasks))
        self.fusion_logits = nn.Parameter(torch.full((4,), config.fusion_init))
        self.last_gates: torch.Tensor | None = None

    def architecture_parameters(self) -> list[nn.Parameter]:
        """The fusion logits ``e_w`` of ``alpha_d, alpha_t, beta_d, beta_t``."""
        return [self.fusion_logits]

    def fusion_weights(self) -> dict[str, float]:
        """Current ``alpha_d, alpha_t, beta_d, beta_t`` as numbers."""
        values = torch.sigmoid(self.fusion_logits.detach()).tolist()
        return dict(
            zip(("alpha_d", "alpha_t", "beta_d", "beta_t"), values, strict=True)
        )

    def gate_weights(self) -> dict[str, torch.Tensor]:
        """``{task: (B, N)}``: each row's (domain, task) gate on the shared experts."""
        if self.last_gates is None:
            return {}
        return dict(zip(self.spec.task_names, self.last_gates.unbind(1), strict=True))

    def gate_experts(self) -> dict[str, list[str]]:
        """The shared experts, the only ones a gate mixes."""
        names = [f"shared_{j}" for j in range(self.config.num_shared_experts)]
        return {task: list(names) for task in self.spec.task_names}

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return each task's logit from the row's domain tower."""
        if batch.domains is None:
            raise ValueError(
                "m3oe needs each row's domain; the data lacks the domain column "
                "named in data.domain_column"
            )
        domain = batch.domains  # (B,)
        num_tasks, num_experts = self.spec.num_tasks, self.config.num_shared_experts
        h = self._represent(self.inputs.from_batch(batch), domain)  # (B, hidden)
        alpha_d, alpha_t, beta_d, beta_t = torch.sigmoid(self.fusion_logits)

        gates = self.gates(h.detach()).view(
            -1, self.spec.num_domains, num_tasks, num_experts
        )
        gates = torch.softmax(
            gates[torch.arange(len(domain)), domain], dim=-1
        )  # (B, K, N)
        self.last_gates = gates.detach()
        shared = torch.bmm(gates, self.shared(h))  # (B, K, H)
        domain_view = _mix_with_others(
            self.domain_experts(h), domain.unsqueeze(1), beta_d
        )  # (B, 1, H)
        tasks = torch.arange(num_tasks, device=h.device).expand(len(domain), -1)
        task_view = _mix_with_others(self.task_experts(h), tasks, beta_t)  # (B, K, H)
        fused = shared + alpha_d * domain_view + alpha_t * task_view  # (B, K, H)
        return self.outputs_from_matrix(self._towers(fused, domain))  # K x (B,)

    def _represent(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        # f_DR for every domain's weights, then keep the row's own domain.
        weights = self.star_domain * self.star_shared  # (D, in, U)
        every = torch.einsum("bi,diu->bdu", x, weights)  # (B, D, U)
        rows = torch.arange(len(domain), device=x.device)
        star = (
            every[rows, domain] + self.star_bias[domain] + self.star_bias[-1]
        )  # (B, U)
        return self.combine(star) + self.skip(x)  # (B, hidden)

    def _towers(self, fused: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        # Every domain's tower of each task, then keep the row's own domain.
        num_domains, num_tasks = self.spec.num_domains, self.spec.num_tasks  # D, K
        towers = self.tower_hidden
        shape = (num_domains, num_tasks, -1)
        weight = towers.weight.view(num_domains, num_tasks, *towers.weight.shape[1:])
        out = torch.einsum("bkh,dkhu->bdku", fused, weight)  # (B, D, K, U)
        out = F.layer_norm(out + towers.bias.view(shape), out.shape[-1:])
        out = torch.relu(
            out * towers.norm_weight.view(shape) + towers.norm_bias.view(shape)
        )  # (B, D, K, U)
        logits = (out * self.tower_out.view(shape)).sum(-1)  # (B, D, K)
        logits = logits + self.tower_bias.view(num_domains, num_tasks)
        return logits[torch.arange(len(domain), device=fused.device), domain]  # (B, K)


def _norm_layer(input_dim: int, output_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(input_dim, output_dim), nn.LayerNorm(output_dim), nn.ReLU()
    )
