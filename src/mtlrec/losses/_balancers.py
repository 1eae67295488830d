"""Loss balancers: turn the ``(K,)`` per-task losses into one update.

Every balancer has the same interface, so the trainer treats them alike:

* :meth:`Balancer.backward` receives one batch's per-task losses (and
  optionally an unweighted extra scalar, such as a model's auxiliary loss),
  fills the ``.grad`` of every trainable model parameter and returns the
  scalar loss it optimised (for logging);
* :meth:`Balancer.end_epoch` receives the epoch's mean per-task losses and
  returns a record for the history (mean effective weights and, for
  gradient methods, the mean cosine between task gradients);
* :meth:`Balancer.extra_parameters` lists learnable balancer parameters the
  model's optimiser must update (uncertainty weighting's ``s_k``);
* :meth:`Balancer.weights` gives the current effective task weights ``(K,)``.

The tasks' ``weight`` settings act as static multipliers for the fixed,
uncertainty, DWA and PCGrad balancers, and as GradNorm's starting weights.
Which parameters are *shared* comes from
:meth:`~mtlrec.models.MultiTaskModel.shared_parameters`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mtlrec.config import (
    BalancerConfig,
    DWABalancerConfig,
    FixedBalancerConfig,
    GradNormBalancerConfig,
    PCGradBalancerConfig,
    UncertaintyBalancerConfig,
)

if TYPE_CHECKING:  # models import losses for their own terms; no cycle at runtime
    from mtlrec.models import MultiTaskModel

__all__ = [
    "Balancer",
    "DWABalancer",
    "FixedBalancer",
    "GradNormBalancer",
    "PCGradBalancer",
    "UncertaintyBalancer",
    "build_balancer",
    "dwa_weights",
    "gradnorm_targets",
    "pairwise_cosines",
    "pcgrad_project",
]

logger = logging.getLogger(__name__)

_EPS = 1e-12


class Balancer(nn.Module):
    """Base class: combines task losses and writes the gradients.

    Args:
        task_names: Task names in loss order (``K`` of them).
        task_weights: The tasks' static weights ``(K,)``.
        parameters: Every trainable parameter of the model.
        shared: The model's shared parameters (a subset of ``parameters``).
    """

    name = "base"
    task_weights: torch.Tensor

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
    ) -> None:
        super().__init__()
        if len(task_names) != task_weights.numel():
            raise ValueError(
                f"got {len(task_names)} task names but {task_weights.numel()} "
                "task weights; give one weight per task"
            )
        self.task_names = list(task_names)
        self.register_buffer("task_weights", task_weights.detach().float().clone())
        self.params = list(parameters)
        self.shared = list(shared)
        self.epoch = 1
        self._weight_sum = torch.zeros(len(task_names))
        self._cosine_sum: dict[str, float] = {}
        self._steps = 0

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``K``."""
        return len(self.task_names)

    def weights(self) -> torch.Tensor:
        """Current effective weights ``(K,)`` of the task losses."""
        return self.task_weights

    def extra_parameters(self) -> list[nn.Parameter]:
        """Balancer parameters the model's optimiser updates (default none)."""
        return []

    def backward(
        self, losses: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Write gradients for one batch; return the optimised total.

        Args:
            losses: ``(K,)`` per-task losses.
            extra: Optional scalar added as is, outside the balancing (e.g. a
                model's auxiliary loss).
        """
        raise NotImplementedError

    def end_epoch(self, mean_losses: torch.Tensor) -> dict[str, Any]:
        """Close an epoch given its mean ``(K,)`` losses; return its record.

        Returns:
            ``{"name", "weights": {task: mean effective weight}}`` plus
            ``"grad_cosine": {"a/b": mean cosine}`` for gradient methods.
        """
        steps = max(self._steps, 1)
        record: dict[str, Any] = {
            "name": self.name,
            "weights": dict(
                zip(self.task_names, (self._weight_sum / steps).tolist(), strict=True)
            ),
        }
        if self._cosine_sum:
            record["grad_cosine"] = {k: v / steps for k, v in self._cosine_sum.items()}
        logger.info(
            "Balancer epoch done. name=%s epoch=%d weights=%s grad_cosine=%s",
            self.name,
            self.epoch,
            {k: round(v, 4) for k, v in record["weights"].items()},
            record.get("grad_cosine"),
        )
        self._weight_sum.zero_()
        self._cosine_sum, self._steps = {}, 0
        self.epoch += 1
        return record

    def _track(self, grads: torch.Tensor | None = None) -> None:
        # Accumulate this step's weights (and task-gradient cosines) for the record.
        self._weight_sum += self.weights().detach().cpu()
        self._steps += 1
        if grads is None:
            return
        cosines = pairwise_cosines(grads)
        for i in range(self.num_tasks):
            for j in range(i + 1, self.num_tasks):
                key = f"{self.task_names[i]}/{self.task_names[j]}"
                self._cosine_sum[key] = self._cosine_sum.get(key, 0.0) + float(
                    cosines[i, j]
                )


class _WeightedSum(Balancer):
    """A balancer whose update is the gradient of one scalar loss."""

    def combine(self, losses: torch.Tensor) -> torch.Tensor:
        """Return the scalar to minimise from ``(K,)`` losses."""
        return (self.weights().to(losses.device) * losses).sum()

    def backward(
        self, losses: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Backpropagate the combined loss (plus ``extra``) through every parameter."""
        total = self.combine(losses)
        if extra is not None:
            total = total + extra
        total.backward()
        self._track()
        return total.detach()


class FixedBalancer(_WeightedSum):
    """``sum_k w_k L_k`` with the tasks' weights, optionally decayed per epoch.

    Args:
        decay: ``(K,)`` factors ``gamma_k``; the weight at epoch ``t`` is
            ``w_k * gamma_k ** (t - 1)`` (PLE's schedule). None keeps the
            weights fixed.
        Other arguments as in :class:`Balancer`.
    """

    name = "fixed"
    decay: torch.Tensor

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
        decay: torch.Tensor | None = None,
    ) -> None:
        super().__init__(task_names, task_weights, parameters, shared)
        gamma = torch.ones(self.num_tasks) if decay is None else decay.float()
        self.register_buffer("decay", gamma.clone())

    def weights(self) -> torch.Tensor:
        """``w_k * gamma_k ** (epoch - 1)``."""
        return self.task_weights * self.decay ** (self.epoch - 1)


class UncertaintyBalancer(_WeightedSum):
    """Uncertainty weighting with learnt ``s_k = log sigma_k^2``.

    Binary tasks add ``exp(-s_k) L_k + s_k / 2`` (``L_k / sigma^2 +
    log sigma``), regression tasks ``exp(-s_k) L_k / 2 + s_k / 2``, each
    loss term times the task's weight. The ``s_k`` start at ``init`` and are
    learnt by the model's optimiser.

    Args:
        regression: ``(K,)`` booleans, True for regression tasks.
        init: Starting value of every ``s_k`` (default 0).
        Other arguments as in :class:`Balancer`.
    """

    name = "uncertainty"
    scale: torch.Tensor

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
        regression: Sequence[bool],
        init: float = 0.0,
    ) -> None:
        super().__init__(task_names, task_weights, parameters, shared)
        self.log_vars = nn.Parameter(torch.full((self.num_tasks,), float(init)))
        scale = torch.tensor([0.5 if r else 1.0 for r in regression])
        self.register_buffer("scale", scale)

    def weights(self) -> torch.Tensor:
        """``w_k * c_k * exp(-s_k)`` with ``c_k`` 1 (binary) or 1/2 (regression)."""
        return self.task_weights * self.scale * torch.exp(-self.log_vars)

    def combine(self, losses: torch.Tensor) -> torch.Tensor:
        """``sum_k w_k c_k exp(-s_k) L_k + s_k / 2``."""
        weights = self.weights().to(losses.device)
        return (weights * losses).sum() + 0.5 * self.log_vars.sum()

    def extra_parameters(self) -> list[nn.Parameter]:
        """The log-variances ``s_k``."""
        return [self.log_vars]


