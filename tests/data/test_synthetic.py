"""Tests of the MMoE synthetic generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.data import mmoe_synthetic


def test_columns_shapes_and_types():
    frame = mmoe_synthetic(20, input_dim=5, num_sines=3, seed=1)

    assert frame.shape == (20, 7)
    assert list(frame.columns) == ["x0", "x1", "x2", "x3", "x4", "y1", "y2"]
    assert frame["x0"].dtype == np.float32
    assert frame["y1"].dtype == np.float64


def test_same_seed_same_rows_other_seed_other_rows():
    first = mmoe_synthetic(30, input_dim=6, seed=5)

    pd.testing.assert_frame_equal(first, mmoe_synthetic(30, input_dim=6, seed=5))
    assert not first.equals(mmoe_synthetic(30, input_dim=6, seed=6))


def test_inputs_are_standard_normal():
    frame = mmoe_synthetic(20000, input_dim=4, num_sines=0, seed=0)
    x = frame[["x0", "x1", "x2", "x3"]].to_numpy()

    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=0.03)


@pytest.mark.parametrize("correlation", [-0.5, 0.0, 0.3, 0.9, 1.0])
def test_linear_case_label_correlation_equals_p(correlation):
    frame = mmoe_synthetic(
        20000, input_dim=8, correlation=correlation, num_sines=0, noise_std=0.0
    )

    pearson = np.corrcoef(frame["y1"], frame["y2"])[0, 1]

    assert pearson == pytest.approx(correlation, abs=0.02)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_linear_case_labels_are_projections_with_cosine_p(scale):
    # With no sines and no noise, y = x.w exactly: recover w by least squares.
    frame = mmoe_synthetic(
        200, input_dim=6, correlation=0.6, scale=scale, num_sines=0, noise_std=0.0
    )
    x = frame[[f"x{i}" for i in range(6)]].to_numpy(np.float64)
    w1 = np.linalg.lstsq(x, frame["y1"].to_numpy(), rcond=None)[0]
    w2 = np.linalg.lstsq(x, frame["y2"].to_numpy(), rcond=None)[0]

    cosine = w1 @ w2 / (np.linalg.norm(w1) * np.linalg.norm(w2))

    assert cosine == pytest.approx(0.6, abs=1e-4)
    assert np.linalg.norm(w1) == pytest.approx(scale, rel=1e-4)
    assert np.linalg.norm(w2) == pytest.approx(scale, rel=1e-4)


def test_noise_has_the_requested_spread():
    # With p = 1 the two tasks share w, so y1 - y2 is the difference of noises.
    frame = mmoe_synthetic(20000, input_dim=4, correlation=1.0, noise_std=0.5)

    assert np.std(frame["y1"] - frame["y2"]) == pytest.approx(0.5 * 2**0.5, rel=0.03)


def test_nonlinear_case_is_positively_correlated_but_below_p():
    frame = mmoe_synthetic(20000, input_dim=8, correlation=0.5, num_sines=10, seed=2)

    pearson = np.corrcoef(frame["y1"], frame["y2"])[0, 1]

    assert 0.0 < pearson < 0.5 + 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"correlation": 1.5}, r"correlation must be in \[-1, 1\], got 1\.5"),
        ({"input_dim": 1}, r"input_dim must be >= 2"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mmoe_synthetic(10, **kwargs)
