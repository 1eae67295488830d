"""Per-row histories of strictly earlier events, built from a log in one pass."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["history_index"]


def history_index(
    keys: pd.Series, order: pd.Series, max_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of each row's latest strictly earlier events of the same key.

    Rows are grouped by ``keys`` and sorted by ``order`` inside a group; a
    row's history is the rows of its group with a strictly smaller ``order``
    (equal times are not "earlier"), the latest ``max_length`` of them,
    oldest first. Vectorised: one sort, no per-row Python.

    Args:
        keys: ``(N,)`` group of each row (e.g. user id).
        order: ``(N,)`` numeric time of each row.
        max_length: Longest history ``L`` kept.

    Returns:
        ``(index, lengths)``: ``(N, L)`` int64 row positions (left-aligned,
        ``-1`` after the last event) and ``(N,)`` int64 history lengths.

    Raises:
        ValueError: ``order`` is not numeric or holds missing values, or
            ``max_length < 1``.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length!r}")
    times = pd.to_numeric(order, errors="coerce")
    if times.isna().any():
        raise ValueError(
            f"sequence order column {order.name!r} must be numeric without missing "
            f"values; found {int(times.isna().sum())} bad values"
        )
    key_codes = pd.factorize(keys)[0]
    times = times.to_numpy(np.float64)
    rows = len(key_codes)
    sort = np.lexsort((times, key_codes))
    sorted_keys, sorted_times = key_codes[sort], times[sort]
    positions = np.arange(rows)

    # First sorted position of each row's key, and of its (key, time) tie block.
    new_key = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    new_tie = new_key | np.r_[True, sorted_times[1:] != sorted_times[:-1]]
    group_start = np.maximum.accumulate(np.where(new_key, positions, 0))
    tie_start = np.maximum.accumulate(np.where(new_tie, positions, 0))

    lengths_sorted = np.minimum(tie_start - group_start, max_length)
    steps = np.arange(max_length)
    start = tie_start - lengths_sorted
    index_sorted = start[:, None] + steps[None, :]  # (N, L) sorted positions
    valid = steps[None, :] < lengths_sorted[:, None]
    index_rows = np.where(valid, sort[np.clip(index_sorted, 0, rows - 1)], -1)

    index = np.empty_like(index_rows)
    lengths = np.empty_like(lengths_sorted)
    index[sort], lengths[sort] = index_rows, lengths_sorted
    return index.astype(np.int64), lengths.astype(np.int64)
