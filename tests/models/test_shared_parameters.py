"""Shared parameters and gate weights of the built-in models."""

from __future__ import annotations

import pytest
import torch

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, MultiTaskModel, TaskSpec, get_model_class

INPUTS = InputSpec((5, 6, 4), 8, 3)
TWO_TASKS = (TaskSpec("a"), TaskSpec("b"))
CHILD = (TaskSpec("ctr"), TaskSpec("cvr", parent="ctr"))


def _model(
    name: str, tasks: tuple[TaskSpec, ...] = TWO_TASKS, **kw: object
) -> MultiTaskModel:
    cls = get_model_class(name)
    config = cls.config_class.model_validate({"name": name, **kw})
    assert isinstance(config, ModelConfig)
    torch.manual_seed(0)
    return cls(ModelSpec(INPUTS, tasks), config)


def _batch(rows: int = 4) -> Batch:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 4, (rows, 3), generator=generator)
    return Batch(ids, torch.randn(rows, 3, generator=generator))


def test_mmoe_shares_inputs_and_experts_not_gates_or_towers() -> None:
    names = [n for n, _ in _model("mmoe", num_experts=3).named_shared_parameters()]
    assert names == [
        "inputs.embedding.table.weight",
        "experts.weights.0",
        "experts.biases.0",
    ]


def test_omoe_gate_is_shared() -> None:
    names = [n for n, _ in _model("omoe", num_experts=3).named_shared_parameters()]
    assert "gates.linear.weight" in names


def test_ple_shares_lower_task_experts_but_not_last_level() -> None:
    names = [n for n, _ in _model("ple", num_levels=2).named_shared_parameters()]
    assert any(n.startswith("levels.0.task_experts.") for n in names)
    assert any(n.startswith("levels.1.shared_experts.") for n in names)
    assert any(n.startswith("levels.0.shared_gate.") for n in names)
    assert not any(n.startswith("levels.1.task_experts.") for n in names)
    assert not any(".task_gates." in n or n.startswith("towers.") for n in names)


def test_single_task_shares_nothing_and_esmm_shares_ctr_net() -> None:
    assert _model("single_task").shared_parameters() == []
    names = [n for n, _ in _model("esmm", CHILD).named_shared_parameters()]
    assert any(n.startswith("ctr_net.") for n in names)
    assert not any(n.startswith("cvr_net.") for n in names)


@pytest.mark.parametrize("name", ["mmoe", "ple", "shared_bottom", "omoe"])
def test_unshared_parameters_serve_one_task(name: str) -> None:
    # Each element of a task-specific parameter gets gradient from one task.
    model = _model(name)
    outputs = model(_batch())
    shared = {id(p) for p in model.shared_parameters()}
    own = [p for p in model.parameters() if id(p) not in shared]
    assert own
    touched = [torch.zeros_like(p, dtype=torch.int64) for p in own]
    for task in model.spec.task_names:
        grads = torch.autograd.grad(
            outputs[task].sum(), own, retain_graph=True, allow_unused=True
        )
        for count, grad in zip(touched, grads, strict=True):
            if grad is not None:
                count += (grad != 0).long()
    assert max(int(c.max()) for c in touched) == 1


@pytest.mark.parametrize("name", ["mmoe", "ple", "shared_bottom"])
def test_shared_parameters_serve_several_tasks(name: str) -> None:
    model = _model(name)
    outputs = model(_batch())
    shared = model.shared_parameters()
    reached = []
    for task in model.spec.task_names:
        grads = torch.autograd.grad(
            outputs[task].sum(), shared, retain_graph=True, allow_unused=True
        )
        reached.append([g is not None and bool(g.abs().sum() > 0) for g in grads])
    # Every shared tensor that some task reaches is reached by both tasks.
    for by_a, by_b in zip(*reached, strict=True):
        assert by_a == by_b


def test_mmoe_gate_weights_per_task() -> None:
    model = _model("mmoe", num_experts=3)
    assert model.gate_weights() == {}
    model(_batch())
    gates = model.gate_weights()
    assert set(gates) == {"a", "b"}
    assert gates["a"].shape == (4, 3)
    assert torch.allclose(gates["a"].sum(1), torch.ones(4))
    assert torch.equal(gates["b"], model.last_gates[:, 1])
    assert model.gate_experts()["a"] == ["expert_0", "expert_1", "expert_2"]


def test_ple_gate_weights_name_task_and_shared_experts() -> None:
    model = _model("ple", num_task_experts=2, num_shared_experts=1)
    model(_batch())
    assert model.gate_weights()["b"].shape == (4, 3)
    assert model.gate_experts()["b"] == ["b_0", "b_1", "shared_0"]


def test_models_without_gates_report_none() -> None:
    model = _model("shared_bottom")
    model(_batch())
    assert model.gate_weights() == {}
    assert model.gate_experts() == {}
