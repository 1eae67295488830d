"""Tests of ExpertBank, Gates, mix and TaskTowers against plain modules."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mtlrec.layers import MLP, ExpertBank, Gates, TaskTowers, mix
from mtlrec.layers._experts import _LastLayer, _run_experts


def reference_experts(bank: ExpertBank) -> list[nn.Sequential]:
    """E separate Linear+ReLU stacks holding the bank's weights."""
    experts = []
    for e in range(bank.num_experts):
        layers: list[nn.Module] = []
        for weight, bias in zip(bank.weights, bank.biases, strict=True):
            linear = nn.Linear(weight.shape[2], weight.shape[1])
            with torch.no_grad():
                linear.weight.copy_(weight[e])
                linear.bias.copy_(bias[e])
            layers += [linear, nn.ReLU()]
        experts.append(nn.Sequential(*layers))
    return experts


@pytest.mark.parametrize("hidden_units", [[8], [8, 5], [6, 4, 3]])
def test_expert_bank_equals_independent_mlps(hidden_units):
    torch.manual_seed(0)
    bank = ExpertBank(input_dim=7, num_experts=3, hidden_units=hidden_units)
    x = torch.randn(4, 7)

    out = bank(x)

    assert out.shape == (4, 3, hidden_units[-1])
    for e, expert in enumerate(reference_experts(bank)):
        torch.testing.assert_close(out[:, e], expert(x))


