"""Model-specific loss terms: AITM's calibrator and learnt task weights."""

from __future__ import annotations

import torch

__all__ = ["behavioural_calibrator", "uncertainty_term"]


def behavioural_calibrator(probabilities: torch.Tensor) -> torch.Tensor:
    """AITM's behavioural expectation calibrator over a funnel's predictions.

    ``L_lc = (1 / N) sum_i sum_{t >= 2} max(p_t^i - p_{t-1}^i, 0)``: it
    penalises a step predicted more likely than the step before it. It is a
    mean over rows, so its size does not depend on the batch size.

    Args:
        probabilities: ``(B, K)`` end-to-end probabilities of the ``K`` funnel
            steps, in funnel order.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: ``probabilities`` is not 2-D with at least two steps.
    """
    if probabilities.dim() != 2 or probabilities.shape[1] < 2:
        raise ValueError(
            "the calibrator needs (B, K) probabilities with K >= 2 steps, got "
            f"shape {tuple(probabilities.shape)!r}"
        )
    excess = torch.relu(probabilities[:, 1:] - probabilities[:, :-1])  # (B, K - 1)
    return excess.sum(dim=1).mean()


def uncertainty_term(task_losses: torch.Tensor, log_vars: torch.Tensor) -> torch.Tensor:
    """Term that turns ``sum_k L_k`` into ``sum_k exp(-s_k) L_k + s_k``.

    Homoscedastic-uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018)
    with learnt ``s_k = log sigma_k^2``, written as an addition to the plain
    sum of task losses: ``sum_k (exp(-s_k) - 1) L_k + s_k``.

    Args:
        task_losses: ``(K,)`` task losses.
        log_vars: ``(K,)`` learnt ``s_k``.

    Returns:
        A scalar tensor.
    """
    return ((torch.exp(-log_vars) - 1.0) * task_losses + log_vars).sum()
