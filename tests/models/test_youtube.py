"""YouTube MMoE: the shallow tower's logit is added in training only."""

from __future__ import annotations

import pytest
import torch

from helpers import all_parameters_get_finite_gradients, make_batch, make_spec
from mtlrec.models import TaskSpec, YouTubeMMoE, YouTubeMMoEConfig

TASKS = (TaskSpec("click"), TaskSpec("like"), TaskSpec("watch", "regression"))


def _model(**overrides: object) -> YouTubeMMoE:
    torch.manual_seed(0)
    config = YouTubeMMoEConfig(
        num_experts=3, expert_units=[8], tower_units=[4], **overrides
    )
    return YouTubeMMoE(make_spec(TASKS, context=(11, 3)), config)


def test_training_logits_are_eval_logits_plus_bias_on_chosen_tasks() -> None:
    model = _model(shallow_tasks=["click"], feature_dropout=0.0)
    batch = make_batch(model.spec)
    model.eval()
    plain = model(batch)
    model.train()
    biased = model(batch)
    bias = model.bias_logit(batch)
    assert torch.allclose(biased["click"], plain["click"] + bias, atol=1e-6)
    assert torch.allclose(biased["like"], plain["like"])
    assert torch.allclose(biased["watch"], plain["watch"])
    assert not torch.allclose(bias, torch.zeros(4))


def test_default_shallow_tasks_are_every_binary_task() -> None:
    model = _model(feature_dropout=0.0)
    assert model.bias_mask.tolist() == [1.0, 1.0, 0.0]


def test_prediction_needs_no_context() -> None:
    model = _model().eval()
    batch = make_batch(model.spec)
    with_context = model(batch)
    batch.context = None
    without = model(batch)
    assert all(torch.equal(with_context[k], without[k]) for k in with_context)


def test_feature_dropout_replaces_ids_with_unknown() -> None:
    model = _model(feature_dropout=0.5)
    batch = make_batch(model.spec, rows=4000)
    torch.manual_seed(1)
    dropped = model.bias_logit(batch)
    unknown = batch.context.clone()
    unknown[:] = 0
    batch_zero = make_batch(model.spec, rows=4000)
    batch_zero.context = unknown
    all_unknown = model.bias_logit(batch_zero)
    share = (dropped == all_unknown[0]).float().mean().item()
    assert share == pytest.approx(0.25, abs=0.03)  # both fields dropped: 0.5 ** 2


def test_gradients_reach_every_parameter_in_training() -> None:
    model = _model()
    outputs = model(make_batch(model.spec))
    assert all_parameters_get_finite_gradients(
        model, sum(v.sum() for v in outputs.values())
    )


def test_needs_context_features() -> None:
    with pytest.raises(ValueError, match="features.context"):
        YouTubeMMoE(make_spec(TASKS), YouTubeMMoEConfig())


def test_rejects_unknown_shallow_task() -> None:
    with pytest.raises(ValueError, match="shallow_tasks names \\['watch'\\]"):
        _model(shallow_tasks=["watch"])