@pytest.mark.parametrize("hidden_units", [[8], [8, 5], [6, 4, 3]])
def test_expert_bank_gradients_equal_independent_mlps(hidden_units):
    torch.manual_seed(0)
    bank = ExpertBank(input_dim=7, num_experts=3, hidden_units=hidden_units)
    experts = reference_experts(bank)
    x = torch.randn(5, 7, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    upstream = torch.randn(5, 3, hidden_units[-1])

    (bank(x) * upstream).sum().backward()
    sum(
        (expert(x_ref) * upstream[:, e]).sum() for e, expert in enumerate(experts)
    ).backward()

    torch.testing.assert_close(x.grad, x_ref.grad)
    for layer, (weight, bias) in enumerate(zip(bank.weights, bank.biases, strict=True)):
        for e, expert in enumerate(experts):
            linear = expert[2 * layer]
            torch.testing.assert_close(weight.grad[e], linear.weight.grad)
            torch.testing.assert_close(bias.grad[e], linear.bias.grad)


@pytest.mark.parametrize("hidden_units", [[8], [8, 5]])
def test_run_together_equals_each_bank_concatenated(hidden_units):
    torch.manual_seed(0)
    banks = [ExpertBank(7, n, hidden_units) for n in (2, 1, 3)]
    x = torch.randn(4, 7)

    out = ExpertBank.run_together(banks, x)

    torch.testing.assert_close(out, torch.cat([bank(x) for bank in banks], dim=1))
    assert ExpertBank.run_together(banks[:1], x).equal(banks[0](x))


def test_expert_bank_stays_bfloat16_under_autocast():
    torch.manual_seed(0)
    bank = ExpertBank(input_dim=16, num_experts=4, hidden_units=[32, 8])
    x = torch.randn(64, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bank(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), bank(x), rtol=0.05, atol=0.05)


def reference_normed_experts(bank: ExpertBank) -> list[nn.Sequential]:
    """Per-expert Linear+BatchNorm+ReLU stacks sharing the bank's parameters."""
    assert bank.norms is not None
    experts = []
    for e, plain in enumerate(reference_experts(bank)):
        layers: list[nn.Module] = []
        for layer, norm in enumerate(bank.norms):
            width = bank.weights[layer].shape[1]
            own = nn.BatchNorm1d(width)
            with torch.no_grad():
                own.weight.copy_(norm.weight[e * width : (e + 1) * width])
                own.bias.copy_(norm.bias[e * width : (e + 1) * width])
            layers += [plain[2 * layer], own, nn.ReLU()]
        experts.append(nn.Sequential(*layers))
    return experts


@pytest.mark.parametrize("hidden_units", [[8], [8, 5], [6, 4, 3]])
def test_expert_bank_batch_norm_equals_normed_mlps(hidden_units):
    torch.manual_seed(0)
    bank = ExpertBank(7, 3, hidden_units, batch_norm=True)
    assert bank.norms is not None
    with torch.no_grad():
        for norm in bank.norms:  # not the identity, so that a mix-up shows
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    experts = reference_normed_experts(bank)
    x = torch.randn(16, 7)

    out = bank(x)  # training mode: batch statistics
    for e, expert in enumerate(experts):
        torch.testing.assert_close(out[:, e], expert(x))
    # The running statistics moved the same way: eval mode agrees too.
    bank.eval()
    for expert in experts:
        expert.eval()
    out = bank(x + 1)
    for e, expert in enumerate(experts):
        torch.testing.assert_close(out[:, e], expert(x + 1))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_run_together_with_batch_norm_equals_each_bank(momentum):
    # Outputs, gradients and every bank's running statistics after two
    # training steps, then eval-mode outputs, as if each bank ran alone.
    torch.manual_seed(0)
    banks = [ExpertBank(7, n, [8, 5], batch_norm=True) for n in (2, 1, 3)]
    for bank in banks:
        for norm in bank.norms:
            norm.momentum = momentum
            with torch.no_grad():  # not the identity, so that a mix-up shows
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    alone = copy.deepcopy(banks)
    upstream = torch.randn(6, 6, 5)

    for step in range(2):
        x = torch.randn(6, 7) + step
        together = ExpertBank.run_together(banks, x)
        separate = torch.cat([bank(x) for bank in alone], dim=1)
        torch.testing.assert_close(together, separate)
        (together * upstream).sum().backward()
        (separate * upstream).sum().backward()

    for bank, own in zip(banks, alone, strict=True):
        for (name, got), want in zip(
            bank.named_parameters(), own.parameters(), strict=True
        ):
            torch.testing.assert_close(got.grad, want.grad, msg=name)
        for (name, got), want in zip(bank.named_buffers(), own.buffers(), strict=True):
            torch.testing.assert_close(got, want, msg=name)
        assert int(bank.norms[0].num_batches_tracked) == 2
        bank.eval()
        own.eval()
    x = torch.randn(6, 7)
    torch.testing.assert_close(
        ExpertBank.run_together(banks, x), torch.cat([b(x) for b in alone], dim=1)
    )


def test_run_together_runs_banks_one_by_one_where_only_some_normalise():
    torch.manual_seed(0)
    banks = [ExpertBank(7, 2, [8, 5], batch_norm=True), ExpertBank(7, 1, [8, 5])]
    x = torch.randn(6, 7)

    together = ExpertBank.run_together(banks, x)

    torch.testing.assert_close(together, torch.cat([b(x) for b in banks], dim=1))


def test_expert_bank_init_bounds_and_gradients():
    bank = ExpertBank(input_dim=16, num_experts=2, hidden_units=[4])
    bound = 1 / 16**0.5

    bank(torch.randn(4, 16)).sum().backward()

    assert bank.weights[0].abs().max() <= bound
    assert bank.output_dim == 4
    assert all(p.grad is not None for p in bank.parameters())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_experts": 0, "hidden_units": [4]}, r"num_experts must be > 0, got 0"),
        ({"num_experts": 2, "hidden_units": []}, r"non-empty list of widths"),
        ({"num_experts": 2, "hidden_units": [4, 0]}, r"got \[4, 0\]"),
    ],
)
def test_expert_bank_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExpertBank(input_dim=3, **kwargs)


@pytest.mark.parametrize("bias", [False, True])
def test_gates_are_softmax_of_linear_maps(bias):
    torch.manual_seed(1)
    gates = Gates(input_dim=5, num_gates=2, num_experts=3, bias=bias)
    x = torch.randn(4, 5)

    weights = gates(x)

    assert weights.shape == (4, 2, 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 2))
    assert (gates.linear.bias is not None) is bias
    for k in range(2):
        rows = gates.linear.weight[k * 3 : (k + 1) * 3]
        logits = x @ rows.T
        if bias:
            logits = logits + gates.linear.bias[k * 3 : (k + 1) * 3]
        torch.testing.assert_close(weights[:, k], torch.softmax(logits, dim=-1))


def test_mix_is_a_weighted_sum_of_experts():
    gates = torch.tensor([[[0.25, 0.75]], [[1.0, 0.0]]])  # (B=2, K=1, E=2)
    experts = torch.tensor(
        [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]
    )  # (B, E, H)

    out = mix(gates, experts)

    torch.testing.assert_close(out, torch.tensor([[[2.5, 3.5]], [[5.0, 6.0]]]))


