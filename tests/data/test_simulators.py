"""The simulated ad funnel and position-biased feed."""

from __future__ import annotations

import numpy as np
import pytest

from mtlrec.data import ad_funnel_synthetic, funnel_step_names, position_feed_synthetic


def test_funnel_labels_are_chained_and_match_true_probabilities() -> None:
    frame = ad_funnel_synthetic(20000, num_steps=5, seed=3)
    names = funnel_step_names(5)
    assert names == ["click", "application", "approval", "activation", "step5"]
    labels = frame[names].to_numpy()
    assert (np.diff(labels, axis=1) <= 0).all()  # reaching a step needs the previous
    for name in names:
        # Empirical rate within 4 standard errors of the mean true probability.
        truth = frame[f"true_p_{name}"].mean()
        error = np.sqrt(truth * (1 - truth) / len(frame))
        assert abs(frame[name].mean() - truth) < 4 * error


def test_funnel_is_seeded_and_checks_length() -> None:
    a, b = ad_funnel_synthetic(50, seed=1), ad_funnel_synthetic(50, seed=1)
    assert a.equals(b)
    with pytest.raises(ValueError, match="num_steps must be >= 2"):
        ad_funnel_synthetic(10, num_steps=1)


def test_feed_positions_and_examination() -> None:
    frame = position_feed_synthetic(2000, list_size=5, seed=0)
    positions = frame.groupby("list_id")["position"].apply(sorted)
    assert all(p == [1, 2, 3, 4, 5] for p in positions)
    assert (frame["like"] <= frame["click"]).all()
    # Click rate over relevance estimates examination 1 / k.
    by_position = frame.groupby("position")
    examination = by_position["click"].mean() / by_position["relevance"].mean()
    assert examination.to_numpy() == pytest.approx(
        [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], abs=0.06
    )
    # The unbiased label follows relevance at every position.
    assert frame["relevant"].mean() == pytest.approx(
        frame["relevance"].mean(), abs=0.01
    )


def test_feed_policy_ranks_fresh_items_first() -> None:
    frame = position_feed_synthetic(2000, seed=0)
    top = frame[frame["position"] == 1]["freshness"].mean()
    bottom = frame[frame["position"] == 10]["freshness"].mean()
    assert top > bottom + 1.0
