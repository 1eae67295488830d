"""Tests of the Shared-Bottom model: y_k = h^k(f(x))."""

from __future__ import annotations

import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, SharedBottom, SharedBottomConfig, TaskSpec


def test_towers_read_the_shared_bottom_output():
    spec = ModelSpec(InputSpec((), 8, 5), (TaskSpec("a"), TaskSpec("b", "regression")))
    model = SharedBottom(spec, SharedBottomConfig(bottom_units=[6], tower_units=[3]))
    model.eval()
    x = torch.randn(4, 5)

    outputs = model(Batch(torch.zeros(4, 0, dtype=torch.long), x))

    shared = model.bottom(x)
    expected = model.towers(shared.unsqueeze(1).expand(-1, 2, -1))
    torch.testing.assert_close(outputs["a"], expected[:, 0])
    torch.testing.assert_close(outputs["b"], expected[:, 1])
    assert model.bottom.output_dim == 6
