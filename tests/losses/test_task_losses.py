"""Tests of MultiTaskLoss: masked per-task losses and task weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from mtlrec.config import TaskConfig
from mtlrec.layers import InputSpec
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import ModelSpec, TaskSpec

INPUTS = InputSpec((3,), 8, 0)


def setup(configs):
    spec = ModelSpec(INPUTS, tuple(TaskSpec(t.name, t.type, t.parent) for t in configs))
    return spec, configs


CLICK_CONV = [
    TaskConfig(name="click", label="click"),
    TaskConfig(name="conv", label="conv", parent="click"),
]


def bce(logit, label):
    p = 1 / (1 + math.exp(-logit))
    return -(label * math.log(p) + (1 - label) * math.log(1 - p))


def test_child_loss_is_the_mean_over_parent_positives():
    spec, configs = setup(CLICK_CONV)
    loss = MultiTaskLoss(spec, configs)
    logits = {"click": [0.5, -1.0, 2.0, 0.0], "conv": [1.0, 3.0, -2.0, 0.7]}
    labels = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    outputs = {k: torch.tensor(v) for k, v in logits.items()}

    total, per_task = loss(outputs, labels)

    click_labels = [1, 0, 1, 0]
    click = (
        sum(bce(z, y) for z, y in zip(logits["click"], click_labels, strict=True)) / 4
    )
    conv = (bce(1.0, 1) + bce(-2.0, 0)) / 2  # rows 0 and 2 only
    assert per_task.tolist() == pytest.approx([click, conv], rel=1e-6)
    assert total.item() == pytest.approx(click + conv, rel=1e-6)


def test_batch_without_eligible_rows_adds_exactly_zero():
    spec, configs = setup(CLICK_CONV)
    loss = MultiTaskLoss(spec, configs)
    conv_logits = torch.tensor([50.0, -50.0, 3.0], requires_grad=True)
    outputs = {"click": torch.zeros(3, requires_grad=True), "conv": conv_logits}
    labels = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])

    total, per_task = loss(outputs, labels)
    total.backward()

    assert per_task[1].item() == 0.0
    assert total.item() == pytest.approx(math.log(2), rel=1e-6)
    assert torch.isfinite(conv_logits.grad).all()
    assert not conv_logits.grad.any()


def test_joint_child_space_with_no_rows_at_all_is_finite():
    spec, configs = setup(CLICK_CONV)
    loss = MultiTaskLoss(spec, configs, "conditional", "joint")
    outputs = {
        "click": torch.zeros(0, requires_grad=True),
        "conv": torch.zeros(0, requires_grad=True),
    }

    total, per_task = loss(outputs, torch.zeros(0, 2))
    total.backward()

    assert per_task.tolist() == [0.0, 0.0]
    assert torch.isfinite(outputs["conv"].grad).all()


def test_mse_and_huber_by_hand():
    configs = [
        TaskConfig(name="m", label="m", type="regression"),
        TaskConfig(
            name="h", label="h", type="regression", loss="huber", huber_delta=1.0
        ),
    ]
    spec, _ = setup(configs)
    loss = MultiTaskLoss(spec, configs)
    outputs = {"m": torch.tensor([1.0, 2.0, 0.0]), "h": torch.tensor([0.5, 3.0, -2.0])}
    labels = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 0.0]])

    _, per_task = loss(outputs, labels)

    mse = (1.0 + 4.0 + 0.0) / 3
    # Huber: 0.5 e^2 when |e| <= delta, else delta (|e| - 0.5 delta).
    huber = (0.5 * 0.25 + (3.0 - 0.5) + (2.0 - 0.5)) / 3
    assert per_task.tolist() == pytest.approx([mse, huber], rel=1e-6)


def test_huber_delta_is_used():
    configs = [
        TaskConfig(
            name="h", label="h", type="regression", loss="huber", huber_delta=2.0
        )
    ]
    spec, _ = setup(configs)

    _, per_task = MultiTaskLoss(spec, configs)(
        {"h": torch.tensor([3.0])}, torch.tensor([[0.0]])
    )

    assert per_task.item() == pytest.approx(2.0 * (3.0 - 1.0))


def test_task_weights_scale_the_total():
    configs = [
        TaskConfig(name="a", label="a", weight=2.0),
        TaskConfig(name="b", label="b", type="regression", weight=0.5),
        TaskConfig(name="c", label="c", weight=0.0),
    ]
    spec, _ = setup(configs)
    outputs = {
        "a": torch.tensor([0.3, -0.2]),
        "b": torch.tensor([1.0, 2.0]),
        "c": torch.tensor([5.0, 5.0]),
    }
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

    total, per_task = MultiTaskLoss(spec, configs)(outputs, labels)

    expected = 2.0 * per_task[0] + 0.5 * per_task[1]
    torch.testing.assert_close(total, expected)
    assert per_task[2] > 0


def test_joint_space_for_conditional_outputs_uses_the_product():
    spec, configs = setup(CLICK_CONV)
    loss = MultiTaskLoss(spec, configs, "conditional", "joint")
    outputs = {
        "click": torch.tensor([0.2, -0.4, 1.5]),
        "conv": torch.tensor([0.1, 2.0, -1.0]),
    }
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])

    _, per_task = loss(outputs, labels)

    product = torch.sigmoid(outputs["click"]) * torch.sigmoid(outputs["conv"])
    expected = F.binary_cross_entropy(product, labels[:, 0] * labels[:, 1])
    torch.testing.assert_close(per_task[1], expected)


def test_joint_space_for_joint_outputs_uses_the_child_logit():
    spec, configs = setup(CLICK_CONV)
    loss = MultiTaskLoss(spec, configs, "joint", "joint")
    outputs = {"click": torch.tensor([0.2, -0.4]), "conv": torch.tensor([0.1, 2.0])}
    labels = torch.tensor([[1.0, 1.0], [0.0, 0.0]])

    _, per_task = loss(outputs, labels)

    expected = F.binary_cross_entropy_with_logits(
        outputs["conv"], torch.tensor([1.0, 0.0])
    )
    torch.testing.assert_close(per_task[1], expected)


def test_grandchild_conditional_space_uses_every_ancestor():
    configs = [
        TaskConfig(name="a", label="a"),
        TaskConfig(name="b", label="b", parent="a"),
        TaskConfig(name="c", label="c", parent="b"),
    ]
    spec, _ = setup(configs)
    outputs = {n: torch.tensor([0.3, -0.3, 1.0]) for n in "abc"}
    labels = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])

    _, per_task = MultiTaskLoss(spec, configs)(outputs, labels)

    assert per_task[1].item() == pytest.approx((bce(0.3, 1) + bce(-0.3, 0)) / 2)
    assert per_task[2].item() == pytest.approx(bce(0.3, 1))


def test_task_configs_must_match_the_model():
    spec, configs = setup(CLICK_CONV)

    with pytest.raises(ValueError, match=r"do not match the model's tasks"):
        MultiTaskLoss(spec, list(reversed(configs)))
