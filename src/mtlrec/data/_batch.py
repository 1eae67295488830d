"""The Batch dataclass and the loader that slices encoded arrays into batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

__all__ = ["Batch", "EncodedData", "iterate_batches"]


@dataclass
class Batch:
    """One mini-batch of encoded inputs and labels.

    Attributes:
        categorical: Per-field ids, ``(B, F)`` int64; 0 is out-of-vocabulary.
        dense: Scaled numeric columns (and missing flags), ``(B, num_dense)``.
        labels: Task labels in the run's task order, ``(B, K)`` float32, or
            None at prediction time.
        weights: Optional sample weights: ``(B, K)`` per task (as encoded
            from ``weight_column`` settings) or ``(B,)`` for every task.
        domains: Domain index of each row, ``(B,)`` int64, when the data
            names a domain column.
        context: Ids of training-only context fields (position, device),
            ``(B, P)`` int64; 0 where unknown or absent at prediction.
        history: Ids of each row's earlier events, ``(B, L, C)`` int64 with
            one channel per event column; rows past ``history_lengths`` are 0.
        history_lengths: Number of events in each history, ``(B,)`` int64
            (0 is a valid, empty history).
    """

    categorical: torch.Tensor
    dense: torch.Tensor
    labels: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    domains: torch.Tensor | None = None
    context: torch.Tensor | None = None
    history: torch.Tensor | None = None
    history_lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.categorical.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """Return a copy with every tensor moved to ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=True)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return replace(self, **moved)


@dataclass
class EncodedData:
    """A whole split encoded once into contiguous tensors.

    Batches are slices of these tensors: no per-row Python at training time.

    Attributes:
        categorical: ``(N, F)`` int64 ids.
        dense: ``(N, num_dense)`` float32.
        labels: ``(N, K)`` float32, or None when the data carries no labels.
        groups: Optional ``(N,)`` group keys for group AUC (NumPy, any dtype).
        weights: Optional ``(N, K)`` float32 per-task sample weights.
        domains: Optional ``(N,)`` int64 domain indices.
        context: Optional ``(N, P)`` int64 training-only context ids.
        history: Optional ``(N, L, C)`` int64 history ids.
        history_lengths: Optional ``(N,)`` int64 history lengths.
    """

    categorical: torch.Tensor
    dense: torch.Tensor
    labels: torch.Tensor | None = None
    groups: np.ndarray | None = None
    weights: torch.Tensor | None = None
    domains: torch.Tensor | None = None
    context: torch.Tensor | None = None
    history: torch.Tensor | None = None
    history_lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.categorical.shape[0])

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }

    def batch(self, start: int, stop: int) -> Batch:
        """Return rows ``start:stop`` as a :class:`Batch` (views, no copies)."""
        return Batch(**{k: v[start:stop] for k, v in self._tensors().items()})

    def take(self, index: torch.Tensor) -> EncodedData:
        """Return the rows at ``index`` as new contiguous tensors."""
        taken = {k: v.index_select(0, index) for k, v in self._tensors().items()}
        groups = self.groups[index.numpy()] if self.groups is not None else None
        return EncodedData(groups=groups, **taken)


def iterate_batches(
    data: EncodedData,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """Yield consecutive batches of ``data``.

    With ``shuffle``, the rows are permuted once per call (one gather of each
    array), then sliced; the last batch may be smaller.

    Args:
        data: The encoded split.
        batch_size: Rows per batch.
        shuffle: Permute the rows first (default False).
        generator: Random generator for the permutation.
    """
    if shuffle:
        data = data.take(torch.randperm(len(data), generator=generator))
    for start in range(0, len(data), batch_size):
        yield data.batch(start, min(start + batch_size, len(data)))
