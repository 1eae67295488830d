"""Per-domain metrics, funnels from the CLI path, and the trainer's model hooks."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from mtlrec import load_run, parse_config, predict, train_run
from mtlrec.config import ConfigError
from mtlrec.data import load_splits
from mtlrec.layers import InputSpec
from mtlrec.models import MMoE, MMoEConfig, ModelSpec, TaskSpec
from mtlrec.training import Evaluator


def _evaluator() -> Evaluator:
    spec = ModelSpec(InputSpec((3,), 4, 0), (TaskSpec("click"),), ("d1", "d2", "d3"))
    return Evaluator(MMoE(spec, MMoEConfig(num_experts=2, expert_units=[4])))


def test_metrics_per_domain_and_null_for_an_absent_domain(caplog) -> None:
    labels = np.array([[1.0], [0.0], [1.0], [0.0]])
    scores = {"click": np.array([0.9, 0.1, 0.2, 0.8])}
    domains = np.array([0, 0, 1, 1])
    with caplog.at_level(logging.WARNING):
        metrics = _evaluator().metrics(scores, labels, None, "test", domains)
    assert metrics["click"]["auc"] == pytest.approx(0.75)  # 3 of 4 pairs ordered
    assert metrics["click/d1"]["auc"] == 1.0
    assert metrics["click/d2"]["auc"] == 0.0
    assert metrics["click/d3"] == {"auc": None, "logloss": None}
    assert "domain=d3" in caplog.text


def _funnel_config(model: dict, steps: int = 3) -> dict:
    names = ["click", "application", "approval", "activation"][:steps]
    tasks = [
        {"name": n, "label": n, **({"parent": names[i - 1]} if i else {})}
        for i, n in enumerate(names)
    ]
    return {
        "data": {
            "format": "ad_funnel",
            "ad_funnel": {"num_rows": 300, "num_steps": steps},
        },
        "features": {"categorical": [{"name": "c*"}], "numeric": [{"name": "x*"}]},
        "tasks": tasks,
        "model": model,
        "train": {"epochs": 1, "batch_size": 128, "threads": 1, "progress_bar": False},
    }


def test_aitm_trains_on_a_funnel_end_to_end(tmp_path) -> None:
    config = parse_config(_funnel_config({"name": "aitm", "tower_units": [8]}))
    run = train_run(config, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"click", "application", "application@entire", "approval@entire"} <= set(
        metrics["test"]
    )
    history = json.loads((run / "history.json").read_text())
    assert len(history) >= 1 and np.isfinite(history[0]["train_loss"])


def test_funnel_declared_out_of_order_is_rejected() -> None:
    document = _funnel_config({"name": "aitm"})
    document["tasks"] = [
        document["tasks"][1],
        document["tasks"][0],
        document["tasks"][2],
    ]
    with pytest.raises(ConfigError, match="listed before its parent 'click'"):
        parse_config(document)


def test_group_split_keeps_users_disjoint() -> None:
    config = parse_config(
        {
            "data": {
                "format": "position_feed",
                "position_feed": {"num_lists": 300},
                "split": {"by": "user_group"},
            },
            "features": {"categorical": [{"name": "item_id"}]},
            "tasks": [{"name": "click", "label": "click"}],
            "model": {"name": "mmoe"},
        }
    )
    frames = load_splits(config.data)
    groups = [set(frames[s]["user_group"]) for s in ("train", "valid", "test")]
    assert not groups[0] & groups[1] and not groups[0] & groups[2]
    assert sum(len(f) for f in frames.values()) == 3000


def test_youtube_run_predicts_without_position(tmp_path) -> None:
    config = parse_config(
        {
            "data": {"format": "position_feed", "position_feed": {"num_lists": 60}},
            "features": {
                "categorical": [{"name": "item_id"}, {"name": "user_group"}],
                "numeric": [{"name": "freshness"}],
                "context": [{"name": "position"}],
            },
            "tasks": [{"name": "click", "label": "click"}],
            "model": {"name": "youtube_mmoe", "num_experts": 2, "expert_units": [8]},
            "train": {
                "epochs": 1,
                "batch_size": 256,
                "threads": 1,
                "progress_bar": False,
            },
        }
    )
    run = load_run(train_run(config, out=tmp_path / "run"))
    frame = pd.DataFrame(
        {"item_id": [1, 2], "user_group": [0, 1], "freshness": [0.0, 1.0]}
    )
    scores = predict(run, frame)
    assert scores.shape == (2, 1) and scores["click"].between(0, 1).all()


def test_m3oe_trains_with_domains_and_reports_them(tmp_path) -> None:
    torch.manual_seed(0)
    config = parse_config(
        {
            "data": {
                "format": "position_feed",
                "position_feed": {"num_lists": 200, "list_size": 5},
                "domain_column": "category",
            },
            "features": {"categorical": [{"name": "item_id"}, {"name": "user_group"}]},
            "tasks": [
                {"name": "click", "label": "click"},
                {"name": "like", "label": "like"},
            ],
            "model": {
                "name": "m3oe",
                "star_units": 16,
                "hidden_dim": 8,
                "expert_dim": 8,
            },
            "train": {"epochs": 2, "batch_size": 256, "progress_bar": False},
        }
    )
    run = train_run(config, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert "click/0" in metrics["test"] and "like/9" in metrics["test"]
    loaded = load_run(run)
    assert loaded.model.fusion_weights()["alpha_d"] != pytest.approx(
        0.7310586, abs=1e-7
    )