def dwa_weights(history: Sequence[torch.Tensor], temperature: float) -> torch.Tensor:
    """Dynamic Weight Average weights from the epoch-mean loss history.

    ``lambda_k = K exp(r_k / T) / sum_i exp(r_i / T)`` with
    ``r_k = L_k(t-1) / L_k(t-2)``; all ones while fewer than two epochs are
    known.

    Args:
        history: Mean ``(K,)`` losses of the finished epochs, oldest first.
        temperature: ``T`` (> 0).

    Returns:
        ``(K,)`` weights summing to ``K``.
    """
    if len(history) < 2:
        return torch.ones_like(history[0]) if history else torch.ones(0)
    rates = history[-1] / history[-2].clamp_min(_EPS)  # (K,)
    return rates.numel() * torch.softmax(rates / temperature, dim=0)


class DWABalancer(_WeightedSum):
    """Dynamic Weight Average: weights follow each task's recent loss ratio.

    Tasks whose loss fell least over the last epoch get more weight in the
    next one; the weights change once per epoch.

    Args:
        temperature: ``T`` of :func:`dwa_weights` (default 2).
        Other arguments as in :class:`Balancer`.
    """

    name = "dwa"
    lambdas: torch.Tensor

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
        temperature: float = 2.0,
    ) -> None:
        super().__init__(task_names, task_weights, parameters, shared)
        self.temperature = temperature
        self.history: list[torch.Tensor] = []
        self.register_buffer("lambdas", torch.ones(self.num_tasks))

    def weights(self) -> torch.Tensor:
        """``w_k * lambda_k`` for the current epoch."""
        return self.task_weights * self.lambdas

    def end_epoch(self, mean_losses: torch.Tensor) -> dict[str, Any]:
        """Record the epoch, then set next epoch's ``lambda`` from the history."""
        record = super().end_epoch(mean_losses)
        self.history.append(mean_losses.detach().float().cpu())
        self.lambdas = dwa_weights(self.history, self.temperature)
        return record


