"""Shared fixtures: tiny generated data sets and run configs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

# tests/helpers.py is imported as ``helpers`` by the model tests.
sys.path.insert(0, str(Path(__file__).parent))

# The machines running the suite are small and shared; tiny models are fastest
# on one thread anyway.
torch.set_num_threads(1)


def make_frame(num_rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Rows with two categorical and two numeric features and three labels.

    ``click`` depends on ``x1`` and ``user``, ``conv`` is only ever 1 on
    clicked rows, ``rating`` is a noisy linear function of ``x1``; ``x2`` has
    missing values.
    """
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 8, num_rows)
    item = rng.integers(0, 12, num_rows)
    x1 = rng.normal(size=num_rows)
    x2 = rng.normal(size=num_rows)
    x2[rng.random(num_rows) < 0.1] = np.nan
    p_click = 1.0 / (1.0 + np.exp(-(2.0 * x1 + (user % 2) - 0.5)))
    click = (rng.random(num_rows) < p_click).astype(int)
    conv = ((rng.random(num_rows) < 0.5 + 0.4 * np.tanh(x1)) & (click == 1)).astype(int)
    rating = 2.0 * x1 + 0.1 * rng.normal(size=num_rows)
    return pd.DataFrame(
        {
            "user": [f"u{u}" for u in user],
            "item": item,
            "x1": x1,
            "x2": x2,
            "click": click,
            "conv": conv,
            "rating": rating,
        }
    )


def make_config(data_path: str | Path, **sections: Any) -> dict[str, Any]:
    """A small run config document over a :func:`make_frame` CSV.

    Keyword arguments replace whole top-level sections (``tasks=[...]``) or,
    for ``model`` and ``train``, update the defaults given here.
    """
    document: dict[str, Any] = {
        "data": {
            "format": "csv",
            "path": str(data_path),
            "split": {
                "method": "random",
                "fractions": {"train": 0.6, "valid": 0.2, "test": 0.2},
                "seed": 0,
            },
        },
        "features": {
            "embedding_dim": 8,
            "categorical": [{"name": "user"}, {"name": "item"}],
            "numeric": [{"name": "x1"}, {"name": "x2"}],
        },
        "tasks": [
            {"name": "click", "label": "click"},
            {"name": "rating", "label": "rating", "type": "regression"},
        ],
        "model": {
            "name": "mmoe",
            "num_experts": 2,
            "expert_units": [8],
            "tower_units": [4],
        },
        "train": {
            "epochs": 2,
            "batch_size": 32,
            "eval_batch_size": 64,
            "patience": 2,
            "progress_bar": False,
            "optimizer": {"name": "adam", "lr": 0.01},
        },
    }
    for key, value in sections.items():
        if key in ("model", "train") and isinstance(value, dict):
            if key == "model" and value.get("name", "mmoe") != "mmoe":
                document[key] = dict(value)
            else:
                document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """240 generated rows (see :func:`make_frame`)."""
    return make_frame()


@pytest.fixture
def tiny_csv(tmp_path: Path, tiny_frame: pd.DataFrame) -> Path:
    """The tiny frame written as CSV."""
    path = tmp_path / "data.csv"
    tiny_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def config_doc(tiny_csv: Path) -> Callable[..., dict[str, Any]]:
    """Factory of config documents over ``tiny_csv`` (see :func:`make_config`)."""

    def build(**sections: Any) -> dict[str, Any]:
        return make_config(tiny_csv, **sections)

    return build


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write a document as YAML under ``tmp_path`` and return the path."""

    def write(document: dict[str, Any], name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


@pytest.fixture
def frame_maker() -> Callable[..., pd.DataFrame]:
    """:func:`make_frame` itself, for tests that need several data sets."""
    return make_frame


@pytest.fixture
def config_maker() -> Callable[..., dict[str, Any]]:
    """:func:`make_config` itself, for configs over other files."""
    return make_config


SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2}
SPLIT_ROWS = {"train": 200, "valid": 60, "test": 60}
CHILD_TASKS = [
    {"name": "click", "label": "click"},
    {"name": "conv", "label": "conv", "parent": "click"},
    {"name": "rating", "label": "rating", "type": "regression"},
]


def write_split_files(folder: Path, **frames: pd.DataFrame) -> dict[str, Any]:
    """Write train/valid/test CSVs (generated unless given); return ``data:``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, seed in SPLIT_SEEDS.items():
        frame = frames.get(split)
        if frame is None:
            frame = make_frame(SPLIT_ROWS[split], seed=seed)
        frame.to_csv(folder / f"{split}.csv", index=False)
        files[split] = f"{split}.csv"
    return {"format": "csv", "files": files, "split": {"method": "files"}}


@pytest.fixture
def split_files() -> Callable[..., dict[str, Any]]:
    """:func:`write_split_files` itself."""
    return write_split_files


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One trained MMoE run (click, conv with parent click, rating), read-only.

    Returns ``{"run_dir", "data_dir", "document"}``; the data are three split
    files under ``data_dir``, and ``eval_batch_size`` is smaller than a split.
    """
    from mtlrec import parse_config, train

    root = tmp_path_factory.mktemp("finished")
    data = write_split_files(root / "data")
    document = make_config(
        "unused",
        data=data,
        tasks=CHILD_TASKS,
        train={"epochs": 2, "eval_batch_size": 16},
    )
    run_dir = train(parse_config(document), data_dir=root / "data", out=root / "run")
    return {"run_dir": run_dir, "data_dir": root / "data", "document": document}


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
