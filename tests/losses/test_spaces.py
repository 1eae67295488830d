"""Tests of sample spaces: ancestors, masks, joint labels and probabilities."""

from __future__ import annotations

import pytest
import torch

from mtlrec.layers import InputSpec
from mtlrec.losses import ancestors, joint_labels, sample_mask, task_probabilities
from mtlrec.models import ModelSpec, TaskSpec

SPEC = ModelSpec(
    InputSpec((3,), 8, 0),
    (
        TaskSpec("click"),
        TaskSpec("watch", "regression"),
        TaskSpec("cart", parent="click"),
        TaskSpec("buy", parent="cart"),
    ),
)
LABELS = torch.tensor(
    [
        [1.0, 0.5, 1.0, 1.0],
        [1.0, 0.1, 1.0, 0.0],
        [1.0, 0.2, 0.0, 0.0],
        [0.0, 0.3, 0.0, 0.0],
    ]
)


def test_ancestors_nearest_first():
    assert ancestors(SPEC, 0) == []
    assert ancestors(SPEC, 2) == [0]
    assert ancestors(SPEC, 3) == [2, 0]


@pytest.mark.parametrize(
    ("k", "mask"), [(0, [1, 1, 1, 1]), (2, [1, 1, 1, 0]), (3, [1, 1, 0, 0])]
)
def test_sample_mask(k, mask):
    assert sample_mask(SPEC, LABELS, k).tolist() == mask


def test_joint_labels():
    assert joint_labels(SPEC, LABELS, 3).tolist() == [1, 0, 0, 0]
    assert joint_labels(SPEC, LABELS, 2).tolist() == [1, 1, 0, 0]


def test_conditional_outputs_give_joint_by_chain_product():
    logits = {n: torch.randn(4) for n in SPEC.task_names}
    p = {n: torch.sigmoid(v) for n, v in logits.items()}

    conditional, joint = task_probabilities(SPEC, logits, "conditional")

    assert set(conditional) == set(joint) == {"click", "cart", "buy"}
    torch.testing.assert_close(conditional["buy"], p["buy"])
    torch.testing.assert_close(joint["click"], p["click"])
    torch.testing.assert_close(joint["cart"], p["cart"] * p["click"])
    torch.testing.assert_close(joint["buy"], p["buy"] * p["cart"] * p["click"])


def test_joint_outputs_give_conditional_by_division():
    logits = {
        "click": torch.tensor([0.0, 2.0]),
        "watch": torch.zeros(2),
        "cart": torch.tensor([-1.0, 5.0]),
        "buy": torch.tensor([-2.0, 0.0]),
    }
    p = {n: torch.sigmoid(v) for n, v in logits.items()}

    conditional, joint = task_probabilities(SPEC, logits, "joint")

    torch.testing.assert_close(joint["buy"], p["buy"])
    torch.testing.assert_close(conditional["buy"][0], p["buy"][0] / p["cart"][0])
    torch.testing.assert_close(conditional["cart"][0], p["cart"][0] / p["click"][0])
    # A joint above its parent's is clipped to a conditional of 1.
    assert conditional["cart"][1].item() == 1.0
