"""Tests of the fused bfloat16 inference path against the layers' autocast path."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from mtlrec.layers import (
    MLP,
    ExpertBank,
    FusedEmbedding,
    Gates,
    InputLayer,
    InputSpec,
    TaskTowers,
    _fused,
    fused_dtype,
    fused_linear,
    gather,
    reuse_casts,
)

pytestmark = pytest.mark.skipif(
    not _fused._available(), reason="this PyTorch build has no oneDNN bfloat16"
)
BF16 = torch.bfloat16


class CountCalls(TorchDispatchMode):
    """Counts the ATen operators called, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def autocast():
    return torch.autocast("cpu", dtype=BF16)


def run_both(layer: nn.Module, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The layer's bfloat16 inference output: fused, then through autocast alone.

    The second run records gradients, which turns the fused path off.
    """
    layer.eval()
    counter = CountCalls()
    with torch.no_grad(), autocast(), reuse_casts(), counter:
        fused = layer(*inputs)
    assert counter.calls["_linear_pointwise"] > 0, "the fused path was not taken"
    with autocast():
        plain = layer(*inputs).detach()
    return fused, plain


def assert_close(fused: torch.Tensor, plain: torch.Tensor, folded: bool) -> None:
    """Equal up to bfloat16 rounding; a folded batch norm rounds in other places.

    (The folding itself is checked in float32 by
    ``test_folded_batch_norm_equals_linear_then_norm``.)
    """
    if folded:
        torch.testing.assert_close(fused, plain, rtol=2e-2, atol=1e-2)
    else:
        torch.testing.assert_close(fused, plain)


def test_fused_linear_equals_linear_and_relu_under_autocast():
    torch.manual_seed(0)
    x, weight, bias = torch.randn(6, 5), torch.randn(4, 5), torch.randn(4)

    with torch.no_grad(), autocast():
        plain = nn.functional.linear(x, weight, bias)
        with_relu = fused_linear(x, weight, bias, relu=True)
        without = fused_linear(x, weight, bias)
        no_bias = fused_linear(x, weight, None)

    assert with_relu.dtype == BF16 and with_relu.shape == (6, 4)
    torch.testing.assert_close(with_relu, torch.relu(plain))
    torch.testing.assert_close(without, plain)
    with torch.no_grad(), autocast():
        torch.testing.assert_close(no_bias, nn.functional.linear(x, weight))
    assert (with_relu == 0).any() and (without < 0).any()  # the ReLU did act


def test_fused_dtype_only_without_gradients_in_bfloat16_on_cpu():
    x = torch.randn(2, 3)

    assert fused_dtype(x) is None  # gradients on, no autocast
    with autocast():
        assert fused_dtype(x) is None  # gradients still on
    with torch.no_grad():
        assert fused_dtype(x) is None  # float32
        assert fused_dtype(x.to(BF16)) == BF16
        with autocast():
            assert fused_dtype(x) == BF16
        with torch.autocast("cpu", dtype=torch.float16):
            assert fused_dtype(x) is None
    with torch.inference_mode(), autocast():
        assert fused_dtype(x) == BF16


def test_fused_dtype_is_none_without_onednn_bfloat16(monkeypatch):
    monkeypatch.setattr(_fused, "_available", lambda: False)

    with torch.no_grad(), autocast():
        assert fused_dtype(torch.randn(2, 3)) is None


def test_casts_are_made_once_inside_reuse_casts_and_per_call_outside():
    weight, other = torch.randn(3, 2), torch.randn(3, 2)

    with reuse_casts():
        first = _fused.cast(weight)
        assert _fused.cast(weight) is first
        derived = _fused.prepared("double", weight, lambda: 2 * weight)
        assert _fused.prepared("double", weight, lambda: 3 * weight) is derived
        assert not torch.equal(_fused.cast(other), first)
    assert _fused.cast(weight) is not _fused.cast(weight)
    torch.testing.assert_close(first, weight.to(BF16), rtol=0, atol=0)


def test_reuse_casts_does_not_see_changes_after_the_block():
    weight = torch.ones(2, 2)
    with reuse_casts():
        assert _fused.cast(weight).sum() == 4

    weight.mul_(2)

    with reuse_casts():
        assert _fused.cast(weight).sum() == 8


def test_gather_casts_rows_until_the_table_is_worth_casting():
    table = torch.randn(10, 3)
    few, many = torch.tensor([[1, 2]]), torch.arange(10).view(5, 2)
    counter = CountCalls()

    with reuse_casts(), counter:
        first = gather(table, few)
        second = gather(table, many)  # 2 + 10 rows read: the table is cast next
        third = gather(table, many)

    for ids, got in ((few, first), (many, second), (many, third)):
        expected = nn.functional.embedding(ids, table).to(BF16)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert counter.calls["_to_copy"] == 3  # two casts of rows, one of the table
    assert _fused.cast(table) is not _fused.cast(table)  # outside: nothing kept


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden_units": [6, 5]},
        {"hidden_units": [6], "output_dim": 1},
        {"hidden_units": [6, 5], "dropout": 0.5, "batch_norm": True},
    ],
    ids=["relu-stack", "with-output", "dropout-batch-norm"],
)
def test_mlp_fused_equals_autocast(kwargs):
    torch.manual_seed(0)
    mlp = MLP(7, **kwargs)
    if kwargs.get("batch_norm"):
        prime_norms(mlp, torch.randn(32, 7))

    fused, plain = run_both(mlp, torch.randn(9, 7))

    assert_close(fused, plain, folded=kwargs.get("batch_norm", False))


def prime_norms(layer: nn.Module, x: torch.Tensor) -> None:
    """Move the layer's running statistics away from (0, 1) with a few batches."""
    layer.train()
    for _ in range(5):
        layer(x * 3 + 1)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
@pytest.mark.parametrize("hidden_units", [[8], [8, 5]])
def test_expert_bank_fused_equals_autocast(hidden_units, batch_norm):
    torch.manual_seed(0)
    bank = ExpertBank(7, 3, hidden_units, batch_norm)
    if batch_norm:
        prime_norms(bank, torch.randn(32, 7))

    fused, plain = run_both(bank, torch.randn(9, 7))

    assert fused.shape == (9, 3, hidden_units[-1])
    assert_close(fused, plain, batch_norm)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
def test_banks_run_together_fused_equal_autocast(batch_norm):
    torch.manual_seed(0)
    banks = nn.ModuleList(ExpertBank(7, e, [8, 5], batch_norm) for e in (2, 1, 3))

    class Together(nn.Module):
        def forward(self, x):
            return ExpertBank.run_together(list(banks), x)

    together = Together()
    together.add_module("banks", banks)
    if batch_norm:
        prime_norms(together, torch.randn(32, 7))
    fused, plain = run_both(together, torch.randn(9, 7))

    assert fused.shape == (9, 6, 5)
    assert_close(fused, plain, batch_norm)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-input", "per-task"])
@pytest.mark.parametrize(
    ("width", "hidden_units"),
    [(16, [8]), (16, [8, 4]), (128, [128]), (16, [])],
    ids=["block-diagonal", "two-hidden", "tower-by-tower", "output-only"],
)
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
def test_task_towers_fused_equal_autocast(shared, width, hidden_units, batch_norm):
    torch.manual_seed(0)
    towers = TaskTowers(width, 3, hidden_units, batch_norm=batch_norm)
    if batch_norm:
        prime_norms(towers, torch.randn(32, 3, width))
    if shared:  # as Shared-Bottom passes it: one (B, H) expanded over tasks
        x = torch.randn(9, width).unsqueeze(1).expand(-1, 3, -1)
    else:
        x = torch.randn(9, 3, width)

    fused, plain = run_both(towers, x)

    assert fused.shape == (9, 3)
    assert_close(fused, plain, batch_norm)


@pytest.mark.parametrize("bias", [False, True])
def test_gates_fused_equal_autocast(bias):
    torch.manual_seed(0)
    gates = Gates(7, num_gates=2, num_experts=4, bias=bias)

    fused, plain = run_both(gates, torch.randn(9, 7))

    assert fused.shape == (9, 2, 4)
    torch.testing.assert_close(fused, plain)
    sums = fused.float().sum(-1)
    torch.testing.assert_close(sums, torch.ones(9, 2), atol=1e-2, rtol=0)


def test_input_layer_builds_bfloat16_input_equal_to_its_cast():
    torch.manual_seed(0)
    layer = InputLayer(InputSpec((5, 4), 8, 2)).eval()
    ids, dense = torch.tensor([[1, 3], [4, 0], [2, 2]]), torch.randn(3, 2)

    with torch.no_grad(), autocast(), reuse_casts():
        built = layer(ids, dense, dtype=BF16)
    exact = layer(ids, dense).detach()

    assert built.dtype == BF16 and built.shape == (3, 18)
    torch.testing.assert_close(built, exact.to(BF16), rtol=0, atol=0)


def test_folded_batch_norm_equals_linear_then_norm():
    torch.manual_seed(0)
    linear, norm = nn.Linear(5, 4), nn.BatchNorm1d(4)
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(4))
        norm.running_var.copy_(torch.rand(4) + 0.5)
        norm.weight.copy_(torch.randn(4))
        norm.bias.copy_(torch.randn(4))
    norm.eval()
    x = torch.randn(6, 5)

    scale, shift = _fused.norm_affine(norm)
    folded = nn.functional.linear(
        x, linear.weight * scale[:, None], linear.bias * scale + shift
    )

    torch.testing.assert_close(folded, norm(linear(x)), rtol=1e-6, atol=1e-6)
    assert _fused.foldable(norm) and not _fused.foldable(norm.train())


def test_batch_norm_in_training_mode_is_not_folded():
    torch.manual_seed(0)
    bank = ExpertBank(7, 3, [8], batch_norm=True)
    prime_norms(bank, torch.randn(32, 7))
    bank.eval()
    bank.norms[0].train()  # batch statistics: nothing to fold
    before = bank.norms[0].running_mean.clone()
    counter = CountCalls()

    with torch.no_grad(), autocast(), counter:
        bank(torch.randn(9, 7))

    assert counter.calls["_linear_pointwise"] == 0
    assert not torch.equal(bank.norms[0].running_mean, before)  # it did update


def test_embedding_dtype_keeps_gradients_when_they_are_recorded():
    table = FusedEmbedding((5, 4), 3)

    out = table(torch.tensor([[1, 2]]), dtype=BF16)

    assert out.dtype == BF16 and out.requires_grad
    out.float().sum().backward()
    assert table.table.weight.grad is not None