def _flat_grads(
    loss: torch.Tensor, params: Sequence[nn.Parameter]
) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [
        torch.zeros_like(p) if g is None else g
        for g, p in zip(grads, params, strict=True)
    ]


def pairwise_cosines(grads: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of task gradients.

    Args:
        grads: ``(K, P)`` flattened task gradients.

    Returns:
        ``(K, K)`` cosines; a zero gradient has cosine 0 with every other.
    """
    norms = grads.norm(dim=1).clamp_min(_EPS)  # (K,)
    return (grads @ grads.T) / (norms[:, None] * norms[None, :])


def pcgrad_project(
    grads: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """PCGrad's projection of conflicting task gradients.

    For each task ``i``, visit the other tasks in random order; whenever
    ``g_i . g_j < 0``, remove from ``g_i`` its component along the original
    ``g_j``: ``g_i <- g_i - (g_i . g_j) / |g_j|^2 g_j``.

    Args:
        grads: ``(K, P)`` flattened task gradients.
        generator: Random generator of the visiting order.

    Returns:
        ``(K, P)`` projected gradients; their sum is the update.
    """
    projected = grads.clone()
    num_tasks = grads.shape[0]  # K
    for i in range(num_tasks):
        order = torch.randperm(num_tasks, generator=generator).tolist()
        for j in order:
            if j == i:
                continue
            dot = torch.dot(projected[i], grads[j])
            if dot < 0:
                projected[i] -= dot / grads[j].dot(grads[j]).clamp_min(_EPS) * grads[j]
    return projected


class PCGradBalancer(Balancer):
    """PCGrad on the shared parameters; other parameters sum their gradients.

    Costs ``K`` backward passes per step. Logs the mean cosine between the
    (unprojected) task gradients on the shared parameters.

    Args:
        seed: Seed of the random visiting order.
        Other arguments as in :class:`Balancer`.
    """

    name = "pcgrad"

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
        seed: int = 0,
    ) -> None:
        super().__init__(task_names, task_weights, parameters, shared)
        self.generator = torch.Generator().manual_seed(seed)
        shared_ids = {id(p) for p in self.shared}
        self.is_shared = [id(p) in shared_ids for p in self.params]

    def backward(
        self, losses: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-task gradients, projected on the shared parameters, summed.

        ``extra``'s gradient is added to every parameter without projection.
        """
        weighted = self.weights().to(losses.device) * losses  # (K,)
        per_task = [_flat_grads(weighted[k], self.params) for k in range(len(losses))]
        total = weighted.sum()
        shared_index = [i for i, s in enumerate(self.is_shared) if s]
        if shared_index:
            flat = torch.stack(
                [torch.cat([g[i].reshape(-1) for i in shared_index]) for g in per_task]
            )  # (K, P)
            update = pcgrad_project(flat.cpu(), self.generator).sum(0).to(flat.device)
            self._track(flat.detach().cpu())
        else:
            self._track()
        offset = 0
        for i, param in enumerate(self.params):
            if self.is_shared[i]:
                size = param.numel()
                param.grad = update[offset : offset + size].view_as(param).clone()
                offset += size
            else:
                param.grad = torch.stack([g[i] for g in per_task]).sum(0).detach()
        if extra is not None:
            extra_grads = _flat_grads(extra, self.params)
            for param, grad in zip(self.params, extra_grads, strict=True):
                current = param.grad
                param.grad = (
                    grad.detach() if current is None else current + grad.detach()
                )
            total = total + extra
        return total.detach()


def gradnorm_targets(
    grad_norms: torch.Tensor, loss_ratios: torch.Tensor, alpha: float
) -> torch.Tensor:
    """GradNorm's target gradient norms ``mean(G) * r_k ** alpha``.

    Args:
        grad_norms: ``(K,)`` norms ``G_k`` of the weighted task gradients.
        loss_ratios: ``(K,)`` ``L_k(t) / L_k(0)``.
        alpha: Restoring-force strength.

    Returns:
        ``(K,)`` targets, where ``r_k`` is the loss ratio over its mean.
    """
    relative = loss_ratios / loss_ratios.mean().clamp_min(_EPS)
    return grad_norms.mean() * relative**alpha


class GradNormBalancer(Balancer):
    """GradNorm: learn task weights that equalise gradient-norm training rates.

    Each step measures ``G_k = w_k |grad_W L_k|`` on ``W`` (the last shared
    weight tensor, or every shared parameter), moves the ``w_k`` by Adam on
    ``sum_k |G_k - target_k|`` with the targets held constant, then rescales
    them to sum to ``K``. The model is updated with ``sum_k w_k L_k`` using
    the weights from before the step. ``L_k(0)`` is the task's first positive
    batch loss; until then its loss ratio counts as 1.

    Args:
        alpha: Restoring-force strength (default 1.5).
        lr: Learning rate of the weights (default 0.025).
        measure_all: Measure norms on every shared parameter instead of the
            last shared weight tensor (default False).
        Other arguments as in :class:`Balancer`; ``task_weights`` are the
        starting weights (rescaled to sum to ``K``).

    Notes:
        A model without shared parameters gives every task a zero norm; the
        weights then stay where they start.
    """

    name = "gradnorm"

    def __init__(
        self,
        task_names: Sequence[str],
        task_weights: torch.Tensor,
        parameters: Sequence[nn.Parameter],
        shared: Sequence[nn.Parameter],
        alpha: float = 1.5,
        lr: float = 0.025,
        measure_all: bool = False,
        shared_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(task_names, task_weights, parameters, shared)
        start = self.task_weights * self.num_tasks / self.task_weights.sum()
        self.task_scales = nn.Parameter(start.clone())
        self.alpha = alpha
        self.optimizer = torch.optim.Adam([self.task_scales], lr=lr)
        self.measured = (
            list(shared) if measure_all else _last_weight(shared, shared_names)
        )
        self.initial: torch.Tensor | None = None
        if not self.measured:
            logger.warning(
                "GradNorm found no shared parameters; the task weights stay fixed."
            )

    def weights(self) -> torch.Tensor:
        """The learnt ``w_k``."""
        return self.task_scales.detach()

    def backward(
        self, losses: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Update the model with the current weights and ``extra``; step the weights."""
        self._remember_initial(losses.detach().cpu())
        grads = None
        if self.measured:
            grads = torch.stack(
                [
                    torch.cat([g.reshape(-1) for g in _flat_grads(loss, self.measured)])
                    for loss in losses
                ]
            )  # (K, P)
        weights = self.task_scales.detach().to(losses.device)
        total = (weights * losses).sum()
        if extra is not None:
            total = total + extra
        total.backward()
        self._track(None if grads is None else grads.detach().cpu())
        if grads is not None:
            self._step_weights(grads.norm(dim=1).detach().cpu(), losses)
        return total.detach()

    def _remember_initial(self, losses: torch.Tensor) -> None:
        # L_k(0) is the first positive loss of each task: a child task's first
        # batches may hold none of its rows (loss exactly 0).
        if self.initial is None:
            self.initial = torch.full_like(losses, float("nan"))
        fresh = torch.isnan(self.initial) & (losses > 0)
        self.initial = torch.where(fresh, losses, self.initial)

    def _step_weights(self, norms: torch.Tensor, losses: torch.Tensor) -> None:
        grad_norms = self.task_scales * norms  # (K,)
        assert self.initial is not None  # set by _remember_initial
        known = ~torch.isnan(self.initial)
        ratios = torch.where(
            known, losses.detach().cpu() / self.initial, torch.ones_like(self.initial)
        )
        targets = gradnorm_targets(grad_norms.detach(), ratios, self.alpha)
        objective = (grad_norms - targets).abs().sum()
        self.optimizer.zero_grad(set_to_none=True)
        self.task_scales.grad = torch.autograd.grad(objective, self.task_scales)[0]
        self.optimizer.step()
        with torch.no_grad():
            self.task_scales.clamp_(min=1e-4)
            self.task_scales.mul_(self.num_tasks / self.task_scales.sum())


def _last_weight(
    shared: Sequence[nn.Parameter], names: Sequence[str] | None
) -> list[nn.Parameter]:
    # The last shared tensor that is not a bias: the paper's "last shared layer".
    labels = list(names) if names is not None else [""] * len(shared)
    for param, name in zip(reversed(shared), reversed(labels), strict=True):
        if "bias" not in name and param.dim() >= 2:
            return [param]
    return list(shared[-1:])


def build_balancer(
    config: BalancerConfig,
    model: MultiTaskModel,
    task_weights: torch.Tensor,
    regression: Sequence[bool],
    seed: int = 0,
) -> Balancer:
    """Create the configured balancer for ``model``.

    Args:
        config: The ``train.balancer`` section.
        model: The model; its trainable and shared parameters are used.
        task_weights: The tasks' static weights ``(K,)``.
        regression: ``(K,)`` booleans, True for regression tasks.
        seed: Seed of random choices (PCGrad's order).
    """
    names = list(model.spec.task_names)
    params = [p for p in model.parameters() if p.requires_grad]
    named_shared = model.named_shared_parameters()
    shared = [p for _, p in named_shared]
    if isinstance(config, FixedBalancerConfig):
        decay = torch.tensor([config.decay.get(n, 1.0) for n in names])
        return FixedBalancer(names, task_weights, params, shared, decay)
    if isinstance(config, UncertaintyBalancerConfig):
        return UncertaintyBalancer(
            names, task_weights, params, shared, regression, config.init
        )
    if isinstance(config, DWABalancerConfig):
        return DWABalancer(names, task_weights, params, shared, config.temperature)
    if isinstance(config, GradNormBalancerConfig):
        return GradNormBalancer(
            names,
            task_weights,
            params,
            shared,
            config.alpha,
            config.lr,
            config.parameters == "all",
            [n for n, _ in named_shared],
        )
    if isinstance(config, PCGradBalancerConfig):
        return PCGradBalancer(names, task_weights, params, shared, seed)
    raise NotImplementedError(
        f"train.balancer name {config.name!r} is not supported; use fixed, "
        "uncertainty, dwa, gradnorm or pcgrad"
    )
