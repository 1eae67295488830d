"""Model-specific loss terms: AITM's calibrator and uncertainty weighting."""

from __future__ import annotations

import math

import pytest
import torch

from mtlrec.losses import behavioural_calibrator, uncertainty_term


def test_calibrator_hand_example() -> None:
    probs = torch.tensor([[0.5, 0.6, 0.3], [0.2, 0.1, 0.4]])
    # Row 1: max(0.1, 0) + max(-0.3, 0) = 0.1; row 2: 0 + 0.3; mean 0.2.
    assert float(behavioural_calibrator(probs)) == pytest.approx(0.2)


def test_calibrator_is_a_mean_not_a_sum() -> None:
    probs = torch.tensor([[0.1, 0.4], [0.5, 0.2]])
    doubled = torch.cat([probs, probs, probs])
    assert float(behavioural_calibrator(doubled)) == pytest.approx(
        float(behavioural_calibrator(probs))
    )


def test_calibrator_is_zero_on_a_monotone_funnel() -> None:
    probs = torch.tensor([[0.9, 0.5, 0.5, 0.1]])
    assert float(behavioural_calibrator(probs)) == 0.0


def test_calibrator_rejects_one_step() -> None:
    with pytest.raises(ValueError, match="K >= 2"):
        behavioural_calibrator(torch.ones(4, 1))


def test_uncertainty_term_turns_sum_into_weighted_sum() -> None:
    losses = torch.tensor([1.0, 2.0])
    log_vars = torch.tensor([0.0, math.log(2.0)])
    total = losses.sum() + uncertainty_term(losses, log_vars)
    # exp(0) * 1 + 0 + exp(-ln 2) * 2 + ln 2 = 2 + ln 2.
    assert float(total) == pytest.approx(2.0 + math.log(2.0))
    assert float(uncertainty_term(losses, torch.zeros(2))) == 0.0
