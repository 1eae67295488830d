"""Tests of the single-task baseline: nothing shared between tasks."""

from __future__ import annotations

import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, SingleTask, SingleTaskConfig, TaskSpec


def test_changing_one_tasks_network_leaves_the_other_output_unchanged():
    spec = ModelSpec(InputSpec((4, 3), 8, 2), (TaskSpec("a"), TaskSpec("b")))
    model = SingleTask(spec, SingleTaskConfig(hidden_units=[8])).eval()
    batch = Batch(torch.tensor([[1, 2], [3, 0], [0, 1], [2, 2]]), torch.randn(4, 2))
    before = model(batch)

    with torch.no_grad():
        for p in [*model.inputs[0].parameters(), *model.nets[0].parameters()]:
            p.add_(1.0)
    after = model(batch)

    assert not torch.allclose(after["a"], before["a"])
    torch.testing.assert_close(after["b"], before["b"], rtol=0, atol=0)
