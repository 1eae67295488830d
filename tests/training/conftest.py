"""Tiny run configs shared by the training tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def tiny_document() -> dict[str, Any]:
    """A synthetic two-task MMoE run that trains in about a second."""
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
