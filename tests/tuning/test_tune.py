"""Tuning: optuna search on the validation objective, best config written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtlrec.config import ConfigError, TuneRange
from mtlrec.tuning import tune


def test_tune_keeps_the_best_validation_trial(
    tiny_document: dict[str, Any], tmp_path: Path
) -> None:
    tiny_document["train"]["epochs"] = 1
    tiny_document["tune"] = {
        "model.num_experts": {"type": "int", "low": 2, "high": 4},
        "train.optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "model.expert_units": {"type": "categorical", "choices": [[4], [8]]},
    }
    result = tune(tiny_document, trials=3, out=tmp_path / "tune", seed=1)
    trials = json.loads((tmp_path / "tune" / "trials.json").read_text())
    assert len(trials) == 3
    best = max(trials, key=lambda t: t["valid_objective"])
    assert result.best_objective == best["valid_objective"]
    for trial in trials:
        metrics = json.loads((Path(trial["run_dir"]) / "metrics.json").read_text())
        assert trial["valid_objective"] == metrics["valid_objective"]
    written = yaml.safe_load(result.best_config_path.read_text())
    assert "tune" not in written
    assert written["model"]["num_experts"] == result.best_params["model.num_experts"]
    assert written["train"]["optimizer"]["lr"] == pytest.approx(
        result.best_params["train.optimizer.lr"]
    )
    assert written["model"]["expert_units"] in ([4], [8])


def test_tune_needs_ranges_on_known_keys(
    tiny_document: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="the config has no tune section"):
        tune(tiny_document, trials=1, out=tmp_path)
    tiny_document["tune"] = {"model.num_expert": {"type": "int", "low": 2, "high": 3}}
    with pytest.raises(ConfigError, match="did you mean 'model.num_experts'"):
        tune(tiny_document, trials=1, out=tmp_path)
    with pytest.raises(ValueError, match="trials must be > 0"):
        tune(tiny_document, trials=0, out=tmp_path)


def test_tune_range_rules() -> None:
    with pytest.raises(ValueError, match="needs low < high"):
        TuneRange(type="float", low=1.0, high=1.0)
    with pytest.raises(ValueError, match="a log range needs low > 0"):
        TuneRange(type="float", low=0.0, high=1.0, log=True)
    with pytest.raises(ValueError, match="non-empty 'choices'"):
        TuneRange(type="categorical")