def reference_towers(towers: TaskTowers, num_tasks: int, hidden_units):
    """K separate MLPs (hidden ReLU layers, one output) with the towers' weights."""
    mlps = []
    for k in range(num_tasks):
        mlp = MLP(towers.weights[0].shape[1], hidden_units, output_dim=1)
        linears = [m for m in mlp.net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for linear, weight, bias in zip(
                linears, towers.weights, towers.biases, strict=True
            ):
                linear.weight.copy_(weight[k].T)
                linear.bias.copy_(bias[k, 0])
        mlps.append(mlp)
    return mlps


@pytest.mark.parametrize("hidden_units", [[], [5], [6, 3]])
def test_task_towers_equal_separate_mlps(hidden_units):
    torch.manual_seed(2)
    towers = TaskTowers(input_dim=8, num_tasks=3, hidden_units=hidden_units)
    x = torch.randn(4, 3, 8)

    out = towers(x)

    assert out.shape == (4, 3)
    for k, mlp in enumerate(reference_towers(towers, 3, hidden_units)):
        torch.testing.assert_close(out[:, k], mlp(x[:, k]).squeeze(-1))


def test_task_towers_dropout_only_in_training():
    towers = TaskTowers(input_dim=8, num_tasks=2, hidden_units=[16], dropout=0.5)
    x = torch.randn(4, 2, 8)

    towers.eval()
    first, second = towers(x), towers(x)
    towers.train()
    torch.manual_seed(0)
    noisy = towers(x)

    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, noisy)


def test_task_towers_batch_norm_equal_separate_normed_mlps():
    torch.manual_seed(0)
    towers = TaskTowers(input_dim=8, num_tasks=3, hidden_units=[6, 4], batch_norm=True)
    assert towers.norms is not None
    with torch.no_grad():
        for norm in towers.norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(10, 3, 8)

    out = towers(x)

    for k in range(3):
        mlp = MLP(8, [6, 4], output_dim=1, batch_norm=True)
        linears = [m for m in mlp.net if isinstance(m, nn.Linear)]
        norms = [m for m in mlp.net if isinstance(m, nn.BatchNorm1d)]
        with torch.no_grad():
            for layer, linear in enumerate(linears):
                linear.weight.copy_(towers.weights[layer][k].T)
                linear.bias.copy_(towers.biases[layer][k, 0])
            for layer, norm in enumerate(norms):
                width = norm.num_features
                own = towers.norms[layer]
                norm.weight.copy_(own.weight[k * width : (k + 1) * width])
                norm.bias.copy_(own.bias[k * width : (k + 1) * width])
        torch.testing.assert_close(out[:, k], mlp(x[:, k]).squeeze(-1))


def test_expert_bank_gradients_pass_gradcheck():
    # The last layer's hand-written backward, checked numerically in float64.
    torch.manual_seed(0)
    bank = ExpertBank(input_dim=5, num_experts=3, hidden_units=[4, 3]).double()
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    params = [*bank.weights, *bank.biases]

    def run(x, *tensors):
        half = len(tensors) // 2
        return _run_experts(list(tensors[:half]), list(tensors[half:]), x)

    assert torch.autograd.gradcheck(run, (x, *params))


def test_expert_bank_bfloat16_gradients_match_float32():
    torch.manual_seed(0)
    bank = ExpertBank(input_dim=16, num_experts=4, hidden_units=[32, 8])
    x = torch.randn(64, 16, requires_grad=True)
    upstream = torch.randn(64, 4, 8)
    grads = []
    for enabled in (False, True):
        bank.zero_grad()
        x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            out = bank(x)
        (out.float() * upstream).sum().backward()
        grads.append([x.grad.clone(), *(p.grad.clone() for p in bank.parameters())])
    for exact, approx in zip(*grads, strict=True):
        assert approx.dtype == torch.float32
        # A few ReLUs flip sign in bfloat16, so compare whole tensors.
        assert (approx - exact).norm() < 0.05 * exact.norm()


def test_last_layer_runs_in_the_autocast_dtype_on_float32_input():
    # Its product writes through out=, which autocast leaves alone: the layer
    # casts by itself, as a plain baddbmm under autocast would.
    torch.manual_seed(0)
    hidden = torch.randn(3, 4, 5)  # (E, H, B), float32
    weight, bias = torch.randn(3, 2, 4), torch.randn(3, 2)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _LastLayer.apply(hidden, weight, bias)

    assert out.dtype == torch.bfloat16 and out.shape == (5, 3, 2)
    expected = torch.baddbmm(
        bias.unsqueeze(1), hidden.transpose(1, 2), weight.transpose(1, 2)
    ).transpose(0, 1)
    torch.testing.assert_close(out.float(), expected, rtol=0.02, atol=0.05)
