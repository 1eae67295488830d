"""Entire Space Multi-task Model (ESMM).

Ma, Zhao, Huang, Wang, Hu, Zhu, Gai, "Entire Space Multi-Task Model: An
Effective Approach for Estimating Post-Click Conversion Rate", SIGIR 2018,
Section 2.3 (Eq. 1-3).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import MLP, InputLayer
from mtlrec.models._base import ModelSpec, MultiTaskModel
from mtlrec.models._registry import register

__all__ = ["ESMM", "ESMMConfig"]


class ESMMConfig(ModelConfig):
    """ESMM settings.

    Args:
        hidden_units: Hidden widths of the CTR and of the CVR network; the
            paper's BASE uses [360, 200, 80] (the default).
        dropout: Dropout after each hidden activation (default 0).
        batch_norm: ``BatchNorm1d`` before every hidden ReLU (default
            False; the paper has none; torch-rechub's MLPs do).
    """

    name: Literal["esmm"] = "esmm"
    hidden_units: list[int] = Field(default_factory=lambda: [360, 200, 80])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False


@register("esmm")
class ESMM(MultiTaskModel):
    """A CTR net and a CVR net over one shared embedding table.

    Tasks: exactly two binary tasks, the second (CVR) with the first (CTR) as
    parent. ``pCTCVR = pCTR * pCVR`` is a product of probabilities; both CTR
    and CTCVR are supervised on every row and pCVR never directly (the loss
    does this, since ``child_loss_space`` is ``"joint"``).

    Outputs: ``{ctr task: (B,) CTR logit, cvr task: (B,) CVR logit}``; the
    CVR logit is the conditional ``P(conversion | click, x)``.

    The CTCVR loss reaches the CTR net, so only the CVR net is task-specific;
    the embeddings and the CTR net are shared parameters.

    Raises:
        ValueError: The tasks are not a binary (CTR, CVR-with-parent-CTR) pair.
    """

    config_class = ESMMConfig
    paper = "Ma et al., Entire Space Multi-Task Model (ESMM), SIGIR 2018"
    summary = "CTR and CVR nets on shared embeddings, CTCVR = CTR x CVR"
    output_space = "conditional"
    child_loss_space = "joint"

    def __init__(self, spec: ModelSpec, config: ESMMConfig) -> None:
        super().__init__(spec, config)
        ctr, cvr = _check_tasks(spec)
        self.ctr_name, self.cvr_name = ctr, cvr
        self.inputs = InputLayer(spec.inputs)
        width = self.inputs.output_dim
        self.ctr_net, self.cvr_net = (
            MLP(width, config.hidden_units, config.dropout, 1, config.batch_norm)
            for _ in range(2)
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return the CTR and CVR logits for ``batch``."""
        x = self.inputs.from_batch(batch, fused=True)  # (B, F * D + dense)
        return {
            self.ctr_name: self.ctr_net(x).squeeze(-1),  # (B,)
            self.cvr_name: self.cvr_net(x).squeeze(-1),  # (B,)
        }

    def task_modules(self) -> list[str]:
        """Only the CVR net serves one task."""
        return ["cvr_net"]


def _check_tasks(spec: ModelSpec) -> tuple[str, str]:
    tasks = spec.tasks
    if (
        len(tasks) != 2
        or any(t.type != "binary" for t in tasks)
        or tasks[0].parent is not None
        or tasks[1].parent != tasks[0].name
    ):
        described = [(t.name, t.type, t.parent) for t in tasks]
        raise ValueError(
            "esmm needs two binary tasks, CTR then CVR with parent: <CTR task>; "
            f"got (name, type, parent) = {described!r}"
        )
    return tasks[0].name, tasks[1].name
