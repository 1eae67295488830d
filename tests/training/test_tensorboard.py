"""TensorBoard scalars from history records."""

from __future__ import annotations

from pathlib import Path

from mtlrec.training import TensorBoardLogger, record_scalars

RECORD = {
    "epoch": 2,
    "train_loss": 0.5,
    "train_task_loss": {"a": 0.3, "b": 0.2},
    "valid": {"a": {"auc": 0.8, "rows": 10.0, "gauc": None}},
    "objective": 0.8,
    "balancer": {
        "name": "pcgrad",
        "weights": {"a": 1.0, "b": 1.0},
        "grad_cosine": {"a/b": -0.25},
    },
}


def test_record_scalars_flattens_a_history_record() -> None:
    assert record_scalars(RECORD) == {
        "train/loss": 0.5,
        "valid/objective": 0.8,
        "train/loss/a": 0.3,
        "train/loss/b": 0.2,
        "valid/a/auc": 0.8,
        "balancer/weight/a": 1.0,
        "balancer/weight/b": 1.0,
        "balancer/grad_cosine/a/b": -0.25,
    }


def test_logger_writes_event_files(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    board = TensorBoardLogger(tmp_path / "tb")
    board(RECORD)
    board.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    cosine = events.Scalars("balancer/grad_cosine/a/b")
    assert [(e.step, round(e.value, 4)) for e in cosine] == [(2, -0.25)]
