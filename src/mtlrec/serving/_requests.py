"""Validation of ``POST /predict`` bodies into a frame of raw feature values.

A body is ``{"rows": [{feature: value, ...}, ...]}``. Every categorical
feature of the run must be present in every row; its value is a string, a
number, a boolean or null (null and unseen values get the out-of-vocabulary
id). A numeric feature may be omitted or null (both become the training fill
value); when given it is a finite number. Keys that are not features (labels,
ids) are ignored. The frame is then encoded by the run's own
:class:`~mtlrec.features.FeatureMap`, exactly as in training.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from mtlrec.features import FeatureMap

__all__ = ["RequestError", "parse_rows", "rows_to_frame"]

_ABSENT = object()
_CATEGORICAL_TYPES = (str, int, float, bool, type(None))
_NUMERIC_TYPES = (int, float)


class RequestError(Exception):
    """A request the service refuses; becomes a 4xx JSON response.

    Args:
        status: The HTTP status code (400, 413, 422).
        message: What is wrong and how to fix it.
        field: Where in the body, e.g. ``rows[3].age`` (None for the whole body).
    """

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, Any]:
        """Return the response body ``{"error": {"message", "field"}}``."""
        return {"error": {"message": self.message, "field": self.field}}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send null for a missing value")


def parse_rows(body: bytes, max_rows: int) -> list[dict[str, Any]]:
    """Parse a request body into its list of row objects.

    Args:
        body: The raw body (UTF-8 JSON).
        max_rows: Most rows accepted (``serving.max_batch_rows``).

    Returns:
        The rows, each a dict of feature name to raw value.

    Raises:
        RequestError: 400 for a body that is not JSON, 422 for one whose shape
            is wrong (no ``rows`` list, a row that is not an object, no rows or
            more than ``max_rows``).
    """
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RequestError(
            422, f"the body must be a JSON object, got {_kind(document)}"
        )
    extra = sorted(set(document) - {"rows"})
    if extra:
        raise RequestError(
            422, f"unknown keys {extra!r}; the body holds only 'rows'", extra[0]
        )
    rows = document.get("rows", _ABSENT)
    if rows is _ABSENT:
        raise RequestError(422, "the body lacks 'rows', a list of row objects", "rows")
    if not isinstance(rows, list):
        raise RequestError(
            422, f"'rows' must be a list of row objects, got {_kind(rows)}", "rows"
        )
    if not rows:
        raise RequestError(422, "'rows' is empty; send at least one row", "rows")
    if len(rows) > max_rows:
        raise RequestError(
            422,
            f"'rows' holds {len(rows)} rows, more than serving.max_batch_rows="
            f"{max_rows}; split the request",
            "rows",
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(
                422, f"each row must be a JSON object, got {_kind(row)}", f"rows[{i}]"
            )
    return rows


def rows_to_frame(rows: list[dict[str, Any]], feature_map: FeatureMap) -> pd.DataFrame:
    """Collect the feature columns of validated rows into a raw frame.

    Args:
        rows: Row objects from :func:`parse_rows`.
        feature_map: The run's feature map (which features exist, of what kind).

    Returns:
        One column per feature, values as sent (missing numerics as NaN), for
        :meth:`FeatureMap.transform`.

    Raises:
        RequestError: 422 for a missing categorical feature or a value of the
            wrong type (an object or list anywhere, a string or boolean for a
            numeric feature, a non-finite number).
    """
    columns: dict[str, pd.Series] = {}
    for categorical in feature_map.categorical:
        columns[categorical.name] = _categorical_column(rows, categorical.name)
    for numeric in feature_map.numeric:
        values = [
            _number(row.get(numeric.name), numeric.name, i)
            for i, row in enumerate(rows)
        ]
        columns[numeric.name] = pd.Series(np.array(values, np.float64))
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


def _categorical_column(rows: list[dict[str, Any]], name: str) -> pd.Series:
    values = [row.get(name, _ABSENT) for row in rows]
    for i, value in enumerate(values):
        if value is _ABSENT:
            raise RequestError(
                422,
                f"row {i} lacks the categorical feature {name!r}; every row needs "
                "it (send null for an unknown value)",
                f"rows[{i}].{name}",
            )
        if not isinstance(value, _CATEGORICAL_TYPES):
            raise RequestError(
                422,
                f"categorical feature {name!r} must be a string, number, boolean "
                f"or null, got {_kind(value)}",
                f"rows[{i}].{name}",
            )
    # pandas infers the column type as a file reader would (ints stay ints), so
    # the feature map turns values into the same vocabulary keys as in training.
    return pd.Series(values)


def _number(value: Any, name: str, row: int) -> float:
    if value is None:
        return math.nan
    number = math.inf
    if isinstance(value, _NUMERIC_TYPES) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            pass
    if not math.isfinite(number):
        raise RequestError(
            422,
            f"numeric feature {name!r} must be a finite number or null, got "
            f"{_kind(value)}",
            f"rows[{row}].{name}",
        )
    return number


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    text = json.dumps(value) if type(value) in names else repr(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"{names[type(value)]} ({shown})" if type(value) in names else shown
