"""Validation of ``POST /predict`` bodies into a frame of raw feature values.

A body is ``{"rows": [{feature: value, ...}, ...]}``. Every categorical
feature of the run must be present in every row; its value is a string, a
number, a boolean or null (null and unseen values get the out-of-vocabulary
id). A numeric feature may be omitted or null (both become the training fill
value); when given it is a finite number. A run trained with
``data.domain_column`` also needs that column in every row, holding a domain
seen in training. Keys that are not features (labels, ids) are ignored. The
rows are then encoded with the run's own :class:`~mtlrec.features.FeatureMap`
(see :class:`RowEncoder`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from mtlrec.features import FeatureMap, canonical_strings

__all__ = ["RequestError", "check_rows", "parse_rows"]

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
    except RecursionError:
        raise RequestError(
            400, "the body nests JSON too deeply; send rows of scalar values"
        ) from None
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


def check_rows(
    rows: list[dict[str, Any]], feature_map: FeatureMap
) -> list[dict[str, Any]]:
    """Check every feature value of parsed rows and keep only the features.

    Args:
        rows: Row objects from :func:`parse_rows`.
        feature_map: The run's feature map (which features exist, of what kind).

    Returns:
        One dict per row holding exactly the feature keys (and the domain
        column, if the run has one): categorical values as sent (an integral
        float becomes an int, as the feature map would key it), numeric
        values as floats with NaN for omitted or null ones.

    Raises:
        RequestError: 422 for a missing categorical feature or domain, a
            value of the wrong type (an object or list anywhere, a string or
            boolean for a numeric feature, a non-finite number) or a domain
            not seen in training.
    """
    categorical = [e.name for e in feature_map.categorical]
    numeric = [e.name for e in feature_map.numeric]
    checked = []
    for i, row in enumerate(rows):
        values = {name: _category(row, name, i) for name in categorical}
        for name in numeric:
            values[name] = _number(row.get(name), name, i)
        checked.append(values)
    if feature_map.domain_column is not None:
        _check_domains(rows, checked, feature_map)
    return checked


def _check_domains(
    rows: list[dict[str, Any]], checked: list[dict[str, Any]], feature_map: FeatureMap
) -> None:
    """Copy each row's domain into ``checked``; refuse absent or unseen ones."""
    column = feature_map.domain_column
    assert column is not None  # checked by the caller
    values = []
    for i, row in enumerate(rows):
        value = row.get(column)
        if value is None or not isinstance(value, _CATEGORICAL_TYPES):
            got = "no value" if value is None else _kind(value)
            raise RequestError(
                422,
                f"row {i} needs its domain in {column!r} (a string or number; the "
                f"run was trained on the domains {feature_map.domains!r}), got {got}",
                f"rows[{i}].{column}",
            )
        values.append(value)
    keys = canonical_strings(pd.Series(values, dtype=object)).astype(str)
    known = set(feature_map.domains)
    for i, key in enumerate(keys):
        if key not in known:
            raise RequestError(
                422,
                f"row {i} has the domain {values[i]!r} in {column!r}, which the run "
                f"was not trained on; known domains: {feature_map.domains!r}",
                f"rows[{i}].{column}",
            )
    for values_of_row, value in zip(checked, values, strict=True):
        values_of_row[column] = value


def _category(row: dict[str, Any], name: str, index: int) -> Any:
    value = row.get(name, _ABSENT)
    if value is _ABSENT:
        raise RequestError(
            422,
            f"row {index} lacks the categorical feature {name!r}; every row needs "
            "it (send null for an unknown value)",
            f"rows[{index}].{name}",
        )
    if not isinstance(value, _CATEGORICAL_TYPES):
        raise RequestError(
            422,
            f"categorical feature {name!r} must be a string, number, boolean or "
            f"null, got {_kind(value)}",
            f"rows[{index}].{name}",
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


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
