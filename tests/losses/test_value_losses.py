"""Watch-time and log-normal losses, sample weights, predicted values."""

from __future__ import annotations

import math

import pytest
import torch

from mtlrec.config import TaskConfig
from mtlrec.layers import InputSpec
from mtlrec.losses import (
    MultiTaskLoss,
    lognormal_loss,
    regression_value,
    weighted_logistic_loss,
)
from mtlrec.models import ModelSpec, TaskSpec

INPUTS = InputSpec((3,), 4, 0)


def test_weighted_logistic_weights_positives_by_value() -> None:
    losses = weighted_logistic_loss(torch.zeros(2), torch.tensor([3.0, 0.0]))
    assert losses.tolist() == pytest.approx([3 * math.log(2), math.log(2)])


def test_weighted_logistic_optimum_odds_is_value_over_negatives() -> None:
    # Values (0, 0, 2, 4): the constant logit minimising the sum has odds
    # (2 + 4) / 2 = 3, the mean value over the negatives' share.
    values = torch.tensor([0.0, 0.0, 2.0, 4.0])
    logit = torch.full((4,), math.log(3.0), requires_grad=True)
    weighted_logistic_loss(logit, values).sum().backward()
    assert logit.grad.sum().item() == pytest.approx(0.0, abs=1e-6)


def test_lognormal_loss_is_the_negative_log_likelihood() -> None:
    # y = e, mu = 1, sigma = 1: log y + log(2 pi) / 2.
    loss = lognormal_loss(torch.tensor([1.0]), torch.tensor([math.e]), 1.0)
    assert loss.item() == pytest.approx(1.0 + 0.5 * math.log(2 * math.pi))
    wide = lognormal_loss(torch.tensor([0.0]), torch.tensor([math.e]), 2.0)
    expected = 1.0 + math.log(2.0) + 0.5 * math.log(2 * math.pi) + 0.125
    assert wide.item() == pytest.approx(expected)


def test_regression_values_follow_the_loss() -> None:
    spec = ModelSpec(
        INPUTS,
        (
            TaskSpec("t", "regression", loss="weighted_logistic"),
            TaskSpec("v", "regression", loss="lognormal", lognormal_sigma=2.0),
            TaskSpec("m", "regression", loss="mse"),
        ),
    )
    out = torch.tensor([0.0, 1.0])
    assert regression_value(spec, 0, out).tolist() == pytest.approx([1.0, math.e])
    assert regression_value(spec, 1, out).tolist() == pytest.approx(
        [math.exp(2.0), math.exp(3.0)]
    )
    assert torch.equal(regression_value(spec, 2, out), out)


def test_sample_weights_make_a_weighted_mean() -> None:
    tasks = [TaskConfig(name="a", label="a", type="regression")]
    loss = MultiTaskLoss(ModelSpec(INPUTS, (TaskSpec("a", "regression"),)), tasks)
    outputs = {"a": torch.tensor([1.0, 3.0])}
    labels = torch.zeros(2, 1)
    # squared errors 1 and 9 with weights 3 and 1: (3 + 9) / 4.
    weighted = loss.per_task(outputs, labels, torch.tensor([[3.0], [1.0]]))
    assert weighted.tolist() == pytest.approx([3.0])
    assert loss.per_task(outputs, labels, torch.tensor([3.0, 1.0])).item() == 3.0
    assert loss.per_task(outputs, labels).item() == 5.0


def test_zero_inflated_child_uses_parent_positives_only() -> None:
    tasks = [
        TaskConfig(name="buy", label="v", positive_above=0),
        TaskConfig(
            name="value", label="v", type="regression", loss="lognormal", parent="buy"
        ),
    ]
    spec = ModelSpec(
        INPUTS,
        (TaskSpec("buy"), TaskSpec("value", "regression", "buy", "lognormal")),
    )
    loss = MultiTaskLoss(spec, tasks)
    outputs = {"buy": torch.zeros(2), "value": torch.tensor([1.0, 5.0])}
    labels = torch.tensor([[1.0, math.e], [0.0, 0.0]])
    per_task = loss.per_task(outputs, labels)
    assert per_task[0].item() == pytest.approx(math.log(2))
    assert per_task[1].item() == pytest.approx(1.0 + 0.5 * math.log(2 * math.pi))
