"""Tests of mtlrec/serving/_encoding.py: RowEncoder equals FeatureMap.transform."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtlrec.data import read_census_income
from mtlrec.features import CategoricalEncoder, FeatureMap, NumericEncoder
from mtlrec.serving import RowEncoder, check_rows

FEATURES = FeatureMap(
    [
        CategoricalEncoder("city", ["paris", "lyon"]),
        CategoricalEncoder("year", ["94", "95", "0.5"]),
        CategoricalEncoder("flag", ["True"]),
    ],
    [
        NumericEncoder("age", "standard", 40.0, 10.0, 38.0, True),
        NumericEncoder("price", "minmax", 1.0, 4.0, 2.0, False),
    ],
    4,
)


def _encode(rows):
    return RowEncoder(FEATURES).encode(check_rows(rows, FEATURES))


def test_hand_computed_arrays():
    rows = [
        {"city": " lyon ", "year": 95, "flag": True, "age": 50, "price": 3.0},
        {"city": None, "year": 0.5, "flag": False, "price": None},
        {"city": "rome", "year": 94.0, "flag": None, "age": None, "price": 5},
    ]
    ids, dense = _encode(rows)
    # Stripped "lyon" is id 2; null and unseen values get the OOV id 0;
    # 94.0 is the key "94". Ages: (50 - 40) / 10 = 1, missing -> fill 38 ->
    # -0.2 with flag 1; prices (p - 1) / 4 with missing -> fill 2.
    assert ids.tolist() == [[2, 2, 1], [0, 3, 0], [0, 1, 0]]
    np.testing.assert_allclose(
        dense, [[1.0, 0.0, 0.5], [-0.2, 1.0, 0.25], [-0.2, 1.0, 1.0]], rtol=1e-6
    )
    assert (ids.dtype, dense.dtype) == (np.int64, np.float32)


def test_equals_transform_of_a_frame_of_the_same_rows():
    frame = pd.DataFrame(
        {
            "city": ["paris", "x", None, " lyon"],
            "year": [94, 95, 7, 94],
            "flag": [True, False, True, True],
            "age": [1.5, math.nan, 70.0, 38.0],
            "price": [2.0, 1.0, math.nan, 9.0],
        }
    )
    rows = json.loads(frame.to_json(orient="records"))
    for got, want in zip(_encode(rows), FEATURES.transform(frame), strict=True):
        np.testing.assert_array_equal(got, want)


def test_rows_of_joined_requests_encode_as_they_would_alone():
    # A float 94.0 in one request and a string "94" in another: each gets the
    # key "94", as in a column of its own type.
    encoder = RowEncoder(FEATURES)
    first = check_rows([{"city": "lyon", "year": 94.0, "flag": 1}], FEATURES)
    second = check_rows([{"city": "paris", "year": "94", "flag": "True"}], FEATURES)
    joined, _ = encoder.encode(first + second)
    assert joined.tolist() == [[2, 1, 0], [1, 1, 1]]


def test_cache_is_bounded():
    encoder = RowEncoder(FEATURES, max_cached_keys=3)
    for year in range(10):
        encoder.encode(check_rows([{"city": "a", "year": year, "flag": 0}], FEATURES))
        assert len(encoder._keys) <= 3 + 3
    ids, _ = encoder.encode(
        check_rows([{"city": "paris", "year": 95, "flag": True}], FEATURES)
    )
    assert ids.tolist() == [[1, 2, 1]]


def test_no_categorical_features():
    features = FeatureMap([], [NumericEncoder("x", "none", 0.0, 1.0, 0.0, False)], 4)
    ids, dense = RowEncoder(features).encode(check_rows([{"x": 2}, {}], features))
    assert ids.shape == (2, 0)
    assert dense.tolist() == [[2.0], [0.0]]


CENSUS = Path(os.environ.get("MTLREC_DATA_DIR", "/nonexistent")) / "census-income-kdd"


@pytest.mark.slow
@pytest.mark.skipif(not CENSUS.is_dir(), reason="needs MTLREC_DATA_DIR with census")
def test_census_rows_encode_like_the_file():
    frame = read_census_income(CENSUS / "census-income.test.gz")
    names = [c for c in frame.columns if c not in ("income_50k", "instance_weight")]
    numeric = ["age", "wage_per_hour", "capital_gains", "num_emp", "weeks_worked"]
    train, test = frame.iloc[:20000], frame.iloc[20000:30000]
    features = FeatureMap(
        [CategoricalEncoder.fit(train[c], 1) for c in names if c not in numeric],
        [NumericEncoder.fit(train[c], "standard") for c in numeric],
        4,
    )
    rows = json.loads(test[names].to_json(orient="records"))
    encoded = RowEncoder(features).encode(check_rows(rows, features))
    for got, want in zip(encoded, features.transform(test), strict=True):
        np.testing.assert_array_equal(got, want)
