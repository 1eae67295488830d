"""Banks of identical expert MLPs evaluated as one batched product, and gates."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from mtlrec.layers._fused import (
    foldable,
    fused_dtype,
    fused_linear,
    norm_affine,
    prepared,
)

__all__ = ["ExpertBank", "Gates", "TaskTowers", "gate_softmax", "mix"]


class ExpertBank(nn.Module):
    """``E`` identical ReLU MLPs over the same input, run as batched products.

    The first layer of all experts is one ``(E * H, in)`` matrix product; each
    later layer is one batched ``(E, H', H) x (E, H, B)`` product. This equals
    running ``E`` separate ``nn.Sequential(Linear, ReLU, ...)`` experts; layer
    ``l``'s ``weights[l][e]`` and ``biases[l][e]`` are expert ``e``'s
    ``Linear.weight`` ``(out, in)`` and ``Linear.bias`` ``(out,)``.

    Args:
        input_dim: Width of the shared input.
        num_experts: Number of experts ``E``.
        hidden_units: Layer widths of each expert (the last is ``H``).
        batch_norm: Normalise each layer's pre-activations over the batch,
            per expert and unit (``BatchNorm1d`` before every ReLU; default
            False).

    Shapes:
        ``(B, input_dim) -> (B, E, H)``.
    """

    def __init__(
        self,
        input_dim: int,
        num_experts: int,
        hidden_units: Sequence[int],
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if num_experts <= 0:
            raise ValueError(f"num_experts must be > 0, got {num_experts!r}")
        if not hidden_units or any(u <= 0 for u in hidden_units):
            raise ValueError(
                f"expert hidden_units must be a non-empty list of widths > 0, "
                f"got {list(hidden_units)!r}"
            )
        self.num_experts = num_experts
        self.hidden_units = tuple(hidden_units)
        widths = [input_dim, *hidden_units]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            self.weights.append(nn.Parameter(torch.empty(num_experts, fan_out, fan_in)))
            self.biases.append(nn.Parameter(torch.empty(num_experts, fan_out)))
        self.norms = (
            nn.ModuleList(nn.BatchNorm1d(num_experts * u) for u in hidden_units)
            if batch_norm
            else None
        )
        self.reset_parameters()
        self.output_dim = widths[-1]

    def reset_parameters(self) -> None:
        """Initialise like ``nn.Linear``: uniform in ``±1/sqrt(fan_in)``."""
        for weight, bias in zip(self.weights, self.biases, strict=True):
            bound = 1.0 / math.sqrt(weight.shape[2])
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every expert on ``x (B, input_dim)``; return ``(B, E, H)``."""
        if _fused(self, x):
            return _run_experts_fused([self], x)
        norms = None if self.norms is None else list(self.norms)
        return _run_experts(list(self.weights), list(self.biases), x, norms)

    @staticmethod
    def run_together(banks: Sequence[ExpertBank], x: torch.Tensor) -> torch.Tensor:
        """Run banks of equal layer widths on the same ``x`` as one bank.

        Returns ``(B, sum E, H)``: the banks' outputs concatenated along the
        expert axis, in order, from one product per layer. With batch
        normalisation in every bank, each layer's norms are applied as one
        over the concatenated channels, and each bank's running statistics
        move as they would in its own forward; banks where only some
        normalise are run one by one.
        """
        if len(banks) == 1:
            return banks[0](x)
        if all(_fused(bank, x) for bank in banks):
            return _run_experts_fused(banks, x)
        with_norms = [bank.norms is not None for bank in banks]
        if any(with_norms) and not all(with_norms):
            return torch.cat([bank(x) for bank in banks], dim=1)
        layers = zip(
            *(zip(b.weights, b.biases, strict=True) for b in banks), strict=True
        )
        weights, biases = [], []
        for layer in layers:
            weights.append(torch.cat([weight for weight, _ in layer]))
            biases.append(torch.cat([bias for _, bias in layer]))
        norms = None
        if all(with_norms):
            per_layer = zip(*(bank.norms for bank in banks), strict=True)
            norms = [_JointNorm(layer_norms) for layer_norms in per_layer]
        return _run_experts(weights, biases, x, norms)


def _fused(bank: ExpertBank, x: torch.Tensor) -> bool:
    """Whether ``bank`` runs on ``x`` through the fused bfloat16 inference path."""
    norms = bank.norms is None or all(foldable(norm) for norm in bank.norms)
    return norms and not bank.training and fused_dtype(x) is not None


def _run_experts_fused(banks: Sequence[ExpertBank], x: torch.Tensor) -> torch.Tensor:
    """bfloat16 inference of the banks' experts, expert by expert: ``(B, sum E, H)``.

    Each layer of each expert is one fused linear and ReLU (see
    :func:`~mtlrec.layers.fused_linear`), which in inference beats the
    batched products with their separate bias and ReLU passes.
    """
    outputs = []
    for bank in banks:
        layers = prepared("layers", bank.weights[0], partial(_bank_layers, bank))
        for e in range(bank.num_experts):
            hidden = x
            for weight, bias in layers:  # E x (out, in), E x (out,)
                hidden = fused_linear(hidden, weight[e], bias[e], relu=True)  # (B, out)
            outputs.append(hidden)
    return torch.stack(outputs, dim=1)  # (B, sum E, H)


def _bank_layers(
    bank: ExpertBank,
) -> list[tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]]:
    """Each layer's bfloat16 weights and biases, expert by expert, norms folded in."""
    layers = []
    for i, (weight, bias) in enumerate(zip(bank.weights, bank.biases, strict=True)):
        if bank.norms is not None:  # channels (e, unit)
            scale, shift = norm_affine(bank.norms[i])
            scale = scale.view_as(bias)  # (E, out)
            weight = weight * scale.unsqueeze(-1)
            bias = bias * scale + shift.view_as(bias)
        bf16 = torch.bfloat16
        layers.append((weight.to(bf16).unbind(0), bias.to(bf16).unbind(0)))
    return layers


