"""Input layer: one fused embedding table for all categorical fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from mtlrec.layers._fused import fused_dtype, gather

if TYPE_CHECKING:
    from mtlrec.data import Batch

__all__ = ["FusedEmbedding", "InputLayer", "InputSpec"]


@dataclass(frozen=True)
class InputSpec:
    """Sizes of a model's inputs, taken from the fitted feature map.

    Args:
        vocab_sizes: Rows per categorical field, the out-of-vocabulary id 0
            included; one entry per field, in the feature map's order.
        embedding_dim: Width ``D`` of every embedding.
        num_dense: Number of dense (numeric) columns.
        sparse_gradients: Give the fused embedding table sparse gradients
            (default False).
        context_vocab_sizes: Rows per training-only context field (default
            none).
        sequence_vocab_sizes: Rows per history event channel (default none:
            no history feature).
        sequence_length: Longest history ``L`` (default 0).
        sequence_pooling: Pooling of the history in :class:`InputLayer`
            (``mean``, ``sum`` or ``attention``; default ``mean``).
    """

    vocab_sizes: tuple[int, ...]
    embedding_dim: int
    num_dense: int
    sparse_gradients: bool = False
    context_vocab_sizes: tuple[int, ...] = ()
    sequence_vocab_sizes: tuple[int, ...] = ()
    sequence_length: int = 0
    sequence_pooling: str = "mean"

    @property
    def has_sequence(self) -> bool:
        """Whether the inputs include a history feature."""
        return bool(self.sequence_vocab_sizes)

    @property
    def num_fields(self) -> int:
        """Number of categorical fields ``F``."""
        return len(self.vocab_sizes)

    @property
    def flat_dim(self) -> int:
        """Width of the concatenated input: ``F * D + num_dense``."""
        return self.num_fields * self.embedding_dim + self.num_dense


class FusedEmbedding(nn.Module):
    """All categorical fields in one table, looked up in one call.

    Field ``f``'s id ``i`` lives at row ``offsets[f] + i``, so a ``(B, F)``
    batch of per-field ids becomes one ``embedding`` call.

    Args:
        vocab_sizes: Rows per field (id 0 is the field's out-of-vocabulary row).
        embedding_dim: Width ``D`` of each embedding.
        sparse: Produce sparse gradients (for row-wise optimiser updates).
    """

    offsets: torch.Tensor

    def __init__(
        self, vocab_sizes: tuple[int, ...], embedding_dim: int, sparse: bool = False
    ) -> None:
        super().__init__()
        if any(v <= 0 for v in vocab_sizes):
            raise ValueError(f"vocab_sizes must all be > 0, got {vocab_sizes!r}")
        starts = [0]
        for size in vocab_sizes[:-1]:
            starts.append(starts[-1] + size)
        self.register_buffer(
            "offsets", torch.tensor(starts, dtype=torch.long), persistent=False
        )
        self.table = nn.Embedding(
            max(sum(vocab_sizes), 1), embedding_dim, sparse=sparse
        )
        nn.init.normal_(self.table.weight, std=0.01)

    def forward(
        self, ids: torch.Tensor, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """Map ``(B, F)`` per-field ids to ``(B, F, D)`` embeddings.

        ``dtype`` casts them (default: the table's); bfloat16 without
        gradients reads them through :func:`~mtlrec.layers.gather`.
        """
        ids = ids + self.offsets
        if dtype is None:
            return self.table(ids)  # (B, F, D)
        if dtype == torch.bfloat16 and not torch.is_grad_enabled():
            return gather(self.table.weight, ids)  # (B, F, D)
        return self.table(ids).to(dtype)  # (B, F, D)


class InputLayer(nn.Module):
    """Embeds categorical ids and concatenates them with the dense columns.

    With a history feature in ``spec``, its pooled vector (``D`` wide, see
    :class:`~mtlrec.layers.SequencePooling`) is appended; a call without a
    history then pools an empty one (zeros).

    Args:
        spec: The input sizes (``spec.sparse_gradients`` selects sparse
            embedding gradients, see :class:`FusedEmbedding`).

    Shapes:
        ``categorical (B, F)``, ``dense (B, num_dense)`` -> ``(B, F * D + num_dense)``
        (``+ D`` with a history).
    """

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embedding = (
            FusedEmbedding(spec.vocab_sizes, spec.embedding_dim, spec.sparse_gradients)
            if spec.num_fields
            else None
        )
        self.output_dim = spec.flat_dim
        self.history = None
        if spec.has_sequence:
            from mtlrec.layers._sequence import SequencePooling

            self.history = SequencePooling(
                spec.sequence_vocab_sizes, spec.embedding_dim, spec.sequence_pooling
            )
            self.output_dim += spec.embedding_dim

    def forward(
        self,
        categorical: torch.Tensor,
        dense: torch.Tensor,
        history: torch.Tensor | None = None,
        history_lengths: torch.Tensor | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Return the flat input ``(B, F * D + num_dense)`` (``+ D`` with history).

        ``dtype`` casts each part before they are joined (default: as computed).
        """
        parts = []
        if self.embedding is not None:
            parts.append(self.embedding(categorical, dtype).flatten(1))  # (B, F * D)
        if self.spec.num_dense:
            parts.append(dense)  # (B, num_dense)
        if self.history is not None:
            if history is None or history_lengths is None:
                rows = categorical.shape[0]
                channels = len(self.spec.sequence_vocab_sizes)
                history = categorical.new_zeros(rows, 1, channels)
                history_lengths = categorical.new_zeros(rows)
            parts.append(self.history(history, history_lengths))  # (B, D)
        if dtype is not None:
            parts = [part.to(dtype) for part in parts]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def from_batch(self, batch: Batch, fused: bool = False) -> torch.Tensor:
        """Return the flat input of a batch (its history included, if any).

        ``fused=True`` is for models whose layers read the input only through
        linear layers: where those run the fused bfloat16 inference path (see
        :func:`~mtlrec.layers.fused_dtype`), the input is built in
        bfloat16 directly, as autocast would cast it at each layer.
        """
        dtype = fused_dtype(batch.dense) if fused and not self.training else None
        return self(
            batch.categorical, batch.dense, batch.history, batch.history_lengths, dtype
        )
