"""Sample-weight columns and the label ranges of value losses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.config import TaskConfig
from mtlrec.data import build_labels, build_weights


def _tasks() -> list[TaskConfig]:
    return [
        TaskConfig(name="click", label="click", weight_column="w_click"),
        TaskConfig(
            name="time", label="time", type="regression", loss="weighted_logistic"
        ),
    ]


def test_weights_per_task_and_default_column() -> None:
    frame = pd.DataFrame({"w_click": [2.0, 0.5], "w": [1.0, 3.0]})
    weights = build_weights(frame, "w", _tasks(), "test")
    assert weights.tolist() == [[2.0, 1.0], [0.5, 3.0]]
    assert build_weights(frame, None, _tasks()[1:], "test") is None
    ones = build_weights(frame, None, _tasks(), "test")
    assert ones[:, 1].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"w_click": [1.0, -1.0]}, "holds -1.0; sample weights must be numbers >= 0"),
        ({"w_click": [1.0, None]}, "holds nan"),
        ({"other": [1.0, 1.0]}, "weight column 'w_click' is not in test"),
    ],
)
def test_bad_weights_are_rejected(column: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_weights(pd.DataFrame(column), None, _tasks(), "test")


def test_value_loss_label_ranges() -> None:
    frame = pd.DataFrame({"click": [1, 0], "time": [3.5, -1.0]})
    with pytest.raises(ValueError, match="loss 'weighted_logistic' needs labels >= 0"):
        build_labels(frame, _tasks(), "test")
    value = [
        TaskConfig(name="buy", label="v", positive_above=0),
        TaskConfig(
            name="gmv", label="v", type="regression", loss="lognormal", parent="buy"
        ),
    ]
    zero_outside = pd.DataFrame({"v": [0.0, 12.0]})
    labels = build_labels(zero_outside, value, "test")
    assert np.array_equal(labels, [[0.0, 0.0], [1.0, 12.0]])
    lone = [TaskConfig(name="gmv", label="v", type="regression", loss="lognormal")]
    with pytest.raises(ValueError, match="needs labels > 0 in its sample space"):
        build_labels(zero_outside, lone, "test")
