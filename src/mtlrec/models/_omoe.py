"""One-gate Mixture-of-Experts (OMoE).

The OMoE baseline of Ma et al., "Modeling Task Relationships in Multi-task
Learning with Multi-gate Mixture-of-Experts", KDD 2018, Section 4.1:
``y_k = h^k(sum_i g(x)_i f_i(x))`` with one gate ``g`` shared by all tasks.
"""

from __future__ import annotations

from typing import Literal

from mtlrec.models._mmoe import MMoE, MMoEConfig
from mtlrec.models._registry import register

__all__ = ["OMoE", "OMoEConfig"]


class OMoEConfig(MMoEConfig):
    """OMoE settings: those of :class:`~mtlrec.models.MMoEConfig`."""

    name: Literal["omoe"] = "omoe"  # type: ignore[assignment]  # narrower literal


@register("omoe")
class OMoE(MMoE):
    """MMoE with a single gate shared by every task.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).
    """

    config_class = OMoEConfig
    paper = "Ma et al., KDD 2018 (one-gate MoE baseline)"
    summary = "shared experts, one softmax gate for all tasks"
    one_gate = True
