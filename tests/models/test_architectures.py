"""Shared properties of the architectures added with domains, funnels and histories.

Each model is built on a spec it accepts (funnel tasks for AITM and DTN,
domains for M3oE, context for the YouTube MMoE, a history for UBA-SVR).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from helpers import (
    all_parameters_get_finite_gradients,
    funnel_tasks,
    make_batch,
    make_spec,
)
from mtlrec.config import ModelConfig
from mtlrec.models import (
    AITMConfig,
    DTNConfig,
    M3oEConfig,
    ModelSpec,
    MultiTaskModel,
    TaskSpec,
    UBASVRConfig,
    YouTubeMMoEConfig,
    get_model_class,
)

TWO = (TaskSpec("click"), TaskSpec("like"))
CASES: dict[str, Callable[[], tuple[ModelSpec, ModelConfig]]] = {
    "aitm": lambda: (
        make_spec(funnel_tasks(("a", "b", "c"))),
        AITMConfig(tower_units=[8]),
    ),
    "dtn": lambda: (
        make_spec(funnel_tasks(("ctr", "cvr"))),
        DTNConfig(expert_dim=8, mask_units=8, memory_buckets=31, tower_units=[8]),
    ),
    "m3oe": lambda: (
        make_spec(TWO, domains=("x", "y")),
        M3oEConfig(star_units=8, hidden_dim=8, expert_dim=8, tower_dim=4),
    ),
    "youtube_mmoe": lambda: (
        make_spec(TWO, context=(6,)),
        YouTubeMMoEConfig(num_experts=2, expert_units=[8], feature_dropout=0.0),
    ),
    "uba_svr": lambda: (
        make_spec(TWO, sequence=(7, 3), length=4),
        UBASVRConfig(expert_units=[8], tower_units=[8]),
    ),
}


def _build(name: str, seed: int = 0) -> MultiTaskModel:
    spec, config = CASES[name]()
    torch.manual_seed(seed)
    return get_model_class(name)(spec, config)


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_gradients_and_round_trip(name: str) -> None:
    model = _build(name)
    batch = make_batch(model.spec)
    outputs = model(batch)
    assert list(outputs) == list(model.spec.task_names)
    assert all(v.shape == (4,) and torch.isfinite(v).all() for v in outputs.values())
    assert batch.labels is not None
    losses = torch.stack([v.pow(2).mean() for v in outputs.values()])
    extra = model.auxiliary_loss(outputs, batch, losses)
    total = losses.sum() + (extra if extra is not None else 0.0)
    assert all_parameters_get_finite_gradients(model, total)

    model.eval()
    first = model(batch)
    again = model(batch)
    copy = _build(name, seed=1).eval()
    copy.load_state_dict(model.state_dict())
    restored = copy(batch)
    for task in first:
        assert torch.equal(first[task], again[task])
        assert torch.equal(first[task], restored[task])


@pytest.mark.parametrize("name", sorted(CASES))
def test_equal_seeds_give_equal_outputs(name: str) -> None:
    a, b = _build(name, seed=3).eval(), _build(name, seed=3).eval()
    batch = make_batch(a.spec, seed=5)
    out_a, out_b = a(batch), b(batch)
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)
