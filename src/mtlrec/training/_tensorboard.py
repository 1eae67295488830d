"""TensorBoard event files from the per-epoch history records."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["TensorBoardLogger", "record_scalars"]

logger = logging.getLogger(__name__)


def record_scalars(record: dict[str, Any]) -> dict[str, float]:
    """Flatten one history record into ``{tag: value}`` scalars.

    Tags: ``train/loss``, ``train/loss/<task>``, ``valid/<task>/<metric>``,
    ``valid/objective``, ``balancer/weight/<task>`` and
    ``balancer/grad_cosine/<task>/<task>``; null values are left out.
    """
    scalars: dict[str, Any] = {
        "train/loss": record.get("train_loss"),
        "valid/objective": record.get("objective"),
    }
    for task, value in record.get("train_task_loss", {}).items():
        scalars[f"train/loss/{task}"] = value
    for task, metrics in record.get("valid", {}).items():
        for name, value in metrics.items():
            if name not in ("rows", "positives"):
                scalars[f"valid/{task}/{name}"] = value
    balancer = record.get("balancer") or {}
    for task, value in balancer.get("weights", {}).items():
        scalars[f"balancer/weight/{task}"] = value
    for pair, value in (balancer.get("grad_cosine") or {}).items():
        scalars[f"balancer/grad_cosine/{pair}"] = value
    return {tag: float(v) for tag, v in scalars.items() if v is not None}


class TensorBoardLogger:
    """Writes each epoch record as scalars under ``log_dir``.

    Args:
        log_dir: Folder of the event files (created if needed).

    Raises:
        ImportError: The ``tensorboard`` package is not installed.
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError(
                "train.tensorboard needs the tensorboard package; install it with "
                "`pip install 'mtlrec[toolkit]'` or set train.tensorboard=false"
            ) from exc
        self.writer = SummaryWriter(log_dir=str(log_dir))
        logger.info("TensorBoard logging. dir=%s", log_dir)

    def __call__(self, record: dict[str, Any]) -> None:
        """Write one epoch record at step ``record['epoch']``."""
        step = int(record["epoch"])
        for tag, value in record_scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
