"""Row-wise ("lazy") Adam for embedding tables with sparse gradients."""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["RowwiseAdam", "unique_rows"]

# Tables up to this many rows per looked-up id find their touched rows by
# marking a dense mask (O(rows)); larger ones sort the ids (O(ids log ids)).
_MARK_RATIO = 16


def unique_rows(
    ids: torch.Tensor, num_rows: int, mark: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted distinct ``ids`` and, for every id, its position among them.

    Equals ``torch.unique(ids, return_inverse=True)``. ``mark`` chooses the
    method: a dense mask over ``num_rows`` and a running count (fast when
    the table is not much larger than the batch), or a sort; by default the
    mask is used up to ``16`` table rows per id.
    """
    if mark is None:
        mark = num_rows <= _MARK_RATIO * ids.numel()
    if not mark:
        return torch.unique(ids, return_inverse=True)
    touched = torch.zeros(num_rows, dtype=torch.bool, device=ids.device)
    touched.index_fill_(0, ids, True)  # 3x faster than touched[ids] = True
    rank = torch.cumsum(touched, 0) - 1  # position of each touched row
    return touched.nonzero().squeeze(1), rank[ids]


class RowwiseAdam(torch.optim.Optimizer):
    """Adam that updates only the rows a step's sparse gradient touches.

    For every touched row it applies ``torch.optim.Adam``'s update (same
    bias correction and ``eps`` placement); rows outside the batch keep their
    weights and moments, as in ``torch.optim.SparseAdam``. The step count is
    per table. Duplicate rows in the gradient are summed first, with
    :func:`unique_rows` and one ``index_add`` rather than a sparse
    ``coalesce``; the moments and weights are read and written for the
    touched rows only.

    Args:
        params: Tensors whose gradients are sparse COO (``nn.Embedding(...,
            sparse=True)`` weights).
        lr: Learning rate (default 1e-3).
        betas: Moment decay rates (default (0.9, 0.999)).
        eps: Added to the root of the second moment (default 1e-8).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if lr <= 0 or eps <= 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(
                f"RowwiseAdam needs lr > 0, eps > 0 and betas in [0, 1), "
                f"got lr={lr!r}, betas={betas!r}, eps={eps!r}"
            )
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        """Update the rows of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if not grad.is_sparse:
                    raise RuntimeError(
                        "RowwiseAdam needs sparse gradients; use torch.optim.Adam "
                        "for dense ones"
                    )
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                rows, inverse = unique_rows(grad._indices()[0], param.shape[0])
                values = grad._values().to(param.dtype)
                row_grad = values.new_zeros(len(rows), *param.shape[1:])
                row_grad.index_add_(0, inverse, values)  # duplicates summed
                exp_avg = state["exp_avg"].index_select(0, rows)
                exp_avg.lerp_(row_grad, 1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows)
                exp_avg_sq.mul_(beta2).addcmul_(row_grad, row_grad, value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                step = state["step"]
                bias1, bias2 = 1 - beta1**step, 1 - beta2**step
                # Adam: p -= lr / bias1 * m / (sqrt(v / bias2) + eps)
                denom = exp_avg_sq.div_(bias2).sqrt_().add_(eps)
                update = exp_avg.div_(denom).mul_(-lr / bias1)
                param.index_copy_(0, rows, param.index_select(0, rows).add_(update))
