"""DTN: self-scored gates summing to 2 and the stop-gradient transfer."""

from __future__ import annotations

import pytest
import torch

from helpers import (
    all_parameters_get_finite_gradients,
    funnel_tasks,
    make_batch,
    make_spec,
)
from mtlrec.models import DTN, DTNConfig, TaskSpec


def _model(**overrides: object) -> DTN:
    torch.manual_seed(0)
    config = DTNConfig(
        expert_dim=8, mask_units=8, memory_buckets=50, tower_units=[8], **overrides
    )
    return DTN(make_spec(funnel_tasks(("ctr", "cvr"))), config)


def test_gate_weights_sum_to_two_with_one_per_group() -> None:
    model = _model()
    experts = torch.rand(4, 9, 8)  # (B, (K + 1) * 3, H)
    with torch.no_grad():
        scores = torch.relu(
            (experts * model.score_weight[0]).sum(-1) + model.score_bias[0]
        )
    own = scores[:, :3]  # task 0's own experts come first
    mixed = model._mix(0, experts)
    weights_own = torch.softmax(own, dim=1)
    weights_rest = torch.softmax(scores[:, 3:], dim=1)
    expected = (weights_own.unsqueeze(-1) * experts[:, :3]).sum(1) + (
        weights_rest.unsqueeze(-1) * experts[:, 3:]
    ).sum(1)
    assert torch.allclose(mixed, expected, atol=1e-6)


def test_transfer_stops_gradient_through_the_source_probability() -> None:
    model = _model(transfer={"cvr": "ctr"})
    outputs = model(make_batch(model.spec))
    outputs["cvr"].sum().backward()
    ctr_tower = list(model.towers[0].parameters())
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in ctr_tower)
    assert any(p.grad is not None for p in model.branches[0].parameters())


def test_transfer_scales_source_experts_by_probability() -> None:
    plain, scaled = _model().eval(), _model(transfer={"cvr": "ctr"}).eval()
    batch = make_batch(plain.spec)
    a, b = plain(batch), scaled(batch)
    assert torch.allclose(a["ctr"], b["ctr"])
    assert not torch.allclose(a["cvr"], b["cvr"])


def test_gradients_reach_every_parameter() -> None:
    model = _model(transfer={"cvr": "ctr"})
    outputs = model(make_batch(model.spec))
    assert all_parameters_get_finite_gradients(
        model, sum(v.sum() for v in outputs.values())
    )


@pytest.mark.parametrize(
    ("transfer", "message"),
    [({"cvr": "nope"}, "unknown task"), ({"ctr": "cvr"}, "must come before")],
)
def test_rejects_bad_transfer(transfer: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _model(transfer=transfer)


def test_memonet_needs_two_fields() -> None:
    from mtlrec.layers import InputSpec
    from mtlrec.models import ModelSpec

    spec = ModelSpec(InputSpec((5,), 8, 1), (TaskSpec("a"),))
    with pytest.raises(ValueError, match="memonet"):
        DTN(spec, DTNConfig())
