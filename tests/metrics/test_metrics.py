"""Tests of the metric functions against scikit-learn and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mtlrec.metrics import auc, gauc, logloss, mae, mse, rmse


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # many ties

    assert auc(labels, scores) == pytest.approx(skm.roc_auc_score(labels, scores))


def test_auc_small_hand_case():
    # Pairs (pos, neg): (0.8 > 0.3), (0.8 > 0.5), (0.5 = 0.5) counts one half.
    assert auc([1, 0, 1, 0], [0.8, 0.3, 0.5, 0.5]) == pytest.approx(3.5 / 4)


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0], []])
def test_auc_one_class_is_none(labels):
    assert auc(np.array(labels), np.zeros(len(labels))) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_logloss_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    probabilities = rng.random(200)

    assert logloss(labels, probabilities) == pytest.approx(
        skm.log_loss(labels, probabilities)
    )


def test_logloss_clips_probabilities():
    value = logloss(np.array([1, 0]), np.array([0.0, 1.0]))

    assert value == pytest.approx(-np.log(1e-7), rel=1e-6)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    labels, predictions = rng.normal(size=100), rng.normal(size=100)

    assert mse(labels, predictions) == pytest.approx(
        skm.mean_squared_error(labels, predictions)
    )
    assert mae(labels, predictions) == pytest.approx(
        skm.mean_absolute_error(labels, predictions)
    )
    assert rmse(labels, predictions) == pytest.approx(
        np.sqrt(skm.mean_squared_error(labels, predictions))
    )


def test_gauc_by_hand_skips_one_class_groups():
    labels = np.array([1, 0, 0, 1, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.1, 0.8, 0.3, 0.5, 0.2, 0.7, 0.4, 0.6])
    groups = np.array(["a", "a", "a", "b", "b", "c", "c", "d", "d"])
    # a: pos 0.9 vs neg 0.1, 0.8 -> 1.0, 3 rows; b: pos 0.3 vs neg 0.5 -> 0.0,
    # 2 rows; c: positives only, d: negatives only -> skipped.
    expected = (1.0 * 3 + 0.0 * 2) / 5

    assert gauc(labels, scores, groups) == pytest.approx(expected)


def test_gauc_matches_per_group_sklearn():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 6, 400)
    labels = rng.integers(0, 2, 400)
    scores = np.round(rng.random(400), 1)

    total = weight = 0.0
    for g in np.unique(groups):
        rows = groups == g
        if len(set(labels[rows])) == 2:
            total += rows.sum() * skm.roc_auc_score(labels[rows], scores[rows])
            weight += rows.sum()

    assert gauc(labels, scores, groups) == pytest.approx(total / weight)


def test_gauc_without_any_two_class_group_is_none():
    assert (
        gauc(np.array([1, 1, 0]), np.array([0.1, 0.2, 0.3]), np.array([1, 1, 2]))
        is None
    )
