"""History encoders: embed padded event ids, then pool with masks."""

from __future__ import annotations

import torch
from torch import nn

from mtlrec.layers._embedding import FusedEmbedding

__all__ = ["HistoryEmbedding", "SequencePooling", "length_mask"]


def length_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``(B, L)`` bool mask, True at the first ``lengths[b]`` positions."""
    steps = torch.arange(max_length, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)


class HistoryEmbedding(nn.Module):
    """Embeds the ``C`` id channels of each event and sums them.

    Args:
        vocab_sizes: Rows per channel (OOV id 0 included).
        embedding_dim: Width ``D``.

    Shapes:
        ``(B, L, C)`` ids -> ``(B, L, D)``.
    """

    def __init__(self, vocab_sizes: tuple[int, ...], embedding_dim: int) -> None:
        super().__init__()
        if not vocab_sizes:
            raise ValueError("a history needs at least one id channel, got none")
        self.embedding = FusedEmbedding(vocab_sizes, embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Return the summed channel embeddings ``(B, L, D)``."""
        num_rows, length, channels = ids.shape  # B, L, C
        flat = self.embedding(ids.reshape(num_rows * length, channels))  # (B*L, C, D)
        return flat.sum(dim=1).view(num_rows, length, -1)  # (B, L, D)


class SequencePooling(nn.Module):
    """Reduces a padded history to one vector: mean, sum or attention.

    ``mean`` divides by ``max(length, 1)`` and ``attention`` scores each event
    against a learned query (``softmax(q . W e_l / sqrt(D))`` over the valid
    events), so an empty history gives a zero vector, never NaN.

    Args:
        vocab_sizes: Rows per event channel.
        embedding_dim: Width ``D``.
        pooling: ``"mean"``, ``"sum"`` or ``"attention"``.

    Shapes:
        ids ``(B, L, C)``, lengths ``(B,)`` -> ``(B, D)``.
    """

    def __init__(
        self, vocab_sizes: tuple[int, ...], embedding_dim: int, pooling: str
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "sum", "attention"):
            raise ValueError(
                f"pooling must be 'mean', 'sum' or 'attention', got {pooling!r}"
            )
        self.pooling = pooling
        self.embed = HistoryEmbedding(vocab_sizes, embedding_dim)
        self.output_dim = embedding_dim
        if pooling == "attention":
            self.query = nn.Parameter(torch.randn(embedding_dim) * 0.1)
            self.key = nn.Linear(embedding_dim, embedding_dim, bias=False)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Return the pooled history ``(B, D)``."""
        events = self.embed(ids)  # (B, L, D)
        mask = length_mask(lengths, ids.shape[1]).to(events.dtype)  # (B, L)
        if self.pooling == "attention":
            scale = events.shape[-1] ** 0.5
            scores = self.key(events) @ self.query / scale  # (B, L)
            scores = scores.masked_fill(mask == 0, -1e9)
            weights = torch.softmax(scores, dim=1) * mask  # (B, L); 0 if empty
            return (weights.unsqueeze(-1) * events).sum(dim=1)  # (B, D)
        total = (events * mask.unsqueeze(-1)).sum(dim=1)  # (B, D)
        if self.pooling == "sum":
            return total
        return total / mask.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, D)
