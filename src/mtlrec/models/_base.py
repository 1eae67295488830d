"""Base class and static description shared by every multi-task model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from mtlrec.config import ModelConfig
from mtlrec.data import Batch
from mtlrec.layers import InputSpec

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
    """

    name: str
    type: Literal["binary", "regression"] = "binary"
    parent: str | None = None


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
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    output_space: ClassVar[Space] = "conditional"
    child_loss_space: ClassVar[Space] = "conditional"

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
