"""Histories of strictly earlier events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.data import history_index


def test_history_only_sees_strictly_earlier_events() -> None:
    keys = pd.Series(["a", "b", "a", "a", "b", "a"])
    times = pd.Series([3, 1, 1, 3, 2, 5])
    index, lengths = history_index(keys, times, max_length=2)
    assert lengths.tolist() == [1, 0, 0, 1, 1, 2]
    # Rows 0 and 3 share time 3: neither sees the other.
    assert index.tolist() == [[2, -1], [-1, -1], [-1, -1], [2, -1], [1, -1], [0, 3]]


def test_history_keeps_the_latest_events_oldest_first() -> None:
    keys = pd.Series(np.zeros(6, dtype=int))
    times = pd.Series([6, 5, 4, 3, 2, 1])
    index, lengths = history_index(keys, times, max_length=3)
    assert lengths[0] == 3
    assert index[0].tolist() == [3, 2, 1]  # times 3, 4, 5


def test_history_rejects_missing_times() -> None:
    with pytest.raises(ValueError, match="order column 'ts'"):
        history_index(pd.Series([1, 1]), pd.Series([1.0, None], name="ts"), 2)
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        history_index(pd.Series([1]), pd.Series([1]), 0)
