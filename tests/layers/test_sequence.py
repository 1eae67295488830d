"""History pooling: hand-computed mean, sum and attention; empty histories."""

from __future__ import annotations

import pytest
import torch

from mtlrec.layers import SequencePooling


def _pooling(kind: str) -> SequencePooling:
    layer = SequencePooling((4, 3), 2, kind)
    with torch.no_grad():
        table = layer.embed.embedding.table.weight
        table.zero_()
        table[1] = torch.tensor([1.0, 0.0])  # channel 0, id 1
        table[2] = torch.tensor([0.0, 2.0])  # channel 0, id 2
        table[4 + 1] = torch.tensor([1.0, 1.0])  # channel 1, id 1
    return layer


IDS = torch.tensor([[[1, 1], [2, 0], [3, 0]], [[0, 0], [0, 0], [0, 0]]])
LENGTHS = torch.tensor([2, 0])


def test_mean_and_sum_over_valid_events() -> None:
    # Event 1: [1, 0] + [1, 1] = [2, 1]; event 2: [0, 2]; event 3 is padding.
    assert _pooling("sum")(IDS, LENGTHS).tolist() == [[2.0, 3.0], [0.0, 0.0]]
    assert _pooling("mean")(IDS, LENGTHS).tolist() == [[1.0, 1.5], [0.0, 0.0]]


def test_attention_weights_valid_events_only() -> None:
    layer = _pooling("attention")
    with torch.no_grad():
        layer.key.weight.copy_(torch.eye(2))
        layer.query.copy_(torch.tensor([1.0, 0.0]))
    out = layer(IDS, LENGTHS)
    # Scores q . e / sqrt(2): 2 / sqrt(2) and 0.
    w = torch.softmax(torch.tensor([2.0, 0.0]) / 2**0.5, dim=0)
    expected = w[0] * torch.tensor([2.0, 1.0]) + w[1] * torch.tensor([0.0, 2.0])
    assert out[0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert out[1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("kind", ["mean", "sum", "attention"])
def test_empty_history_gives_finite_gradients(kind: str) -> None:
    layer = SequencePooling((4,), 2, kind)
    out = layer(
        torch.zeros(3, 2, 1, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    )
    out.sum().backward()
    assert all(
        torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None
    )


def test_rejects_unknown_pooling() -> None:
    with pytest.raises(ValueError, match="pooling must be"):
        SequencePooling((4,), 2, "max")