class _JointNorm:
    """One layer's ``BatchNorm1d`` of several banks, applied over their joined channels.

    Equals applying each bank's norm to its own channels: batch statistics
    are per channel, so one ``batch_norm`` call over the concatenated
    channels computes the same values. In training, every norm's running
    statistics and batch count are updated as its own forward would.
    """

    def __init__(self, norms: Sequence[nn.Module]) -> None:
        self.norms: list[nn.BatchNorm1d] = list(norms)  # type: ignore[arg-type]
        self.sizes = [norm.num_features for norm in self.norms]

    def _buffers(self, name: str) -> list[torch.Tensor]:
        found = [getattr(norm, name) for norm in self.norms]
        assert all(isinstance(b, torch.Tensor) for b in found)  # tracking is on
        return found

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        first = self.norms[0]
        momentum = first.momentum
        if first.training:
            counts = self._buffers("num_batches_tracked")
            for count in counts:
                count.add_(1)
            if momentum is None:  # cumulative average, as BatchNorm1d does
                momentum = 1.0 / float(counts[0])
        means, variances = self._buffers("running_mean"), self._buffers("running_var")
        running_mean, running_var = torch.cat(means), torch.cat(variances)
        out = nn.functional.batch_norm(
            x,
            running_mean,
            running_var,
            torch.cat([norm.weight for norm in self.norms]),
            torch.cat([norm.bias for norm in self.norms]),
            first.training,
            momentum or 0.0,
            first.eps,
        )
        if first.training:  # hand each norm its part of the updated statistics
            with torch.no_grad():
                for own, joint in ((means, running_mean), (variances, running_var)):
                    for mine, part in zip(own, joint.split(self.sizes), strict=True):
                        mine.copy_(part)
        return out


