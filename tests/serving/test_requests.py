"""Tests of mtlrec/serving/_requests.py: body parsing and row validation."""

import json
import math

import pytest

from mtlrec.features import CategoricalEncoder, FeatureMap, NumericEncoder
from mtlrec.serving import RequestError, check_rows, parse_rows

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
        (b"[" * 100_000 + b"]" * 100_000, 400, None, "nests JSON too deeply"),
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


def test_check_rows_keeps_features_only_and_fills_numerics():
    rows = [
        {"city": "paris", "year": 94, "age": 30, "label": 1},
        {"city": None, "year": 94.0, "age": None},
        {"city": "rome", "year": "95"},
    ]
    checked = check_rows(rows, FEATURES)
    assert checked[0] == {"city": "paris", "year": 94, "age": 30.0}
    assert checked[1]["year"] == 94 and isinstance(checked[1]["year"], int)
    assert checked[2]["year"] == "95"
    assert math.isnan(checked[1]["age"]) and math.isnan(checked[2]["age"])


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
def test_check_rows_refuses(row, field, message):
    with pytest.raises(RequestError, match=message) as info:
        check_rows([row], FEATURES)
    assert (info.value.status, info.value.field) == (422, field)
    assert len(info.value.message) < 200
