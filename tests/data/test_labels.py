"""Tests of mtlrec.data.build_labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.config import TaskConfig
from mtlrec.data import build_labels, check_both_classes


def test_binary_and_regression_columns_in_task_order():
    frame = pd.DataFrame({"c": [0, 1, 1], "r": [0.5, -1.0, 2.0]})
    tasks = [
        TaskConfig(name="r", label="r", type="regression"),
        TaskConfig(name="c", label="c"),
    ]

    labels = build_labels(frame, tasks, "here")

    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels, [[0.5, 0], [-1, 1], [2, 1]])


def test_boolean_and_float_zero_one_labels():
    frame = pd.DataFrame({"b": [True, False], "f": [1.0, 0.0]})
    tasks = [TaskConfig(name="b", label="b"), TaskConfig(name="f", label="f")]

    np.testing.assert_array_equal(build_labels(frame, tasks, "here"), [[1, 1], [0, 0]])


def test_positive_values_with_padding_and_numbers():
    frame = pd.DataFrame({"s": [" 50000+", "- 50000", "50000+"], "n": [3, 4, 3]})
    tasks = [
        TaskConfig(name="s", label="s", positive_values=["50000+"]),
        TaskConfig(name="n", label="n", positive_values=[3]),
    ]

    np.testing.assert_array_equal(
        build_labels(frame, tasks, "here"), [[1, 1], [0, 0], [1, 1]]
    )


def test_positive_above():
    frame = pd.DataFrame({"watch": [0.0, 10.0, 30.5]})
    tasks = [TaskConfig(name="long", label="watch", positive_above=10.0)]

    np.testing.assert_array_equal(build_labels(frame, tasks, "here")[:, 0], [0, 0, 1])


def test_missing_label_column():
    frame = pd.DataFrame({"click": [0, 1]})
    tasks = [TaskConfig(name="like", label="liked")]

    with pytest.raises(ValueError, match=r"label column 'liked' is not in split 'x'"):
        build_labels(frame, tasks, "split 'x'")


@pytest.mark.parametrize(("value", "shown"), [(2, "2"), (-1, "-1"), (0.5, "0.5")])
def test_binary_label_outside_zero_one(value, shown):
    frame = pd.DataFrame({"click": [0, 1, value]})

    # The value as written, not a NumPy scalar's repr (np.float64(0.5)).
    with pytest.raises(ValueError, match=rf"holds {shown}; binary labels must be 0"):
        build_labels(frame, [TaskConfig(name="c", label="click")], "here")


def test_string_labels():
    frame = pd.DataFrame({"click": ["yes", "no"]})

    with pytest.raises(ValueError, match=r"non-numeric values such as 'yes'"):
        build_labels(frame, [TaskConfig(name="c", label="click")], "here")


@pytest.mark.parametrize("task_type", ["binary", "regression"])
def test_nan_labels(task_type):
    frame = pd.DataFrame({"y": [0.0, np.nan, 1.0]})
    task = TaskConfig(name="t", label="y", type=task_type)

    with pytest.raises(ValueError, match=r"has 1 missing values"):
        build_labels(frame, [task], "here")


def test_nan_in_positive_values_column_is_an_error():
    frame = pd.DataFrame({"s": ["a", None]})
    task = TaskConfig(name="t", label="s", positive_values=["a"])

    with pytest.raises(ValueError, match=r"has 1 missing values"):
        build_labels(frame, [task], "here")


def test_child_label_may_be_missing_outside_parent_space():
    frame = pd.DataFrame({"click": [1, 0, 1], "conv": [1.0, np.nan, 0.0]})
    tasks = [
        TaskConfig(name="click", label="click"),
        TaskConfig(name="conv", label="conv", parent="click"),
    ]

    labels = build_labels(frame, tasks, "here")

    np.testing.assert_array_equal(labels, [[1, 1], [0, 0], [1, 0]])


def test_child_label_missing_inside_parent_space():
    frame = pd.DataFrame({"click": [1, 1], "conv": [1.0, np.nan]})
    tasks = [
        TaskConfig(name="click", label="click"),
        TaskConfig(name="conv", label="conv", parent="click"),
    ]

    with pytest.raises(ValueError, match=r"'conv'.*1 missing values"):
        build_labels(frame, tasks, "here")


CLICK_CONV = [
    TaskConfig(name="click", label="click"),
    TaskConfig(name="conv", label="conv", parent="click"),
    TaskConfig(name="value", label="value", type="regression"),
]


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([[0, 0, 1], [0, 0, 2]], r"'click' has no positive labels among the 2 rows"),
        ([[1, 1, 1], [0, 0, 2]], r"'conv' has no negative labels among the 1 rows"),
        ([[0, 0, 1], [1, 0, 2]], r"'conv' has no positive .* in its parent's space"),
    ],
)
def test_one_class_training_labels_are_refused(rows, match):
    with pytest.raises(ValueError, match=match):
        check_both_classes(np.array(rows, dtype=np.float32), CLICK_CONV, "here")


def test_both_classes_pass_and_regression_is_not_checked():
    labels = np.array([[1, 1, 5], [1, 0, 5], [0, 0, 5]], dtype=np.float32)
    check_both_classes(labels, CLICK_CONV, "here")


def test_one_class_message_names_positive_values():
    task = TaskConfig(name="income", label="income", positive_values=["50000 +"])
    with pytest.raises(ValueError, match=r"column 'income' and its positive_values"):
        check_both_classes(np.zeros((3, 1), dtype=np.float32), [task], "here")
