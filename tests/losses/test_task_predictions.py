"""Tests of ``prediction_names`` and ``task_predictions`` (mtlrec/losses/_spaces.py)."""

import math

import pytest
import torch

from mtlrec.layers import InputSpec
from mtlrec.losses import ENTIRE_SUFFIX, prediction_names, task_predictions
from mtlrec.models import ModelSpec, TaskSpec

SPEC = ModelSpec(
    InputSpec((), 4, 1),
    (
        TaskSpec("click"),
        TaskSpec("buy", parent="click"),
        TaskSpec("dwell", "regression"),
        TaskSpec("stay", "regression", parent="click"),
    ),
)


def test_prediction_names_put_entire_after_every_child_task():
    assert ENTIRE_SUFFIX == "@entire"
    assert prediction_names(SPEC) == [
        "click",
        "buy",
        "buy@entire",
        "dwell",
        "stay",
        "stay@entire",
    ]


def test_task_predictions_conditional_space():
    # sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75: joint buy = 0.5 * 0.75.
    outputs = {
        "click": torch.tensor([0.0]),
        "buy": torch.tensor([math.log(3.0)]),
        "dwell": torch.tensor([2.5]),
        "stay": torch.tensor([-1.0]),
    }
    result = task_predictions(SPEC, outputs, "conditional")
    assert list(result) == prediction_names(SPEC)
    expected = {
        "click": 0.5,
        "buy": 0.75,
        "buy@entire": 0.375,
        "dwell": 2.5,
        "stay": -1.0,
        # A regression child's entire-space value: its value times P(click).
        "stay@entire": -0.5,
    }
    for name, value in expected.items():
        assert result[name].item() == pytest.approx(value, abs=1e-6)


def test_task_predictions_joint_space_divides_by_parent():
    # A joint-space model outputs P(buy and click) = sigmoid(ln 1/3) = 0.25;
    # the conditional is 0.25 / 0.5 = 0.5.
    outputs = {
        "click": torch.tensor([0.0]),
        "buy": torch.tensor([math.log(1.0 / 3.0)]),
        "dwell": torch.tensor([1.0]),
        "stay": torch.tensor([1.0]),
    }
    result = task_predictions(SPEC, outputs, "joint")
    assert result["buy@entire"].item() == pytest.approx(0.25, abs=1e-6)
    assert result["buy"].item() == pytest.approx(0.5, abs=1e-6)
