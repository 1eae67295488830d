"""MMoE with a shallow position-bias tower, as in YouTube's ranking system.

Zhao, Hong, Wei, Chen, Nath, Andrews, Kumthekar, Sathiamoorthy, Yi, Chi,
"Recommending What Video to Watch Next: A Multitask Ranking System",
RecSys 2019, Sections 4.2-4.3 (MMoE) and 4.4 (shallow tower).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from mtlrec.data import Batch
from mtlrec.layers import MLP, FusedEmbedding, mix
from mtlrec.models._base import ModelSpec
from mtlrec.models._mmoe import MMoE, MMoEConfig
from mtlrec.models._registry import register

__all__ = ["YouTubeMMoE", "YouTubeMMoEConfig"]


class YouTubeMMoEConfig(MMoEConfig):
    """MMoE settings plus the shallow tower's.

    Args:
        shallow_units: Hidden widths of the shallow tower (default [16]).
        shallow_tasks: Tasks whose logits get the bias logit; empty means
            every binary task (default empty).
        feature_dropout: Probability, per row and field, of replacing a
            context id by the unknown id in training (default 0.1, the
            paper's 10% dropout on the position feature).
    """

    name: Literal["youtube_mmoe"] = "youtube_mmoe"  # type: ignore[assignment]  # subclass names itself
    shallow_units: list[int] = Field(default_factory=lambda: [16])
    shallow_tasks: list[str] = Field(default_factory=list)
    feature_dropout: float = Field(0.1, ge=0.0, lt=1.0)


@register("youtube_mmoe")
class YouTubeMMoE(MMoE):
    """MMoE whose selected logits get a shallow tower's bias logit in training.

    The shallow tower reads only the training-only context features
    (``features.context``: position, device, ...) and outputs one logit
    ``b(x_ctx)``; in training ``logit_k = tower_k(MMoE) + b(x_ctx)`` for each
    task in ``shallow_tasks``. In eval mode (validation, test, prediction)
    the bias is dropped, so scores reflect the main features only: the
    position's effect is absorbed by the shallow tower instead of being
    learnt from features correlated with position.

    Outputs: ``{task: (B,)}`` logits (binary) or values (regression).

    Notes:
        The paper gives no architecture of the shallow tower; it is a small
        MLP over embeddings of the context fields, whose embeddings are
        separate from the main input's. Feature dropout replaces ids with
        the out-of-vocabulary id 0, the id an unseen position also gets.

    Raises:
        ValueError: No context features, or ``shallow_tasks`` names a task
            that is not a binary task of the run.
    """

    config_class = YouTubeMMoEConfig
    paper = "Zhao et al., Recommending What Video to Watch Next, RecSys 2019"
    summary = "MMoE plus a shallow position-bias tower used only in training"
    config: YouTubeMMoEConfig
    bias_mask: torch.Tensor

    def __init__(self, spec: ModelSpec, config: YouTubeMMoEConfig) -> None:
        super().__init__(spec, config)
        context = spec.inputs.context_vocab_sizes
        if not context:
            raise ValueError(
                "youtube_mmoe needs training-only context features for its shallow "
                "tower; list them under features.context (e.g. position)"
            )
        binary = [t.name for t in spec.tasks if t.type == "binary"]
        chosen = config.shallow_tasks or binary
        unknown = [t for t in chosen if t not in binary]
        if unknown:
            raise ValueError(
                f"model.shallow_tasks names {unknown!r}, which are not binary tasks; "
                f"choose from {binary!r}"
            )
        self.register_buffer(
            "bias_mask",
            torch.tensor([float(t.name in chosen) for t in spec.tasks]),
            persistent=False,
        )
        self.context_embedding = FusedEmbedding(context, spec.inputs.embedding_dim)
        self.shallow = MLP(
            len(context) * spec.inputs.embedding_dim, config.shallow_units, output_dim=1
        )

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return per-task outputs; in training, biased by the shallow tower."""
        num_tasks = self.spec.num_tasks  # K
        x = self.inputs.from_batch(batch)  # (B, F * D + dense)
        gates = self.gates(x)  # (B, K, E)
        self.last_gates = gates.detach()
        mixed = mix(gates, self.experts(x)).expand(-1, num_tasks, -1)  # (B, K, H)
        logits = self.towers(mixed)  # (B, K)
        if self.training:
            logits = logits + self.bias_logit(batch).unsqueeze(1) * self.bias_mask
        return self.outputs_from_matrix(logits)  # K x (B,)

    def bias_logit(self, batch: Batch) -> torch.Tensor:
        """The shallow tower's ``(B,)`` logit (with feature dropout in training)."""
        if batch.context is None:
            raise ValueError(
                "youtube_mmoe trains with context features but the batch has none; "
                "the training data must hold the features.context columns"
            )
        ids = batch.context  # (B, P)
        rate = self.config.feature_dropout
        if self.training and rate > 0:
            keep = torch.rand(ids.shape, device=ids.device) >= rate
            ids = ids * keep  # dropped ids become the unknown id 0
        embedded = self.context_embedding(ids).flatten(1)  # (B, P * D)
        return self.shallow(embedded).squeeze(-1)  # (B,)
