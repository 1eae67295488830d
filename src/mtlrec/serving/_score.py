"""The fused ranking score declared in a run's ``serving.score`` section."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mtlrec.config import ScoreConfig

__all__ = ["fuse_scores", "score_weights"]

_FLOOR = 1e-12


def score_weights(config: ScoreConfig, task_names: list[str]) -> dict[str, float]:
    """The weights in use: the declared ones, else 1 for every task."""
    return dict(config.weights) if config.weights else dict.fromkeys(task_names, 1.0)


def fuse_scores(
    predictions: Mapping[str, np.ndarray], config: ScoreConfig, task_names: list[str]
) -> np.ndarray:
    """Combine per-task predictions into one ranking score per row.

    ``weighted_product``: ``prod_k max(p_k, 1e-12) ** w_k`` (the floor keeps a
    zero or negative value from breaking the power); ``weighted_sum``:
    ``sum_k w_k * p_k``.

    Args:
        predictions: ``{prediction name: (B,)}`` as ``mtlrec predict`` gives.
        config: The run's ``serving.score`` section.
        task_names: The run's tasks (the default weights).

    Returns:
        ``(B,)`` float64 scores.

    Raises:
        KeyError: A weight names a prediction that is not in ``predictions``.
    """
    weights = score_weights(config, task_names)
    num_rows = len(next(iter(predictions.values())))  # B
    missing = sorted(set(weights) - set(predictions))
    if missing:
        raise KeyError(
            f"score weights name {missing!r}, which are not predictions; "
            f"predictions are {sorted(predictions)!r}"
        )
    if config.type == "weighted_sum":
        total = np.zeros(num_rows)
        for name, weight in weights.items():
            total += weight * predictions[name].astype(np.float64)
        return total
    log_total = np.zeros(num_rows)
    for name, weight in weights.items():
        values = np.maximum(predictions[name].astype(np.float64), _FLOOR)
        log_total += weight * np.log(values)
    return np.exp(log_total)
