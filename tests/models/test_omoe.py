"""Tests of OMoE: MMoE with one gate shared by every task."""

from __future__ import annotations

import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, OMoE, OMoEConfig, TaskSpec

E = 3


def build(num_tasks=3):
    spec = ModelSpec(
        InputSpec((), 8, 5), tuple(TaskSpec(f"t{k}") for k in range(num_tasks))
    )
    return OMoE(spec, OMoEConfig(num_experts=E, expert_units=[4], tower_units=[2]))


def test_one_gate_for_all_tasks():
    model = build(num_tasks=3)

    model(Batch(torch.zeros(4, 0, dtype=torch.long), torch.randn(4, 5)))

    assert model.gates.num_gates == 1
    assert model.gates.linear.out_features == E
    assert model.last_gates.shape == (4, 1, E)


def test_every_tower_reads_the_same_mixture():
    model = build(num_tasks=2).eval()
    x = torch.randn(4, 5)
    captured = []
    model.towers.register_forward_hook(lambda m, args, out: captured.append(args[0]))

    model(Batch(torch.zeros(4, 0, dtype=torch.long), x))

    mixture = captured[0]  # (B, K, H)
    torch.testing.assert_close(mixture[:, 0], mixture[:, 1])
    experts = model.experts(x)  # (B, E, H)
    gate = torch.softmax(x @ model.gates.linear.weight.T, dim=1)  # (B, E)
    torch.testing.assert_close(mixture[:, 0], (gate.unsqueeze(-1) * experts).sum(1))


def test_config_name():
    assert OMoEConfig().name == "omoe"
