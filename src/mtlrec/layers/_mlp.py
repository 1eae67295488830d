"""Multilayer perceptron block shared by bottoms, experts and towers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mtlrec.layers._fused import fused_dtype, fused_linear

__all__ = ["MLP"]


class MLP(nn.Module):
    """Stack of ``Linear (-> BatchNorm) -> ReLU (-> Dropout)`` layers.

    Args:
        input_dim: Width of the input.
        hidden_units: Width of each layer, in order; empty means identity.
        dropout: Dropout probability after each activation (default 0).
        output_dim: If given, a final plain ``Linear`` to this width with no
            activation (used for tower logits).
        batch_norm: Put ``BatchNorm1d`` between each hidden ``Linear`` and its
            ReLU (default False).

    Shapes:
        ``(B, input_dim) -> (B, hidden_units[-1])`` or ``(B, output_dim)``.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float = 0.0,
        output_dim: int | None = None,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if input_dim <= 0:
            raise ValueError(f"input_dim must be > 0, got {input_dim!r}")
        if any(u <= 0 for u in hidden_units):
            raise ValueError(
                f"hidden_units must all be > 0, got {list(hidden_units)!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        width = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
            width = output_dim
        self.net = nn.Sequential(*layers)
        self.output_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layers to ``x`` of shape ``(B, input_dim)``."""
        if self.training or fused_dtype(x) is None:
            return self.net(x)
        # bfloat16 inference: each Linear with the ReLU right after it in one
        # call; other layers (batch norm, dropout in eval) as they are.
        layers = list(self.net)
        i = 0
        while i < len(layers):
            layer = layers[i]
            if isinstance(layer, nn.Linear):
                relu = i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
                x = fused_linear(x, layer.weight, layer.bias, relu)
                i += 2 if relu else 1
            else:
                x = layer(x)
                i += 1
        return x
