"""Tests of the model base class and static specs."""

from __future__ import annotations

import pytest
import torch

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, MultiTaskModel, TaskSpec

SPEC = ModelSpec(InputSpec((3, 4), 8, 2), (TaskSpec("a"), TaskSpec("b", "regression")))


def test_model_spec_properties():
    assert SPEC.task_names == ("a", "b")
    assert SPEC.num_tasks == 2
    assert SPEC.inputs.flat_dim == 2 * 8 + 2


def test_outputs_from_matrix_keeps_task_order():
    model = MultiTaskModel(SPEC, ModelConfig(name="base"))
    matrix = torch.tensor([[1.0, 2.0], [3.0, 4.0]])

    outputs = model.outputs_from_matrix(matrix)

    assert list(outputs) == ["a", "b"]
    assert outputs["a"].tolist() == [1.0, 3.0]
    assert outputs["b"].tolist() == [2.0, 4.0]


def test_base_forward_is_not_implemented():
    model = MultiTaskModel(SPEC, ModelConfig(name="base"))

    with pytest.raises(NotImplementedError):
        model(Batch(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2)))


def test_base_needs_a_task():
    with pytest.raises(ValueError, match=r"a model needs at least one task, got none"):
        MultiTaskModel(ModelSpec(SPEC.inputs, ()), ModelConfig(name="base"))
