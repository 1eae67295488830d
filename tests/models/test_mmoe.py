"""Equation-level tests of MMoE (Ma et al., KDD 2018, Eq. 5-6)."""

from __future__ import annotations

import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import MMoE, MMoEConfig, ModelSpec, TaskSpec

B, D_IN, E, H, T = 4, 3, 3, 4, 2  # rows, input width, experts, expert width, tower


def dense_only_mmoe(num_tasks=2, **config) -> MMoE:
    # No categorical fields: the model's input x is the dense columns themselves.
    spec = ModelSpec(
        InputSpec((), 8, D_IN), tuple(TaskSpec(f"t{k}") for k in range(num_tasks))
    )
    settings = {"num_experts": E, "expert_units": [H], "tower_units": [T]}
    return MMoE(spec, MMoEConfig(**{**settings, **config}))


def set_weights(model: MMoE, num_tasks=2, seed=0) -> dict[str, torch.Tensor]:
    """Overwrite every parameter with chosen values; return them by name."""
    g = torch.Generator().manual_seed(seed)
    values = {
        "expert_w": torch.randn(E, H, D_IN, generator=g),
        "expert_b": torch.randn(E, H, generator=g),
        "gate_w": torch.randn(num_tasks * E, D_IN, generator=g),
        "tower_w1": torch.randn(num_tasks, H, T, generator=g),
        "tower_b1": torch.randn(num_tasks, 1, T, generator=g),
        "tower_w2": torch.randn(num_tasks, T, 1, generator=g),
        "tower_b2": torch.randn(num_tasks, 1, 1, generator=g),
    }
    with torch.no_grad():
        model.experts.weights[0].copy_(values["expert_w"])
        model.experts.biases[0].copy_(values["expert_b"])
        model.gates.linear.weight.copy_(values["gate_w"])
        model.towers.weights[0].copy_(values["tower_w1"])
        model.towers.biases[0].copy_(values["tower_b1"])
        model.towers.weights[1].copy_(values["tower_w2"])
        model.towers.biases[1].copy_(values["tower_b2"])
    return values


def tower(v, k, h):
    hidden = torch.relu(h @ v["tower_w1"][k] + v["tower_b1"][k, 0])
    return (hidden @ v["tower_w2"][k] + v["tower_b2"][k, 0]).squeeze(-1)


def test_output_equals_hand_computed_gated_mixture():
    model = dense_only_mmoe().eval()
    v = set_weights(model)
    x = torch.randn(B, D_IN, generator=torch.Generator().manual_seed(9))

    outputs = model(Batch(torch.zeros(B, 0, dtype=torch.long), x))

    experts = [torch.relu(x @ v["expert_w"][i].T + v["expert_b"][i]) for i in range(E)]
    for k in range(2):
        gate = torch.softmax(x @ v["gate_w"][k * E : (k + 1) * E].T, dim=1)  # (B, E)
        mixture = sum(gate[:, i : i + 1] * experts[i] for i in range(E))
        torch.testing.assert_close(outputs[f"t{k}"], tower(v, k, mixture))
        torch.testing.assert_close(model.last_gates[:, k], gate)


def test_one_gate_per_task_without_bias_by_default():
    model = dense_only_mmoe(num_tasks=3)

    assert model.gates.num_gates == 3
    assert model.gates.linear.out_features == 3 * E
    assert model.gates.linear.bias is None


def test_gate_bias_option():
    model = dense_only_mmoe(gate_bias=True)

    assert model.gates.linear.bias is not None


def test_tasks_differ_only_through_gates_and_towers():
    model = dense_only_mmoe().eval()
    v = set_weights(model)
    with torch.no_grad():
        # Same gate and tower for both tasks: same output.
        model.gates.linear.weight[E:] = v["gate_w"][:E]
        for params in (model.towers.weights, model.towers.biases):
            for p in params:
                p[1] = p[0]
    x = torch.randn(B, D_IN)

    outputs = model(Batch(torch.zeros(B, 0, dtype=torch.long), x))

    torch.testing.assert_close(outputs["t0"], outputs["t1"])
