"""AITM: the AIT unit's equations, the funnel check, the calibrator term."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import (
    all_parameters_get_finite_gradients,
    funnel_tasks,
    make_batch,
    make_spec,
)
from mtlrec.losses import behavioural_calibrator
from mtlrec.models import AITM, AITMConfig, TaskSpec
from mtlrec.models._aitm import _AITUnit

STEPS = ("click", "application", "approval", "activation")


def _model(weight: float = 0.6, seed: int = 0) -> AITM:
    torch.manual_seed(seed)
    config = AITMConfig(tower_units=[16, 8], dropout=0.0, calibrator_weight=weight)
    return AITM(make_spec(funnel_tasks(STEPS)), config)


def test_ait_unit_matches_hand_computation() -> None:
    unit = _AITUnit(2)
    with torch.no_grad():
        for layer in (unit.value, unit.query, unit.key):
            layer.weight.copy_(torch.eye(2))
    p, q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    fused, weights = unit(p, q)
    # scores <u, u> / sqrt(2): 1/sqrt(2) for p and 4/sqrt(2) for q.
    w_q = 1.0 / (1.0 + math.exp(-3.0 / math.sqrt(2.0)))
    assert weights[0].tolist() == pytest.approx([1 - w_q, w_q], abs=1e-6)
    assert fused[0].tolist() == pytest.approx([1 - w_q, 2 * w_q], abs=1e-6)


def test_outputs_one_logit_per_step_and_train() -> None:
    model = _model()
    batch = make_batch(model.spec)
    outputs = model(batch)
    assert list(outputs) == list(STEPS)
    assert all(v.shape == (4,) for v in outputs.values())
    assert model.last_transfer is not None
    assert model.last_transfer.shape == (4, 3, 2)
    assert torch.allclose(model.last_transfer.sum(-1), torch.ones(4, 3))
    loss = sum(v.sum() for v in outputs.values())
    aux = model.auxiliary_loss(outputs, batch, torch.zeros(4))
    assert all_parameters_get_finite_gradients(model, loss + aux)


def test_auxiliary_loss_is_weighted_calibrator() -> None:
    model = _model(weight=0.3)
    batch = make_batch(model.spec)
    outputs = model(batch)
    probs = torch.sigmoid(torch.stack([outputs[s] for s in STEPS], dim=1))
    expected = 0.3 * behavioural_calibrator(probs)
    aux = model.auxiliary_loss(outputs, batch, torch.zeros(4))
    assert aux is not None
    assert float(aux.detach()) == pytest.approx(float(expected.detach()))
    assert _model(weight=0.0).auxiliary_loss(outputs, batch, torch.zeros(4)) is None


def test_funnel_of_two_steps_is_enough() -> None:
    spec = make_spec(funnel_tasks(("ctr", "cvr")))
    outputs = AITM(spec, AITMConfig(tower_units=[8])).eval()(make_batch(spec))
    assert set(outputs) == {"ctr", "cvr"}


@pytest.mark.parametrize(
    "tasks",
    [
        (TaskSpec("a"),),
        (TaskSpec("a"), TaskSpec("b")),
        (TaskSpec("a"), TaskSpec("b", "binary", "a"), TaskSpec("c", "binary", "a")),
        (TaskSpec("a"), TaskSpec("b", "regression", "a")),
    ],
)
def test_rejects_tasks_that_are_not_a_chain(tasks: tuple[TaskSpec, ...]) -> None:
    with pytest.raises(ValueError, match="aitm needs a funnel"):
        AITM(make_spec(tasks), AITMConfig())


def test_eval_is_deterministic_and_state_dict_round_trips() -> None:
    model = _model().eval()
    batch = make_batch(model.spec)
    first = model(batch)
    copy = _model(seed=1).eval()
    copy.load_state_dict(model.state_dict())
    second = copy(batch)
    assert all(torch.equal(first[k], second[k]) for k in STEPS)
