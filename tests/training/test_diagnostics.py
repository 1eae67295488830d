"""Gate usage over a split and expert-collapse flags."""

from __future__ import annotations

import pytest
import torch

from mtlrec.data import EncodedData
from mtlrec.layers import InputSpec
from mtlrec.models import MMoE, MMoEConfig, ModelSpec, TaskSpec
from mtlrec.training import gate_report, gate_usage, unused_experts


def test_unused_experts_need_every_task_below_the_threshold() -> None:
    usage = {
        "a": {"e0": 0.9, "e1": 0.09, "e2": 0.01},
        "b": {"e0": 0.5, "e1": 0.49, "e2": 0.01},
    }
    # uniform share 1/3; threshold 0.1 / 3 = 0.0333: only e2 is unused.
    assert unused_experts(usage) == ["e2"]
    assert unused_experts(usage, ratio=0.3) == ["e2"]
    # threshold 1.6 / 3 = 0.533 is above e1's best share 0.49.
    assert unused_experts(usage, ratio=1.6) == ["e1", "e2"]


def _forced_mmoe() -> tuple[MMoE, EncodedData]:
    spec = ModelSpec(InputSpec((), 4, 2), (TaskSpec("a"), TaskSpec("b")))
    model = MMoE(spec, MMoEConfig(num_experts=3, expert_units=[4]))
    with torch.no_grad():
        # Rows are dense (1, 0): gate logits are the first weight column, so
        # task a sends all weight to expert 0 and task b to expert 1.
        model.gates.linear.weight.zero_()
        model.gates.linear.weight[0, 0] = 50.0  # task a, expert 0
        model.gates.linear.weight[4, 0] = 50.0  # task b, expert 1
    rows = 10
    dense = torch.tensor([[1.0, 0.0]] * rows)
    return model, EncodedData(torch.zeros(rows, 0, dtype=torch.int64), dense)


def test_gate_usage_averages_over_the_split() -> None:
    model, data = _forced_mmoe()
    usage = gate_usage(model, data, batch_size=3)
    assert usage["a"]["expert_0"] == pytest.approx(1.0, abs=1e-6)
    assert usage["b"]["expert_1"] == pytest.approx(1.0, abs=1e-6)
    report = gate_report(model, data, 4, "test")
    assert report is not None
    assert report["unused_experts"] == ["expert_2"]
