"""UBA-SVR: history transformer, tower attention and learnt task weights."""

from __future__ import annotations

import pytest
import torch

from helpers import all_parameters_get_finite_gradients, make_batch, make_spec
from mtlrec.models import UBASVR, TaskSpec, UBASVRConfig

TASKS = (TaskSpec("click"), TaskSpec("like"), TaskSpec("time", "regression"))


def _model(sequence: bool = True) -> UBASVR:
    torch.manual_seed(0)
    spec = make_spec(
        TASKS,
        sequence=(9, 6) if sequence else (),
        length=5 if sequence else 0,
    )
    return UBASVR(spec, UBASVRConfig(expert_units=[8], tower_units=[8]))


def test_outputs_finite_with_empty_and_full_histories() -> None:
    model = _model().eval()
    batch = make_batch(model.spec)
    batch.history_lengths = torch.tensor([0, 0, 5, 3])
    outputs = model(batch)
    assert all(torch.isfinite(v).all() and v.shape == (4,) for v in outputs.values())
    assert model.last_task_attention is not None
    assert torch.allclose(model.last_task_attention.sum(-1), torch.ones(4, 3))


def test_history_changes_the_output() -> None:
    model = _model().eval()
    batch = make_batch(model.spec)
    batch.history_lengths = torch.full((4,), 5)
    first = model(batch)["click"]
    batch.history = batch.history.flip(1)
    assert not torch.allclose(first, model(batch)["click"])


def test_dynamic_weights_start_neutral_and_learn() -> None:
    model = _model()
    batch = make_batch(model.spec)
    outputs = model(batch)
    losses = torch.stack([v.pow(2).mean() for v in outputs.values()])
    term = model.auxiliary_loss(outputs, batch, losses)
    assert term is not None
    assert float(term.detach()) == 0.0  # s_k = 0: the plain sum is unchanged
    assert all_parameters_get_finite_gradients(model, losses.sum() + term)
    assert model.task_weights() == {"click": 1.0, "like": 1.0, "time": 1.0}


def test_runs_without_a_history_feature() -> None:
    model = _model(sequence=False).eval()
    assert model.behaviour is None
    assert set(model(make_batch(model.spec))) == {"click", "like", "time"}


def test_heads_must_divide_embedding_dim() -> None:
    spec = make_spec(TASKS, sequence=(9,), length=3)
    with pytest.raises(ValueError, match="num_heads=3"):
        UBASVR(spec, UBASVRConfig(num_heads=3))


def test_gate_weights_are_the_last_levels_task_gates() -> None:
    model = _model().eval()
    assert model.gate_weights() == {}
    batch = make_batch(model.spec)
    batch.history_lengths = torch.tensor([0, 1, 5, 3])
    model(batch)

    gates = model.gate_weights()
    experts = model.gate_experts()

    assert list(gates) == ["click", "like", "time"]
    assert experts["like"] == ["like_0", "shared_0"]
    for task, weights in gates.items():
        assert weights.shape == (4, len(experts[task]))
        assert torch.allclose(weights.sum(-1), torch.ones(4))
