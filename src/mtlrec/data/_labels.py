"""Build and check the label matrix of a frame from the task configs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mtlrec.config import TaskConfig
from mtlrec.data._columns import columns_hint

__all__ = ["build_labels", "build_weights", "check_both_classes"]


def build_labels(
    frame: pd.DataFrame, tasks: list[TaskConfig], where: str
) -> np.ndarray:
    """Return the ``(N, K)`` float32 label matrix in task order.

    A binary label is the 0/1 column itself, or derived through
    ``positive_values`` / ``positive_above``. A child task's label may be
    missing on rows outside its parent's space (parent label 0); there it is
    set to 0 and never used by losses or metrics.

    Args:
        frame: Rows holding the label columns.
        tasks: The tasks, in output order.
        where: Name of the data for messages (e.g. ``"split 'train'"``).

    Raises:
        ValueError: A label column is missing, non-numeric, holds missing
            values, or holds values other than 0/1 for a binary task.
    """
    labels = np.zeros((len(frame), len(tasks)), dtype=np.float32)
    index = {t.name: k for k, t in enumerate(tasks)}
    for k, task in enumerate(tasks):
        labels[:, k] = _task_label(frame, task, where)
    for k, task in enumerate(tasks):
        missing = np.isnan(labels[:, k])
        if not missing.any():
            continue
        outside = (
            labels[:, index[task.parent]] == 0
            if task.parent
            else np.zeros_like(missing)
        )
        if (missing & ~outside).any():
            count = int((missing & ~outside).sum())
            raise ValueError(
                f"task {task.name!r}: label column {task.label!r} in {where} has "
                f"{count} missing values; drop or fill those rows"
            )
        labels[missing, k] = 0.0
    _check_ranges(labels, tasks, where)
    return labels


def _sample_space(labels: np.ndarray, tasks: list[TaskConfig], k: int) -> np.ndarray:
    """Rows of task ``k``'s sample space: every ancestor's label is 1."""
    index = {t.name: i for i, t in enumerate(tasks)}
    space = np.ones(len(labels), dtype=bool)
    parent = tasks[k].parent
    while parent is not None:
        space &= labels[:, index[parent]] == 1
        parent = tasks[index[parent]].parent
    return space


def _check_ranges(labels: np.ndarray, tasks: list[TaskConfig], where: str) -> None:
    # Value losses need non-negative (watch time) or positive (log-normal)
    # labels on the rows of the task's sample space.
    for k, task in enumerate(tasks):
        if task.loss not in ("weighted_logistic", "lognormal"):
            continue
        values = labels[_sample_space(labels, tasks, k), k]
        bad = values < 0 if task.loss == "weighted_logistic" else values <= 0
        if bad.any():
            rule = ">= 0" if task.loss == "weighted_logistic" else "> 0"
            raise ValueError(
                f"task {task.name!r}: loss {task.loss!r} needs labels {rule} in its "
                f"sample space, but column {task.label!r} in {where} holds "
                f"{float(values[bad][0])!r}; filter those rows or give the task a "
                "parent that marks value > 0"
            )


def check_both_classes(labels: np.ndarray, tasks: list[TaskConfig], where: str) -> None:
    """Refuse training labels where a binary task has only one class.

    A child task is checked on its sample space (every ancestor's label 1).
    Such a task cannot be learnt, and its AUC would be null.

    Raises:
        ValueError: A binary task has no positive or no negative label.
    """
    for k, task in enumerate(tasks):
        if task.type != "binary":
            continue
        values = labels[_sample_space(labels, tasks, k), k]
        positives = int((values == 1).sum())
        if 0 < positives < len(values):
            continue
        missing = "positive" if positives == 0 else "negative"
        scope = " in its parent's space" if task.parent else ""
        mapping = " and its positive_values" if task.positive_values else ""
        raise ValueError(
            f"task {task.name!r} has no {missing} labels among the {len(values)} "
            f"rows of {where}{scope}; check its label column {task.label!r}"
            f"{mapping}"
        )


def build_weights(
    frame: pd.DataFrame,
    data_column: str | None,
    tasks: list[TaskConfig],
    where: str,
) -> np.ndarray | None:
    """Return the ``(N, K)`` float32 sample weights, or None if none are set.

    Task ``k`` uses its own ``weight_column``, else ``data_column``, else 1.

    Raises:
        ValueError: A weight column is missing, non-numeric, holds missing or
            negative values.
    """
    columns = [t.weight_column or data_column for t in tasks]
    if not any(columns):
        return None
    weights = np.ones((len(frame), len(tasks)), dtype=np.float32)
    for k, column in enumerate(columns):
        if column is None:
            continue
        if column not in frame.columns:
            raise ValueError(
                f"task {tasks[k].name!r}: weight column {column!r} is not in "
                f"{where}{columns_hint(column, frame.columns)}"
            )
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
        if np.isnan(values).any() or (values < 0).any():
            bad = float(values[np.isnan(values) | (values < 0)][0])
            raise ValueError(
                f"weight column {column!r} in {where} holds {bad!r}; sample "
                "weights must be numbers >= 0"
            )
        weights[:, k] = values
    return weights


def _task_label(frame: pd.DataFrame, task: TaskConfig, where: str) -> np.ndarray:
    if task.label not in frame.columns:
        raise ValueError(
            f"task {task.name!r}: label column {task.label!r} is not in {where}"
            f"{columns_hint(task.label, frame.columns)}"
        )
    column = frame[task.label]
    if task.positive_values is not None:
        wanted = {str(v) for v in task.positive_values}
        values = column.astype(str).str.strip().isin(wanted).to_numpy(np.float32)
        values[column.isna().to_numpy()] = np.nan
        return values
    numeric = pd.to_numeric(column, errors="coerce")
    bad = numeric.isna() & column.notna()
    if bad.any():
        raise ValueError(
            f"task {task.name!r}: label column {task.label!r} in {where} holds "
            f"non-numeric values such as {column[bad].iloc[0]!r}; use "
            "positive_values to map strings to 0/1"
        )
    values = numeric.to_numpy(np.float64)
    if task.positive_above is not None:
        result = (values > task.positive_above).astype(np.float32)
        result[np.isnan(values)] = np.nan
        return result
    if task.type == "binary":
        present = values[~np.isnan(values)]
        odd = present[(present != 0) & (present != 1)]
        if odd.size:
            raise ValueError(
                f"task {task.name!r}: binary label column {task.label!r} in {where} "
                f"holds {float(odd[0]):g}; binary labels must be 0 or 1 (or set "
                "positive_values / positive_above)"
            )
    return values.astype(np.float32)
