"""End to end: watch time, zero-inflated order value and sample weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtlrec import parse_config, train
from mtlrec.config import TaskConfig


def _write_log(path: Path, rows: int = 600) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3))
    click = (x[:, 0] + rng.normal(size=rows) > 0.5).astype(int)
    watch = np.where(click == 1, np.exp(x[:, 1] + rng.normal(size=rows) * 0.3), 0.0)
    buy = rng.random(rows) < 0.3
    value = np.where(buy, np.exp(1 + x[:, 2] + rng.normal(size=rows) * 0.5), 0.0)
    pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "cat": rng.integers(0, 4, rows),
            "click": click,
            "watch": watch,
            "order_value": value,
            "w": rng.uniform(0.5, 2.0, rows),
        }
    ).to_csv(path, index=False)


def test_value_tasks_train_and_report_ordering_metrics(tmp_path: Path) -> None:
    _write_log(tmp_path / "log.csv")
    document = {
        "data": {"format": "csv", "path": "log.csv", "weight_column": "w"},
        "features": {
            "numeric": [{"name": "x*"}],
            "categorical": [{"name": "cat"}],
            "embedding_dim": 4,
        },
        "tasks": [
            {"name": "click", "label": "click"},
            {
                "name": "watch_time",
                "label": "watch",
                "type": "regression",
                "loss": "weighted_logistic",
            },
            {"name": "buy", "label": "order_value", "positive_above": 0},
            {
                "name": "gmv",
                "label": "order_value",
                "type": "regression",
                "loss": "lognormal",
                "parent": "buy",
                "lognormal_sigma": 0.5,
            },
        ],
        "model": {"name": "mmoe", "num_experts": 2, "expert_units": [8]},
        "train": {
            "epochs": 2,
            "batch_size": 64,
            "progress_bar": False,
            "threads": 1,
            "objective": [{"task": "watch_time", "metric": "xauc"}],
        },
    }
    run = train(parse_config(document), data_dir=tmp_path, out=tmp_path / "run")
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert set(test) == {"click", "watch_time", "buy", "gmv", "gmv@entire"}
    for name in ("watch_time", "gmv", "gmv@entire"):
        assert 0.0 <= test[name]["xauc"] <= 1.0
        assert test[name]["calibration"] > 0
    assert test["click"]["calibration"] > 0
    assert test["gmv"]["rows"] < test["gmv@entire"]["rows"]
    scores = pd.read_parquet(run / "predictions_test.parquet")
    assert (scores["watch_time"] > 0).all()
    # The zero-inflated expectation is P(buy) * E[value | buy].
    expected = scores["buy"] * scores["gmv"]
    assert np.allclose(scores["gmv@entire"], expected, rtol=1e-5)


def test_value_loss_on_binary_task_is_rejected() -> None:
    with pytest.raises(ValueError, match="a binary task takes loss 'bce'"):
        TaskConfig(name="t", label="t", loss="lognormal")
