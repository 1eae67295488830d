"""Multilayer perceptron block shared by bottoms, experts and towers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mtlrec.layers._fused import (
    foldable,
    fused_dtype,
    fused_linear,
    norm_affine,
    prepared,
)

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
        norms = all(foldable(m) for m in self.net if isinstance(m, nn.BatchNorm1d))
        first = next(self.parameters(), None)  # None: the identity
        if self.training or not norms or first is None or fused_dtype(x) is None:
            return self.net(x)
        layers = prepared("layers", first, self._inference_layers)
        for weight, bias, relu in layers:
            x = fused_linear(x, weight, bias, relu)
        return x

    def _inference_layers(self) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
        """Each ``Linear`` as a bfloat16 weight and bias, and whether a ReLU follows.

        For bfloat16 inference: a batch norm after a ``Linear`` is folded
        into it, and dropout (the identity in eval mode) is left out.
        """
        layers = []
        modules = list(self.net)
        for i, module in enumerate(modules):
            if not isinstance(module, nn.Linear):
                continue
            weight: torch.Tensor = module.weight
            bias: torch.Tensor = module.bias
            after = modules[i + 1 : i + 3]
            if after and isinstance(after[0], nn.BatchNorm1d):
                scale, shift = norm_affine(after.pop(0))
                weight = weight * scale.unsqueeze(1)
                bias = bias * scale + shift
            relu = bool(after) and isinstance(after[0], nn.ReLU)
            bf16 = torch.bfloat16
            layers.append((weight.to(bf16), bias.to(bf16), relu))
        return layers