def _run_experts(
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    x: torch.Tensor,
    norms: Sequence[Callable[[torch.Tensor], torch.Tensor]] | None = None,
) -> torch.Tensor:
    """``(B, in) -> (B, E, H)`` through layers ``(E, out, in)`` / ``(E, out)``.

    ``norms``, one ``BatchNorm1d(E * out)`` per layer, normalise the
    pre-activations; the transposed ``(E * H', B)`` layout is read by them as
    ``(1, channels, B)``, without a copy.

    Hidden layers are computed transposed, ``(E, H', B)``, so that every
    product reads and writes whole contiguous matrices and no activation is
    copied between layers; only the last layer's output is laid out as
    ``(B, E, H)``. Biases are added inside the products (``addmm``,
    ``baddbmm``), which also keeps bfloat16 autocast in bfloat16. The weights'
    ``(out, in)`` layout lets the first layer read all experts as one
    contiguous ``(E * H1, in)`` matrix, and its gradient arrive in place.
    """
    num_rows, num_experts = x.shape[0], weights[0].shape[0]  # B, E
    fused_w = weights[0].flatten(0, 1)  # (E * H1, in), a view
    if len(weights) == 1:
        hidden = torch.addmm(biases[0].flatten(), x, fused_w.t())  # (B, E * H1)
        if norms is not None:
            hidden = norms[0](hidden)
        return torch.relu(hidden).view(num_rows, num_experts, -1)  # (B, E, H)
    hidden = torch.addmm(biases[0].view(-1, 1), fused_w, x.t())  # (E * H1, B)
    if norms is not None:
        hidden = norms[0](hidden.unsqueeze(0)).squeeze(0)
    hidden = torch.relu(hidden).view(num_experts, -1, num_rows)  # (E, H1, B)
    for i, (weight, bias) in enumerate(zip(weights[1:-1], biases[1:-1], strict=True)):
        hidden = torch.baddbmm(bias.unsqueeze(-1), weight, hidden)
        if norms is not None:  # (E, H', B) read as (1, E * H', B)
            hidden = norms[i + 1](hidden.view(1, -1, num_rows)).view_as(hidden)
        hidden = torch.relu(hidden)  # (E, H', B)
    last = _LastLayer.apply(hidden, weights[-1], biases[-1])  # (B, E, H')
    if norms is not None:
        last = norms[-1](last.view(num_rows, -1)).view_as(last)
    return torch.relu(last)


