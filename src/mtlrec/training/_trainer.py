"""The training loop: epochs, validation, early stopping, best checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mtlrec.config import OptimizerConfig, TrainConfig
from mtlrec.data import Batch, EncodedData, iterate_batches
from mtlrec.losses import MultiTaskLoss, build_balancer
from mtlrec.models import MultiTaskModel
from mtlrec.training._checkpoint import load_weights, save_weights
from mtlrec.training._evaluate import Evaluator, objective_value, predict_scores
from mtlrec.training._sparse_adam import RowwiseAdam

__all__ = ["FitResult", "Optimizers", "Trainer", "build_optimizer", "sparse_parameters"]

logger = logging.getLogger(__name__)

_PROGRESS_EVERY = 20


class Optimizers:
    """Several optimisers stepped together (dense parameters, sparse embeddings).

    Args:
        optimizers: The optimisers, each over its own parameters.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    def zero_grad(self) -> None:
        """Drop every gradient."""
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        """Update every parameter group."""
        for optimizer in self.optimizers:
            optimizer.step()


def sparse_parameters(model: torch.nn.Module) -> list[torch.Tensor]:
    """Weights of the model's embedding tables that produce sparse gradients."""
    return [
        m.weight
        for m in model.modules()
        if isinstance(m, torch.nn.Embedding) and m.sparse and m.weight.requires_grad
    ]


def build_optimizer(
    model: torch.nn.Module,
    config: OptimizerConfig,
    extra: Sequence[torch.nn.Parameter] = (),
    exclude: Sequence[torch.nn.Parameter] = (),
) -> Optimizers:
    """Create the optimiser named in ``config`` over the model's parameters.

    Embedding tables with sparse gradients get a row-wise optimiser of the
    same kind (:class:`RowwiseAdam` for Adam/AdamW, SGD for SGD) without weight decay.
    ``extra`` parameters (a loss balancer's) join the dense optimiser as a
    group without weight decay; ``exclude`` parameters are left to another
    optimiser (a model's architecture parameters).
    """
    sparse_ids = {id(p) for p in sparse_parameters(model)}
    skipped = sparse_ids | {id(p) for p in exclude}
    dense = [p for p in model.parameters() if p.requires_grad and id(p) not in skipped]
    sparse = [p for p in model.parameters() if id(p) in sparse_ids]
    kinds = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
    }
    groups: list[Any] = [{"params": dense}]
    if extra:
        groups.append({"params": list(extra), "weight_decay": 0.0})
    optimizers: list[torch.optim.Optimizer] = []
    if dense or extra:
        # Adam's fused kernel updates every tensor in one pass (CPU and GPU).
        fused = {"fused": True} if config.name in ("adam", "adamw") else {}
        optimizers.append(
            kinds[config.name](
                groups, lr=config.lr, weight_decay=config.weight_decay, **fused
            )
        )
    if sparse:
        row_wise = torch.optim.SGD if config.name == "sgd" else RowwiseAdam
        optimizers.append(row_wise(sparse, lr=config.lr))
    return Optimizers(optimizers)


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
        config: Epochs, batch size, optimiser, balancer, patience, objective,
            seed.
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
        regression = [t.type == "regression" for t in loss.tasks]
        self.balancer = build_balancer(
            config.balancer, model, loss.weights, regression, config.seed
        )
        architecture = model.architecture_parameters()
        self.optimizer = build_optimizer(
            model,
            config.optimizer,
            self.balancer.extra_parameters(),
            exclude=architecture,
        )
        self.architecture_optimizer = (
            torch.optim.Adam(architecture, lr=model.architecture_lr)
            if architecture
            else None
        )
        # Batch normalisation needs two rows per batch in training mode.
        has_norm = any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
        self._min_rows = 2 if has_norm else 1
        sparse_ids = {id(p) for p in sparse_parameters(model)}
        self._dense_parameters = [
            p for p in model.parameters() if id(p) not in sparse_ids
        ]

    def _autocast(self) -> torch.autocast:
        device = next(self.model.parameters()).device.type
        enabled = self.config.precision == "bfloat16"
        return torch.autocast(device, dtype=torch.bfloat16, enabled=enabled)

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
            # None: tqdm shows the bar only on a terminal.
            disable=None if self.config.progress_bar else True,
        )
        for batch in bar:
            if len(batch) < self._min_rows:
                logger.debug("Skipped a last batch of %d row(s).", len(batch))
                continue
            loss, per_task = self.train_step(batch)
            total_sum += loss.detach()
            task_sums += per_task.detach()
            num_batches += 1
            if num_batches % _PROGRESS_EVERY == 0:
                bar.set_postfix(loss=f"{total_sum.item() / num_batches:.4f}")
        bar.close()
        seconds = time.perf_counter() - started
        task_means = task_sums / max(num_batches, 1)
        task_losses = task_means.tolist()
        record = {
            "epoch": epoch,
            "train_loss": float(total_sum) / max(num_batches, 1),
            "train_task_loss": dict(
                zip(self.loss.spec.task_names, task_losses, strict=True)
            ),
            "train_seconds": seconds,
            "train_rows_per_second": len(data) / seconds if seconds > 0 else None,
            "balancer": self.balancer.end_epoch(task_means),
        }
        learnt = self.model.task_weights()
        if learnt:
            record["model_task_weights"] = learnt
            logger.info(
                "Model task weights. epoch=%d weights=%s",
                epoch,
                {k: round(v, 4) for k, v in learnt.items()},
            )
        return record

    def train_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step on one labelled batch.

        Forward (under autocast when ``train.precision`` asks for it), task
        losses, the balancer's backward pass, gradient clipping and every
        optimiser's update. Returns the balanced loss and the per-task losses.
        """
        assert batch.labels is not None  # checked in fit
        with self._autocast():
            outputs = self.model(batch)
            per_task = self.loss.per_task(outputs, batch.labels, batch.weights)
            extra = self.model.auxiliary_loss(outputs, batch, per_task)
        self.optimizer.zero_grad()
        loss = self.balancer.backward(per_task, extra)  # fills every .grad
        if self.config.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(
                self._dense_parameters, self.config.grad_clip_norm
            )
        self.optimizer.step()
        return loss, per_task

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
        self.optimizer.zero_grad()
        self.architecture_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.architecture_optimizer.step()
        self.optimizer.zero_grad()
        logger.debug("Architecture step done. loss=%.6f", float(loss.detach()))

    def _validate(self, data: EncodedData) -> dict[str, Any]:
        assert data.labels is not None  # checked in fit
        scores = predict_scores(
            self.model, data, self.config.eval_batch_size, self.config.eval_precision
        )
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
