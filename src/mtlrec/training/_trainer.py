"""The training loop: epochs, validation, early stopping, best checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mtlrec.config import OptimizerConfig, TrainConfig
from mtlrec.data import Batch, EncodedData, iterate_batches
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import MultiTaskModel
from mtlrec.training._checkpoint import load_weights, save_weights
from mtlrec.training._evaluate import Evaluator, objective_value, predict_scores

__all__ = ["FitResult", "Trainer", "build_optimizer"]

logger = logging.getLogger(__name__)

_PROGRESS_EVERY = 20


def build_optimizer(
    model: torch.nn.Module,
    config: OptimizerConfig,
    exclude: list[torch.nn.Parameter] | None = None,
) -> torch.optim.Optimizer:
    """Create the optimiser named in ``config`` over the model's parameters.

    Args:
        model: The model.
        config: Optimiser name, learning rate, weight decay.
        exclude: Parameters left to another optimiser (default none).
    """
    skipped = {id(p) for p in exclude or []}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in skipped]
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        history: One record per epoch (losses, validation metrics, objective).
        best_epoch: 1-based epoch whose weights were kept.
        best_objective: Its validation objective.
        seconds: Wall time of the loop.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_objective: float | None = None
    seconds: float = 0.0


class Trainer:
    """Trains a model, selecting the epoch with the best validation objective.

    Args:
        model: The model to train (in place).
        loss: Per-task loss with sample spaces.
        config: Epochs, batch size, optimiser, patience, objective, seed.
        checkpoint_path: Where the best weights are written (atomically).
        on_epoch: Optional callback given each epoch's record.
    """

    def __init__(
        self,
        model: MultiTaskModel,
        loss: MultiTaskLoss,
        config: TrainConfig,
        checkpoint_path: str | Path,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.model = model
        self.loss = loss
        self.config = config
        self.checkpoint_path = Path(checkpoint_path)
        self.on_epoch = on_epoch
        self.evaluator = Evaluator(model)
        architecture = model.architecture_parameters()
        self.optimizer = build_optimizer(model, config.optimizer, exclude=architecture)
        self.architecture_optimizer = (
            torch.optim.Adam(architecture, lr=model.architecture_lr)
            if architecture
            else None
        )

    def fit(self, train: EncodedData, valid: EncodedData) -> FitResult:
        """Run the epochs; the best weights are restored into the model at the end."""
        if train.labels is None or valid.labels is None:
            raise ValueError("training and validation data need labels")
        generator = torch.Generator().manual_seed(self.config.seed)
        result, waited, started = FitResult(), 0, time.perf_counter()
        for epoch in range(1, self.config.epochs + 1):
            record = self._train_epoch(train, epoch, generator)
            if self.architecture_optimizer is not None:
                self._architecture_step(valid, generator)
            record.update(self._validate(valid))
            result.history.append(record)
            if _improved(record["objective"], result.best_objective, result.best_epoch):
                result.best_epoch, result.best_objective, waited = (
                    epoch,
                    record["objective"],
                    0,
                )
                save_weights(self.model.state_dict(), self.checkpoint_path)
                logger.info(
                    "Checkpoint saved. epoch=%d objective=%s",
                    epoch,
                    record["objective"],
                )
            else:
                waited += 1
            if self.on_epoch is not None:
                self.on_epoch(record)
            if waited >= self.config.patience:
                logger.info(
                    "Early stop. epoch=%d best_epoch=%d", epoch, result.best_epoch
                )
                break
        self.model.load_state_dict(load_weights(self.checkpoint_path))
        logger.info("Best model restored. best_epoch=%d", result.best_epoch)
        result.seconds = time.perf_counter() - started
        return result

    def _train_epoch(
        self, data: EncodedData, epoch: int, generator: torch.Generator
    ) -> dict[str, Any]:
        self.model.train()
        task_sums = torch.zeros(len(self.loss.tasks))
        total_sum, num_batches, started = torch.zeros(()), 0, time.perf_counter()
        batches = iterate_batches(
            data, self.config.batch_size, shuffle=True, generator=generator
        )
        total = -(-len(data) // self.config.batch_size)
        bar = tqdm(
            batches,
            total=total,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not self.config.progress_bar,
        )
        for batch in bar:
            loss, per_task = self._batch_loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(
                    self.model.parameters(), self.config.grad_clip_norm
                )
            self.optimizer.step()
            total_sum += loss.detach()
            task_sums += per_task.detach()
            num_batches += 1
            if num_batches % _PROGRESS_EVERY == 0:
                bar.set_postfix(loss=f"{total_sum.item() / num_batches:.4f}")
        bar.close()
        seconds = time.perf_counter() - started
        task_losses = (task_sums / max(num_batches, 1)).tolist()
        return {
            "epoch": epoch,
            "train_loss": float(total_sum) / max(num_batches, 1),
            "train_task_loss": dict(
                zip(self.loss.spec.task_names, task_losses, strict=True)
            ),
            "train_seconds": seconds,
            "train_rows_per_second": len(data) / seconds if seconds > 0 else None,
        }

    def _batch_loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        # The weighted task losses plus the model's own term, if it has one.
        assert batch.labels is not None  # checked in fit
        outputs = self.model(batch)
        loss, per_task = self.loss(outputs, batch.labels)
        extra = self.model.auxiliary_loss(outputs, batch, per_task)
        return (loss if extra is None else loss + extra), per_task

    def _architecture_step(self, data: EncodedData, generator: torch.Generator) -> None:
        # One step on one shuffled validation mini-batch for the architecture
        # parameters only; the model weights keep their values.
        assert self.architecture_optimizer is not None
        self.model.train()
        batch = next(
            iterate_batches(data, self.config.batch_size, True, generator=generator)
        )
        loss, _ = self._batch_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.architecture_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.architecture_optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        logger.debug("Architecture step done. loss=%.6f", float(loss.detach()))

    def _validate(self, data: EncodedData) -> dict[str, Any]:
        assert data.labels is not None  # checked in fit
        scores = predict_scores(self.model, data, self.config.eval_batch_size)
        metrics = self.evaluator.metrics(
            scores, data.labels.numpy(), data.groups, "valid", data.domains
        )
        objective = objective_value(metrics, self.config.objective)
        logger.info(
            "Epoch done. %s objective=%s",
            " ".join(
                f"{t}.{m}={v:.4f}"
                for t, ms in metrics.items()
                for m, v in ms.items()
                if v is not None and m not in ("rows", "positives") and "/" not in t
            ),
            None if objective is None else round(objective, 6),
        )
        return {"valid": metrics, "objective": objective}


def _improved(value: float | None, best: float | None, best_epoch: int) -> bool:
    if best_epoch == 0:
        return True
    if value is None or np.isnan(value):
        return False
    return best is None or value > best
