"""Routing and equation tests of PLE / CGC (Tang et al., RecSys 2020, Sec. 4)."""

from __future__ import annotations

import pytest
import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import PLE, ModelSpec, PLEConfig, TaskSpec

B, D_IN, H = 4, 6, 6  # raw input width equals expert width on purpose


def build(num_tasks=2, seed=0, **config) -> PLE:
    torch.manual_seed(seed)
    spec = ModelSpec(
        InputSpec((), 8, D_IN), tuple(TaskSpec(f"t{k}") for k in range(num_tasks))
    )
    settings = {
        "num_task_experts": 2,
        "num_shared_experts": 1,
        "expert_units": [H],
        "tower_units": [3],
    }
    return PLE(spec, PLEConfig(**{**settings, **config}))


def run(model: PLE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return model(Batch(torch.zeros(len(x), 0, dtype=torch.long), x))


def gate(g, x):
    return torch.softmax(x @ g.linear.weight.T, dim=-1)  # (B, E)


def mixture(weights, experts):
    return (weights.unsqueeze(-1) * experts).sum(1)  # (B, H)


def test_gate_sizes_and_shared_gate_at_every_level_but_the_last():
    model = build(num_tasks=3, num_levels=3)

    for j, level in enumerate(model.levels):
        assert all(g.num_experts == 2 + 1 for g in level.task_gates)
        if j < 2:
            assert level.shared_gate is not None
            assert level.shared_gate.num_experts == 3 * 2 + 1
        else:
            assert level.shared_gate is None
    assert len(model.levels[0].task_experts) == 3


def test_cgc_equals_hand_computation():
    model = build(num_levels=1).eval()
    x = torch.randn(B, D_IN)

    outputs = run(model, x)

    level = model.levels[0]
    shared = level.shared_experts(x)
    for k in range(2):
        selected = torch.cat([level.task_experts[k](x), shared], dim=1)
        fused = mixture(gate(level.task_gates[k], x), selected)
        expected = model.towers(torch.stack([fused, fused], dim=1))[:, k]
        torch.testing.assert_close(outputs[f"t{k}"], expected)


def test_task_gate_never_sees_other_tasks_experts():
    model = build(num_levels=1).eval()
    x = torch.randn(B, D_IN)
    before = run(model, x)

    with torch.no_grad():
        for p in model.levels[0].task_experts[1].parameters():
            p.add_(torch.randn_like(p))
    after = run(model, x)

    torch.testing.assert_close(after["t0"], before["t0"], rtol=0, atol=0)
    assert not torch.allclose(after["t1"], before["t1"])


def test_two_levels_equal_hand_computation():
    model = build(num_levels=2).eval()
    x = torch.randn(B, D_IN)

    outputs = run(model, x)

    first, second = model.levels
    own = [first.task_experts[k](x) for k in range(2)]
    shared = first.shared_experts(x)
    task_out = [
        mixture(gate(first.task_gates[k], x), torch.cat([own[k], shared], 1))
        for k in range(2)
    ]
    shared_out = mixture(gate(first.shared_gate, x), torch.cat([*own, shared], 1))
    shared2 = second.shared_experts(shared_out)
    final = [
        mixture(
            gate(second.task_gates[k], task_out[k]),
            torch.cat([second.task_experts[k](task_out[k]), shared2], 1),
        )
        for k in range(2)
    ]
    expected = model.towers(torch.stack(final, dim=1))
    torch.testing.assert_close(outputs["t0"], expected[:, 0])
    torch.testing.assert_close(outputs["t1"], expected[:, 1])


@pytest.mark.parametrize("k", [0, 1])
def test_level_two_task_gate_reads_level_one_task_output(k):
    model = build(num_levels=2).eval()
    x = torch.randn(B, D_IN)
    seen = {}
    model.levels[0].register_forward_hook(
        lambda m, args, out: seen.update(level1=out[0])
    )
    model.levels[1].task_gates[k].register_forward_hook(
        lambda m, args, out: seen.update(gate_input=args[0])
    )

    run(model, x)

    torch.testing.assert_close(seen["gate_input"], seen["level1"][k])
    assert not torch.allclose(seen["gate_input"], x)


def test_level_two_shared_experts_read_the_shared_gate_output():
    model = build(num_levels=2).eval()
    x = torch.randn(B, D_IN)
    seen = {}
    model.levels[1].shared_experts.register_forward_hook(
        lambda m, args, out: seen.update(shared_input=args[0])
    )

    run(model, x)

    level = model.levels[0]
    own = [level.task_experts[k](x) for k in range(2)]
    every = torch.cat([*own, level.shared_experts(x)], dim=1)
    torch.testing.assert_close(
        seen["shared_input"], mixture(gate(level.shared_gate, x), every)
    )


@pytest.mark.parametrize("num_levels", [1, 2])
def test_one_task_ple(num_levels):
    model = build(num_tasks=1, num_levels=num_levels)

    outputs = run(model, torch.randn(B, D_IN))

    assert list(outputs) == ["t0"]
    assert outputs["t0"].shape == (B,)
    assert len(model.last_gates) == 1
    assert model.last_gates[0].shape == (B, 3)


@pytest.mark.parametrize("shared_gate", [False, True])
@pytest.mark.parametrize("expert_units", [[H], [5, H]])
def test_one_input_level_equals_the_per_task_computation(shared_gate, expert_units):
    # The first level runs every expert and gate as one product; the result
    # and the gradients equal the per-task path used when inputs differ.
    model = build(
        num_tasks=3, num_levels=2 if shared_gate else 1, expert_units=expert_units
    )
    level = model.levels[0]
    x = torch.randn(B, D_IN, requires_grad=True)
    copies = [x.clone() for _ in range(3)]
    shared_copy = x.clone()

    fused = level([x] * 3, x)
    per_task = level(copies, shared_copy)

    for a, b in zip(fused[0], per_task[0], strict=True):
        torch.testing.assert_close(a, b)
    for a, b in zip(fused[2], per_task[2], strict=True):
        torch.testing.assert_close(a, b)
    assert (fused[1] is None) is (not shared_gate)
    if shared_gate:
        torch.testing.assert_close(fused[1], per_task[1])
    upstream = [torch.randn(B, H) for _ in range(3)]
    grads = []
    for outputs, inputs in ((fused[0], [x]), (per_task[0], [*copies, shared_copy])):
        total = sum((o * u).sum() for o, u in zip(outputs, upstream, strict=True))
        params = [p for p in level.parameters() if p.requires_grad]
        grads.append(torch.autograd.grad(total, [*inputs, *params], allow_unused=True))
    fused_x, *fused_params = grads[0]
    torch.testing.assert_close(fused_x, sum(g for g in grads[1][:4] if g is not None))
    for param, a, b in zip(params, fused_params, grads[1][4:], strict=True):
        # A parameter the outputs do not use (the shared gate) gets no
        # gradient on one path and a zero one on the other.
        zeros = torch.zeros_like(param)
        torch.testing.assert_close(zeros if a is None else a, zeros if b is None else b)
