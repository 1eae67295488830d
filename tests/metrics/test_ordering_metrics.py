"""XAUC and calibration against hand counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mtlrec.metrics import auc, calibration, xauc


def test_xauc_counts_ordered_pairs() -> None:
    # Pairs (1,2) and (1,3) are ordered like the labels, (2,3) is not.
    assert xauc(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.3, 0.2])) == pytest.approx(
        2 / 3
    )


def test_xauc_counts_tied_scores_as_half_and_skips_tied_labels() -> None:
    # Label pair (2, 2) is skipped; score tie on (1, 2a) counts 1/2.
    labels = np.array([1.0, 2.0, 2.0, 3.0])
    scores = np.array([0.1, 0.1, 0.5, 0.2])
    # pairs: (1,2a) .5, (1,2b) 1, (1,3) 1, (2a,3) 1, (2b,3) 0 -> 3.5 / 5
    assert xauc(labels, scores) == pytest.approx(0.7)


def test_xauc_matches_brute_force_and_auc() -> None:
    rng = np.random.default_rng(0)
    y = np.round(rng.exponential(size=60), 1)
    s = np.round(y + rng.normal(size=60), 1)
    good = total = 0.0
    for i, j in itertools.combinations(range(60), 2):
        if y[i] != y[j]:
            total += 1
            product = (y[i] - y[j]) * (s[i] - s[j])
            good += 1.0 if product > 0 else 0.5 if product == 0 else 0.0
    assert xauc(y, s) == pytest.approx(good / total)
    binary = (y > 1).astype(float)
    assert xauc(binary, s) == pytest.approx(auc(binary, s))


def test_xauc_degenerate_inputs() -> None:
    assert xauc(np.ones(4), np.arange(4.0)) is None
    assert xauc(np.arange(4.0), np.ones(4)) == 0.5


def test_calibration_is_mean_prediction_over_mean_label() -> None:
    labels = np.array([0.0, 1.0, 1.0, 0.0])
    assert calibration(labels, np.array([0.2, 0.6, 0.6, 0.2])) == pytest.approx(0.8)
    assert calibration(np.zeros(3), np.ones(3)) is None
