"""Tests of the fused embedding and the input layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtlrec.layers import FusedEmbedding, InputLayer, InputSpec


def test_fused_embedding_equals_per_field_lookups():
    torch.manual_seed(0)
    vocab_sizes = (3, 5, 2)
    fused = FusedEmbedding(vocab_sizes, embedding_dim=8)
    starts = [0, 3, 8]
    separate = []
    for start, size in zip(starts, vocab_sizes, strict=True):
        table = nn.Embedding(size, 8)
        with torch.no_grad():
            table.weight.copy_(fused.table.weight[start : start + size])
        separate.append(table)
    ids = torch.tensor([[0, 4, 1], [2, 0, 0], [1, 3, 1], [0, 1, 0]])  # (B=4, F=3)

    out = fused(ids)

    assert out.shape == (4, 3, 8)
    for f, table in enumerate(separate):
        torch.testing.assert_close(out[:, f], table(ids[:, f]))


def test_fused_embedding_fields_do_not_share_rows():
    fused = FusedEmbedding((2, 2), embedding_dim=4)

    out = fused(torch.tensor([[1, 1]]))

    assert fused.table.num_embeddings == 4
    assert not torch.equal(out[0, 0], out[0, 1])


def test_fused_embedding_rejects_empty_fields():
    with pytest.raises(ValueError, match=r"vocab_sizes must all be > 0, got \(3, 0\)"):
        FusedEmbedding((3, 0), 4)


def test_fused_embedding_offsets_are_not_saved():
    assert "offsets" not in FusedEmbedding((2, 3), 4).state_dict()


@pytest.mark.parametrize(
    ("vocab_sizes", "num_dense", "width"),
    [((4, 5, 6), 2, 3 * 8 + 2), ((4, 5, 6), 0, 24), ((), 3, 3)],
)
def test_input_layer_shapes(vocab_sizes, num_dense, width):
    spec = InputSpec(vocab_sizes, embedding_dim=8, num_dense=num_dense)
    layer = InputLayer(spec)
    ids = torch.zeros(4, len(vocab_sizes), dtype=torch.long)
    dense = torch.randn(4, num_dense)

    out = layer(ids, dense)

    assert spec.num_fields == len(vocab_sizes)
    assert spec.flat_dim == width == layer.output_dim
    assert out.shape == (4, width)


def test_input_layer_concatenates_embeddings_then_dense():
    spec = InputSpec((3, 3), embedding_dim=2, num_dense=1)
    layer = InputLayer(spec)
    ids = torch.tensor([[1, 2]])
    dense = torch.tensor([[7.0]])

    out = layer(ids, dense)

    table = layer.embedding.table.weight
    expected = torch.cat([table[1], table[3 + 2], dense[0]])
    torch.testing.assert_close(out[0], expected)
