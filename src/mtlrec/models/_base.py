"""Base class and static description shared by every multi-task model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import InputSpec, TaskTowers

__all__ = ["ModelSpec", "MultiTaskModel", "TaskSpec"]

Space = Literal["conditional", "joint"]


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about one task.

    Args:
        name: Task name, the key of the model's output.
        type: ``"binary"`` (the output is a logit) or ``"regression"`` (a value).
        parent: Name of the parent task whose positives form this task's
            sample space, or None.
        loss: The task's training loss, which fixes how a regression output
            maps to a value (``weighted_logistic``: ``exp``; ``lognormal``:
            ``exp(mu + sigma^2 / 2)``); None or another loss: the output is
            the value.
        lognormal_sigma: ``sigma`` of a ``lognormal`` task (default 1).
    """

    name: str
    type: Literal["binary", "regression"] = "binary"
    parent: str | None = None
    loss: str | None = None
    lognormal_sigma: float = 1.0


@dataclass(frozen=True)
class ModelSpec:
    """Inputs and tasks of a model, taken from the fitted feature map and config.

    Args:
        inputs: Input sizes.
        tasks: The tasks, in output order.
        domains: Domain names in domain-index order (``Batch.domains``), empty
            when the data has no domain column.
    """

    inputs: InputSpec
    tasks: tuple[TaskSpec, ...]
    domains: tuple[str, ...] = ()

    @property
    def num_domains(self) -> int:
        """Number of domains (0 without a domain column)."""
        return len(self.domains)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in output order."""
        return tuple(t.name for t in self.tasks)

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``K``."""
        return len(self.tasks)


class MultiTaskModel(nn.Module):
    """Maps a :class:`~mtlrec.data.Batch` to one output per task.

    ``forward`` returns ``{task name: (B,) tensor}``: a **logit** for binary
    tasks and the predicted **value** for regression tasks. It never computes
    the loss.

    Class attributes a model sets:
        config_class: Its config dataclass (a :class:`ModelConfig` subclass).
        paper: The paper it follows, one line.
        summary: One line on what it is.
        output_space: What a child task's logit means: ``"conditional"``
            (``P(y_k | parent positive, x)``) or ``"joint"``
            (``P(y_k and every ancestor | x)``).
        child_loss_space: Where child tasks are supervised: ``"conditional"``
            (parent-positive rows, own label) or ``"joint"`` (all rows, label
            ``y_k * y_parent * ...``, prediction the product along the chain).
        reads_domains: Whether ``forward`` needs each row's domain
            (``batch.domains``); other models ignore it.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    output_space: ClassVar[Space] = "conditional"
    child_loss_space: ClassVar[Space] = "conditional"
    reads_domains: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        if spec.num_tasks == 0:
            raise ValueError("a model needs at least one task, got none")
        self.spec = spec
        self.config = config

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return ``{task: (B,) logit or value}``."""
        raise NotImplementedError

    def export_module(self) -> nn.Module:
        """Return the module that export and serving run, without training-only parts.

        The returned module keeps this model's contract (a :class:`Batch` in,
        ``{task: (B,)}`` out, the same meaning per task) but holds only what
        inference needs. A model with parts used only in training (a shallow
        position-bias tower, auxiliary heads) overrides this; the default is
        the model itself. The caller puts the result in eval mode, so dropout
        is off either way.

        Returns:
            An ``nn.Module`` mapping a batch to per-task outputs.
        """
        return self

    def task_modules(self) -> list[str]:
        """Dotted names of the submodules whose parameters serve one task only.

        The default names every :class:`~mtlrec.layers.TaskTowers` submodule
        (a batched tower holds one slice per task, each touched by one task's
        loss only). Models with other per-task parts (MMoE's gates, PLE's task
        gates) override this.
        """
        return [
            name
            for name, module in self.named_modules()
            if isinstance(module, TaskTowers)
        ]

    def named_shared_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of every trainable parameter shared by tasks.

        A parameter is *shared* when more than one task's loss can reach it:
        every trainable parameter outside :meth:`task_modules`. Gradient
        balancers (PCGrad, GradNorm) act on these; the rest take their own
        task's gradient.
        """
        owned = {
            id(p)
            for name in self.task_modules()
            for p in self.get_submodule(name).parameters()
        }
        return [
            (name, p)
            for name, p in self.named_parameters()
            if p.requires_grad and id(p) not in owned
        ]

    def shared_parameters(self) -> list[nn.Parameter]:
        """The parameters of :meth:`named_shared_parameters`, in model order."""
        return [p for _, p in self.named_shared_parameters()]

    def gate_weights(self) -> dict[str, torch.Tensor]:
        """Gate weights of the latest forward pass, for diagnostics.

        Returns:
            ``{task: (B, E_k)}``: the weights task ``k``'s gate put on each of
            the ``E_k`` experts it mixes (rows sum to 1), named in the order of
            :meth:`gate_experts`. Empty for models without gates (the default)
            or before the first forward pass.
        """
        return {}

    def gate_experts(self) -> dict[str, list[str]]:
        """Names of the experts behind each task's gate weights (same order)."""
        return {}

    def task_weights(self) -> dict[str, float]:
        """Task-loss weights the model learns itself, by task (default none).

        Models that weight their task losses in :meth:`auxiliary_loss` report
        the current weights here; the trainer records them per epoch.
        """
        return {}

    def auxiliary_loss(
        self,
        outputs: dict[str, torch.Tensor],
        batch: Batch,
        task_losses: torch.Tensor,
    ) -> torch.Tensor | None:
        """A model-specific term added to the training loss, or None (default).

        The trainer adds it to the weighted sum of task losses. Models use it
        for terms tied to their paper (AITM's calibrator, learnt task weights).

        Args:
            outputs: This batch's ``forward`` outputs.
            batch: The batch (labels included).
            task_losses: The ``(K,)`` per-task losses, with gradients.

        Returns:
            A scalar tensor, or None for no extra term.
        """
        return None

    def architecture_parameters(self) -> list[nn.Parameter]:
        """Parameters learnt by a separate, end-of-epoch step (default none).

        The trainer leaves them out of the main optimiser and, after each
        epoch, takes one step of their own Adam (``architecture_lr``) on one
        validation mini-batch: bi-level search as in DARTS-style models.
        """
        return []

    architecture_lr: float = 1e-3

    def outputs_from_matrix(self, matrix: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a ``(B, K)`` output matrix into ``{task: (B,)}`` in task order."""
        return {name: matrix[:, k] for k, name in enumerate(self.spec.task_names)}
