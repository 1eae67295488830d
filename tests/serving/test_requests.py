"""Tests of mtlrec/serving/_requests.py: body parsing and row validation."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from mtlrec.features import CategoricalEncoder, FeatureMap, NumericEncoder
from mtlrec.serving import RequestError, parse_rows, rows_to_frame

FEATURES = FeatureMap(
    [CategoricalEncoder("city", ["paris", "lyon"]), CategoricalEncoder("year", ["94"])],
    [NumericEncoder("age", "standard", 40.0, 10.0, 38.0, True)],
    4,
)


def test_parse_rows_returns_the_row_objects():
    body = json.dumps({"rows": [{"city": "paris"}, {"city": None}]}).encode()
    assert parse_rows(body, 2) == [{"city": "paris"}, {"city": None}]


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        (b'{"rows": [', 400, None, "the body is not valid JSON"),
        (b"\xff\xfe", 400, None, "the body is not valid JSON"),
        (b'{"rows": [{"age": NaN}]}', 400, None, "NaN is not valid JSON; send null"),
        (b"[1, 2]", 422, None, "the body must be a JSON object, got a list"),
        (b'{"row": []}', 422, "row", "unknown keys \\['row'\\]"),
        (b"{}", 422, "rows", "the body lacks 'rows'"),
        (b'{"rows": {"city": 1}}', 422, "rows", "'rows' must be a list"),
        (b'{"rows": []}', 422, "rows", "'rows' is empty"),
        (b'{"rows": [{}, {}, {}]}', 422, "rows", "holds 3 rows, more than serving"),
        (b'{"rows": [{}, 5]}', 422, "rows[1]", "each row must be a JSON object"),
    ],
)
def test_parse_rows_refuses(body, status, field, message):
    with pytest.raises(RequestError, match=message) as info:
        parse_rows(body, 2)
    error = info.value
    assert (error.status, error.field) == (status, field)
    assert error.to_json() == {"error": {"message": error.message, "field": field}}


def test_rows_to_frame_keeps_raw_values_and_fills_numerics():
    rows = [
        {"city": "paris", "year": 94, "age": 30, "label": 1},
        {"city": None, "year": 94.0, "age": None},
        {"city": "rome", "year": 95},
    ]
    frame = rows_to_frame(rows, FEATURES)
    assert list(frame.columns) == ["city", "year", "age"]
    assert frame["age"].iloc[0] == 30.0
    assert np.isnan(frame["age"].iloc[1]) and np.isnan(frame["age"].iloc[2])

    ids, dense = FEATURES.transform(frame)
    # paris is id 1; null and the unseen "rome" are the OOV id 0; 94 and 94.0
    # are one key. Missing ages become the fill 38: (38 - 40) / 10 = -0.2.
    assert ids.tolist() == [[1, 1], [0, 1], [0, 0]]
    np.testing.assert_allclose(dense, [[-1.0, 0.0], [-0.2, 1.0], [-0.2, 1.0]])


def test_rows_to_frame_encodes_like_a_file_frame():
    rows = [{"city": "lyon", "year": 94, "age": 52.5}, {"city": "x", "year": None}]
    from_file = pd.DataFrame(
        {"city": ["lyon", "x"], "year": [94, math.nan], "age": [52.5, math.nan]}
    )
    for got, want in zip(
        FEATURES.transform(rows_to_frame(rows, FEATURES)),
        FEATURES.transform(from_file),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"year": 94}, "rows[0].city", "row 0 lacks the categorical feature 'city'"),
        (
            {"city": {"a": 1}, "year": 94},
            "rows[0].city",
            "'city' must be a string, number, boolean or null, got an object",
        ),
        (
            {"city": "paris", "year": [94]},
            "rows[0].year",
            "'year' must be a string, number, boolean or null, got a list",
        ),
        (
            {"city": "paris", "year": 94, "age": "41"},
            "rows[0].age",
            "'age' must be a finite number or null, got a string",
        ),
        (
            {"city": "paris", "year": 94, "age": True},
            "rows[0].age",
            "'age' must be a finite number or null, got a boolean",
        ),
        (
            {"city": "paris", "year": 94, "age": 1e400},
            "rows[0].age",
            "'age' must be a finite number or null, got inf",
        ),
        (
            {"city": "paris", "year": 94, "age": 10**400},
            "rows[0].age",
            "'age' must be a finite number or null",
        ),
    ],
)
def test_rows_to_frame_refuses(row, field, message):
    with pytest.raises(RequestError, match=message) as info:
        rows_to_frame([row], FEATURES)
    assert (info.value.status, info.value.field) == (422, field)
    assert len(info.value.message) < 200