class _LastLayer(torch.autograd.Function):
    """``bias + hidden^T @ weight^T`` for ``hidden (E, H, B)``, laid out ``(B, E, H')``.

    ``weight`` is ``(E, H', H)`` and ``bias`` ``(E, H')``. Equals
    ``torch.baddbmm(bias.unsqueeze(1), hidden.transpose(1, 2),
    weight.transpose(1, 2))`` followed by ``.transpose(0, 1).contiguous()``.
    Autograd's own backward of that pair hands the products a transposed view
    of the ``(B, E, H')`` gradient, which they copy in a full transposition,
    and returns the gradient of ``hidden`` as ``(E, B, H)`` to be copied into
    the ``(E, H, B)`` layout. This backward copies the gradient once, block by
    block, to ``(E, B, H')`` and computes the gradient of ``hidden`` in its
    own layout, as ``weight^T @ grad^T``.
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
    ) -> torch.Tensor:
        # The product runs in autocast's dtype where autocast is on, as a
        # plain baddbmm would. The small weight is cast, then transposed to
        # the contiguous (E, H, H') operand the product runs fastest on (one
        # copy doing both is slower). The product writes straight into the
        # (B, E, H') result through a transposed view; autocast does not cast
        # the operands of an out= product, hence the explicit casts.
        device = hidden.device.type
        autocast = torch.is_autocast_enabled(device)
        dtype = torch.get_autocast_dtype(device) if autocast else hidden.dtype
        hidden = hidden.to(dtype)
        weight_t = weight.to(dtype).transpose(1, 2).contiguous()  # (E, H, H')
        ctx.save_for_backward(hidden, weight_t)
        num_experts, _, num_rows = hidden.shape
        out = hidden.new_empty(num_rows, num_experts, weight.shape[1])
        torch.baddbmm(
            bias.to(dtype).unsqueeze(1),
            hidden.transpose(1, 2),
            weight_t,
            out=out.transpose(0, 1),
        )
        return out  # (B, E, H')

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # hidden and weight_t were saved in the forward's compute dtype, which
        # is grad's; autograd casts the weight and bias gradients back to
        # their parameters' dtype.
        hidden, weight_t = ctx.saved_tensors  # type: ignore[attr-defined]
        grad = grad.transpose(0, 1).contiguous()  # (E, B, H')
        grad_hidden = torch.bmm(weight_t, grad.transpose(1, 2))  # (E, H, B)
        grad_weight = torch.bmm(hidden, grad).transpose(1, 2)  # (E, H', H), a view
        return grad_hidden, grad_weight, grad.sum(1)


class Gates(nn.Module):
    """``K`` softmax gates over ``E`` experts, computed in one product.

    Each gate is ``softmax(W_k x)`` (MMoE Eq. 5). The gates are stacked in one
    ``Linear(input_dim, K * E)``.

    Args:
        input_dim: Width of the gate input (the selector).
        num_gates: Number of gates ``K``.
        num_experts: Number of experts ``E`` each gate weighs.
        bias: Add a bias to the gate logits (MMoE's equation has none).

    Shapes:
        ``(B, input_dim) -> (B, K, E)``, each row summing to 1.
    """

    def __init__(
        self, input_dim: int, num_gates: int, num_experts: int, bias: bool = False
    ) -> None:
        super().__init__()
        self.num_gates = num_gates
        self.num_experts = num_experts
        self.linear = nn.Linear(input_dim, num_gates * num_experts, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return gate weights ``(B, K, E)``."""
        if fused_dtype(x) is not None:
            logits = fused_linear(x, self.linear.weight, self.linear.bias)  # (B, K * E)
        else:
            logits = self.linear(x)  # (B, K * E)
        logits = logits.view(-1, self.num_gates, self.num_experts)  # (B, K, E)
        return gate_softmax(logits)


def gate_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis of gate logits ``(B, K, E)``; returns ``(B, K, E)``.

    Gates have few experts, and PyTorch's softmax over a short innermost
    axis runs several times slower than over an outer one. The logits are
    laid out as ``(K, E, B)``, the softmax taken over ``E`` there, and the
    result returned as a ``(B, K, E)`` view of it.
    """
    by_batch = logits.permute(1, 2, 0).contiguous()  # (K, E, B)
    return torch.softmax(by_batch, dim=1).permute(2, 0, 1)  # (B, K, E)


def mix(gates: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Weighted sums of expert outputs: ``(B, K, E) x (B, E, H) -> (B, K, H)``."""
    return torch.bmm(gates, experts)


class TaskTowers(nn.Module):
    """``K`` per-task ReLU MLPs ending in one output each, run as batched products.

    Equivalent to ``K`` separate ``MLP(input_dim, hidden_units, output_dim=1)``
    towers, each reading its own task's input.

    Args:
        input_dim: Width ``H`` of each task's input.
        num_tasks: Number of towers ``K``.
        hidden_units: Hidden widths of each tower (may be empty).
        dropout: Dropout probability after each hidden activation.
        batch_norm: ``BatchNorm1d`` over the batch, per task and unit, before
            each hidden ReLU (default False).

    Shapes:
        ``(B, K, H) -> (B, K)``.
    """

    def __init__(
        self,
        input_dim: int,
        num_tasks: int,
        hidden_units: Sequence[int],
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        widths = [input_dim, *hidden_units, 1]
        self.norms = (
            nn.ModuleList(nn.BatchNorm1d(num_tasks * u) for u in hidden_units)
            if batch_norm
            else None
        )
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            weight = torch.empty(num_tasks, fan_in, fan_out).uniform_(-bound, bound)
            bias = torch.empty(num_tasks, 1, fan_out).uniform_(-bound, bound)
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(bias))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map per-task inputs ``(B, K, H)`` to per-task outputs ``(B, K)``."""
        norms = self.norms is None or all(foldable(norm) for norm in self.norms)
        if norms and not self.training and fused_dtype(x) is not None:
            return self._forward_fused(x)
        hidden = x.transpose(0, 1)  # (K, B, H)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            hidden = torch.baddbmm(bias, hidden, weight)  # (K, B, H')
            if i < last:
                if self.norms is not None:  # channels (k, h), batch B
                    rows = hidden.transpose(0, 1).reshape(hidden.shape[1], -1)
                    rows = self.norms[i](rows)  # (B, K * H')
                    hidden = rows.view(-1, *hidden.shape[::2]).transpose(0, 1)
                hidden = self.dropout(torch.relu(hidden))
        return hidden.squeeze(-1).transpose(0, 1)  # (B, K)

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        """bfloat16 inference with every layer of all towers in one fused call.

        The towers' hidden layers stay side by side, ``(B, K * H')``. A
        shared input (``x`` expanded from one ``(B, H)``, as Shared-Bottom's)
        meets all first layers as one stacked weight; otherwise each layer is
        one product with a block-diagonal weight, which costs ``K`` times the
        arithmetic and so is used only for small layers (always for the
        ``H' -> 1`` outputs); larger ones run tower by tower. Batch
        normalisation is folded into the weights.
        """
        num_tasks = x.shape[1]  # K
        layers = prepared("layers", self.weights[0], self._inference_layers)
        last = len(layers) - 1
        start = 0
        hidden = x.flatten(1)  # (B, K * H)
        if x.stride(1) == 0:  # the same (B, H) for every task
            weight, bias = layers[0]  # (K, H, H'), (K, 1, H')
            stacked = prepared("stacked", weight, partial(_stacked, weight))
            hidden = fused_linear(x[:, 0], stacked, bias.flatten(), last > 0)
            start = 1
        for i, (weight, bias) in enumerate(layers[start:], start=start):
            relu = i < last
            if num_tasks * weight.shape[1] * weight.shape[2] <= _BLOCK_DIAGONAL_MAX:
                block = prepared("block", weight, partial(_block_diagonal, weight))
                hidden = fused_linear(hidden, block, bias.flatten(), relu)
                continue
            parts = hidden.chunk(num_tasks, dim=1)  # K x (B, in)
            outputs = [
                fused_linear(part, weight[k].t(), bias[k, 0], relu)
                for k, part in enumerate(parts)
            ]
            hidden = torch.cat(outputs, dim=1)  # (B, K * out)
        return hidden  # (B, K)

    def _inference_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's bfloat16 ``(K, in, out)`` weight and ``(K, 1, out)`` bias.

        Batch normalisation (channels ``(k, unit)``) is folded in.
        """
        layers = []
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if self.norms is not None and i < len(self.norms):
                scale, shift = norm_affine(self.norms[i])
                scale = scale.view_as(bias)  # (K, 1, out)
                weight = weight * scale
                bias = bias * scale + shift.view_as(bias)
            layers.append((weight.to(torch.bfloat16), bias.to(torch.bfloat16)))
        return layers


# Largest K * in * out of a tower layer run as one block-diagonal product in
# bfloat16 inference; K products of the benchmark towers' 128 -> 64 layers
# (K * in * out = 24,576) took twice as long as one block-diagonal product.
_BLOCK_DIAGONAL_MAX = 32_768


def _stacked(weight: torch.Tensor) -> torch.Tensor:
    """``(K, in, out)`` tower weights as one ``(K * out, in)`` weight."""
    return weight.transpose(1, 2).reshape(-1, weight.shape[1])


def _block_diagonal(weight: torch.Tensor) -> torch.Tensor:
    """``(K, in, out)`` tower weights as one block-diagonal ``(K * out, K * in)``."""
    return torch.block_diag(*weight.transpose(1, 2))
