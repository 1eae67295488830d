"""Tests of mtlrec.data batches and the batch iterator."""

from __future__ import annotations

import numpy as np
import torch

from mtlrec.data import Batch, EncodedData, iterate_batches


def encoded(num_rows=10):
    return EncodedData(
        categorical=torch.arange(num_rows * 3).view(num_rows, 3),
        dense=torch.arange(num_rows, dtype=torch.float32).view(num_rows, 1),
        labels=torch.arange(num_rows * 2, dtype=torch.float32).view(num_rows, 2),
        groups=np.arange(num_rows) % 3,
    )


def test_batch_to_moves_and_keeps_none():
    batch = Batch(torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 2))

    moved = batch.to("cpu")

    assert len(moved) == 4
    assert moved.labels is None and moved.weights is None
    assert moved.categorical.dtype == torch.long
    assert moved is not batch


def test_batch_slices_rows():
    data = encoded()

    batch = data.batch(2, 5)

    assert len(batch) == 3
    assert batch.categorical[:, 0].tolist() == [6, 9, 12]
    assert batch.labels[:, 1].tolist() == [5.0, 7.0, 9.0]


def test_take_keeps_rows_aligned():
    data = encoded()

    taken = data.take(torch.tensor([7, 1]))

    assert taken.dense[:, 0].tolist() == [7.0, 1.0]
    assert taken.categorical[:, 0].tolist() == [21, 3]
    assert taken.labels[:, 0].tolist() == [14.0, 2.0]
    assert taken.groups.tolist() == [1, 1]


def test_iterate_batches_in_order_with_short_last_batch():
    batches = list(iterate_batches(encoded(10), batch_size=4))

    assert [len(b) for b in batches] == [4, 4, 2]
    rows = torch.cat([b.dense[:, 0] for b in batches])
    assert rows.tolist() == list(range(10))


def test_shuffled_batches_cover_every_row_once_and_follow_the_seed():
    def order(seed):
        generator = torch.Generator().manual_seed(seed)
        batches = iterate_batches(encoded(10), 3, shuffle=True, generator=generator)
        return torch.cat([b.dense[:, 0] for b in batches]).tolist()

    assert sorted(order(0)) == list(range(10))
    assert order(0) == order(0)
    assert order(0) != order(1)


def test_shuffle_keeps_labels_with_their_rows():
    generator = torch.Generator().manual_seed(0)
    for batch in iterate_batches(encoded(10), 4, shuffle=True, generator=generator):
        row = batch.dense[:, 0]
        assert torch.equal(batch.labels[:, 0], 2 * row)
        assert torch.equal(batch.categorical[:, 0], 3 * row.long())
