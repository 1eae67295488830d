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
    """

    categorical: torch.Tensor
    dense: torch.Tensor
    labels: torch.Tensor | None = None
    weights: torch.Tensor | None = None

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
    """

    categorical: torch.Tensor
    dense: torch.Tensor
    labels: torch.Tensor | None = None
    groups: np.ndarray | None = None
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.categorical.shape[0])

    def batch(self, start: int, stop: int) -> Batch:
        """Return rows ``start:stop`` as a :class:`Batch` (views, no copies)."""
        labels = self.labels[start:stop] if self.labels is not None else None
        weights = self.weights[start:stop] if self.weights is not None else None
        return Batch(
            self.categorical[start:stop], self.dense[start:stop], labels, weights
        )

    def take(self, index: torch.Tensor) -> EncodedData:
        """Return the rows at ``index`` as new contiguous tensors."""
        return EncodedData(
            self.categorical.index_select(0, index),
            self.dense.index_select(0, index),
            self.labels.index_select(0, index) if self.labels is not None else None,
            self.groups[index.numpy()] if self.groups is not None else None,
            self.weights.index_select(0, index) if self.weights is not None else None,
        )


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
