"""Fixtures shared across the test tree: tiny run configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def tiny_document() -> dict[str, Any]:
    """A synthetic two-task MMoE run that trains in about a second."""
    return _tiny()


def _tiny() -> dict[str, Any]:
    return {
        "data": {
            "format": "synthetic",
            "synthetic": {"num_rows": 400, "input_dim": 6, "seed": 0},
        },
        "features": {"numeric": [{"name": "x*", "scaling": "none"}]},
        "tasks": [
            {"name": "task1", "label": "y1", "type": "regression"},
            {"name": "task2", "label": "y2", "type": "regression"},
        ],
        "model": {"name": "mmoe", "num_experts": 3, "expert_units": [8]},
        "train": {
            "epochs": 2,
            "batch_size": 64,
            "patience": 2,
            "progress_bar": False,
            "threads": 1,
        },
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny PLE run (with TensorBoard) shared by read-only tests."""
    from mtlrec import parse_config, train

    document = _tiny()
    document["model"] = {"name": "ple", "num_task_experts": 1, "expert_units": [8]}
    document["train"]["tensorboard"] = True
    document["train"]["balancer"] = {"name": "pcgrad"}
    out = tmp_path_factory.mktemp("runs") / "ple"
    return train(parse_config(document), out=out)
