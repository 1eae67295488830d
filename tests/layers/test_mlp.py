"""Tests of the MLP block."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtlrec.layers import MLP


def test_layers_and_output_dim():
    mlp = MLP(6, [8, 4], output_dim=1)

    kinds = [type(m) for m in mlp.net]

    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert mlp.output_dim == 1
    assert mlp(torch.randn(4, 6)).shape == (4, 1)


def test_hidden_output_is_relu():
    mlp = MLP(6, [8])

    out = mlp(torch.randn(4, 6))

    assert mlp.output_dim == 8
    assert (out >= 0).all()


def test_empty_hidden_units_is_identity():
    mlp = MLP(3, [])
    x = torch.randn(4, 3)

    torch.testing.assert_close(mlp(x), x)
    assert mlp.output_dim == 3


def test_matches_hand_computation():
    mlp = MLP(2, [2], output_dim=1)
    first, last = mlp.net[0], mlp.net[2]
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.5]]))
        first.bias.copy_(torch.tensor([0.0, -1.0]))
        last.weight.copy_(torch.tensor([[3.0, -2.0]]))
        last.bias.copy_(torch.tensor([0.5]))
    x = torch.tensor([[1.0, 2.0]])  # hidden: relu([-1, 2]) = [0, 2]

    assert mlp(x).item() == pytest.approx(3 * 0 - 2 * 2 + 0.5)


def test_dropout_layers_present_when_asked():
    mlp = MLP(4, [8, 8], dropout=0.2)

    assert sum(isinstance(m, nn.Dropout) for m in mlp.net) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_dim": 0, "hidden_units": [4]}, r"input_dim must be > 0, got 0"),
        ({"input_dim": 3, "hidden_units": [4, -1]}, r"hidden_units must all be > 0"),
        ({"input_dim": 3, "hidden_units": [4], "dropout": 1.0}, r"dropout must be"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)
