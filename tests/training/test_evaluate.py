"""Tests of whole-split prediction, per-task metrics and the objective."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

from mtlrec.config import ObjectiveTerm
from mtlrec.data import EncodedData
from mtlrec.layers import InputSpec
from mtlrec.models import MMoE, MMoEConfig, ModelSpec, TaskSpec
from mtlrec.training import Evaluator, objective_value, predict_scores

INPUTS = InputSpec((6, 5), 8, 2)
TASKS = (
    TaskSpec("click"),
    TaskSpec("conv", parent="click"),
    TaskSpec("rating", "regression"),
)


def model_for(tasks=TASKS, seed=0):
    torch.manual_seed(seed)
    return MMoE(
        ModelSpec(INPUTS, tasks),
        MMoEConfig(num_experts=2, expert_units=[8], tower_units=[4], dropout=0.2),
    )


def data(num_rows=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    click = (torch.rand(num_rows, generator=g) < 0.5).float()
    conv = (torch.rand(num_rows, generator=g) < 0.5).float() * click
    rating = torch.randn(num_rows, generator=g)
    return EncodedData(
        torch.stack([torch.randint(0, v, (num_rows,), generator=g) for v in (6, 5)], 1),
        torch.randn(num_rows, 2, generator=g),
        torch.stack([click, conv, rating], 1),
        np.arange(num_rows) % 4,
    )


def test_predict_scores_are_probabilities_values_and_entire_space():
    model = model_for()
    encoded = data()

    scores = predict_scores(model, encoded, batch_size=64)

    assert set(scores) == {"click", "conv", "conv@entire", "rating"}
    assert all(s.shape == (50,) for s in scores.values())
    assert ((scores["click"] > 0) & (scores["click"] < 1)).all()
    np.testing.assert_allclose(
        scores["conv@entire"], scores["conv"] * scores["click"], rtol=1e-6
    )
    assert model.training  # the mode is restored


def test_predict_scores_do_not_depend_on_batch_size():
    model = model_for()
    encoded = data()

    whole = predict_scores(model, encoded, batch_size=1000)
    pieces = predict_scores(model, encoded, batch_size=7)

    for name in whole:
        np.testing.assert_allclose(pieces[name], whole[name], rtol=1e-6)


def test_bfloat16_prediction_is_close_to_float32_and_returns_float32():
    model = model_for()
    model.eval()  # no dropout, so the float32 reference is deterministic
    encoded = data()

    exact = predict_scores(model, encoded, batch_size=64)
    approx = predict_scores(model, encoded, batch_size=64, precision="bfloat16")

    assert set(approx) == set(exact)
    for name in exact:
        assert approx[name].dtype == np.float32
        # bfloat16 keeps 8 bits of mantissa: differences near 1e-2, not zero.
        np.testing.assert_allclose(approx[name], exact[name], rtol=0, atol=3e-2)
    assert any(not np.array_equal(approx[n], exact[n]) for n in exact)


@pytest.mark.parametrize(
    ("precision", "batches"),
    [("float32", [2048] * 4 + [1808]), ("bfloat16", [8192, 1808])],
)
def test_prediction_batch_size_defaults_by_precision(precision, batches):
    model = model_for()
    sizes = []
    model.register_forward_hook(lambda m, args, out: sizes.append(len(args[0].dense)))

    predict_scores(model, data(num_rows=10_000), batch_size=None, precision=precision)

    assert sizes == batches


def test_unknown_prediction_precision_is_refused():
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        predict_scores(model_for(), data(), batch_size=64, precision="float16")


def test_metrics_over_the_whole_split_match_sklearn():
    model = model_for()
    encoded = data()
    labels = encoded.labels.numpy()
    scores = predict_scores(model, encoded, batch_size=7)

    metrics = Evaluator(model).metrics(scores, labels, encoded.groups)

    clicked = labels[:, 0] == 1
    assert metrics["click"]["auc"] == pytest.approx(
        roc_auc_score(labels[:, 0], scores["click"])
    )
    assert metrics["click"]["logloss"] == pytest.approx(
        log_loss(labels[:, 0], scores["click"]), rel=1e-5
    )
    assert metrics["click"]["rows"] == 50
    assert metrics["click"]["positives"] == labels[:, 0].sum()
    assert metrics["conv"]["auc"] == pytest.approx(
        roc_auc_score(labels[clicked, 1], scores["conv"][clicked])
    )
    assert metrics["conv"]["rows"] == clicked.sum()
    assert metrics["conv@entire"]["auc"] == pytest.approx(
        roc_auc_score(labels[:, 1], scores["conv@entire"])
    )
    assert metrics["rating"]["mse"] == pytest.approx(
        mean_squared_error(labels[:, 2], scores["rating"]), rel=1e-5
    )
    assert set(metrics["rating"]) == {
        "mse",
        "mae",
        "rmse",
        "xauc",
        "calibration",
        "rows",
    }
    assert "gauc" in metrics["click"]


def test_metrics_keep_task_names_whatever_the_task_order():
    encoded = data()
    labels = encoded.labels.numpy()
    scores = predict_scores(model_for(), encoded, batch_size=64)
    swapped = (TASKS[2], TASKS[0], TASKS[1])

    first = Evaluator(model_for()).metrics(scores, labels)
    second = Evaluator(model_for(swapped)).metrics(scores, labels[:, [2, 0, 1]])

    assert first == second


def test_one_class_task_gets_null_auc_and_one_warning(caplog):
    model = model_for()
    encoded = data()
    labels = encoded.labels.numpy().copy()
    labels[:, 0] = 1.0  # every row clicked: click has one class
    scores = predict_scores(model, encoded, batch_size=64)
    evaluator = Evaluator(model)

    with caplog.at_level(logging.WARNING, logger="mtlrec"):
        for _ in range(3):
            metrics = evaluator.metrics(scores, labels, split="valid")

    assert metrics["click"]["auc"] is None
    assert metrics["click"]["logloss"] is not None
    warnings = [r for r in caplog.records if "click " in r.getMessage()]
    assert len(warnings) == 1
    assert "one label class" in warnings[0].getMessage()


def test_child_task_with_no_rows_in_its_space(caplog):
    model = model_for()
    encoded = data()
    labels = encoded.labels.numpy().copy()
    labels[:, 0] = 0.0
    labels[:, 1] = 0.0
    scores = predict_scores(model, encoded, batch_size=64)

    with caplog.at_level(logging.WARNING, logger="mtlrec"):
        metrics = Evaluator(model).metrics(scores, labels, split="test")

    assert metrics["conv"] == {"auc": None, "logloss": None}
    assert any("no rows in its sample space" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ([ObjectiveTerm(task="a", metric="auc")], 0.8),
        ([ObjectiveTerm(task="a", metric="logloss")], -0.4),
        ([ObjectiveTerm(task="a", metric="auc", weight=2.0)], 1.6),
        (
            [
                ObjectiveTerm(task="a", metric="auc"),
                ObjectiveTerm(task="b", metric="mse", weight=0.5),
            ],
            0.8 - 0.5 * 2.0,
        ),
        ([ObjectiveTerm(task="a", metric="auc", direction="min")], -0.8),
        (
            [
                ObjectiveTerm(task="a", metric="auc"),
                ObjectiveTerm(task="c", metric="auc"),
            ],
            0.8,
        ),
        ([ObjectiveTerm(task="c", metric="auc")], None),
    ],
)
def test_objective_value(terms, expected):
    metrics = {
        "a": {"auc": 0.8, "logloss": 0.4},
        "b": {"mse": 2.0},
        "c": {"auc": None},
    }

    value = objective_value(metrics, terms)

    assert value == (pytest.approx(expected) if expected is not None else None)
