"""Balancers and gate diagnostics on the real Census-Income data (slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mtlrec import load_config, train
from mtlrec.data import DATA_DIR_VARIABLE

CONFIG = Path(__file__).resolve().parents[2] / "configs/census_income/mmoe.yaml"
DATA = os.environ.get(DATA_DIR_VARIABLE)


@pytest.mark.slow
@pytest.mark.skipif(
    not DATA or not (Path(DATA) / "census-income-kdd").is_dir(),
    reason=f"set {DATA_DIR_VARIABLE} to the folder holding census-income-kdd/",
)
def test_pcgrad_mmoe_on_census_logs_weights_cosines_and_gates(tmp_path: Path) -> None:
    # A 10 % training split keeps one epoch to a few seconds.
    config = load_config(
        CONFIG,
        [
            "data.split.fractions={train: 0.1, valid: 0.05, test: 0.85}",
            "train.epochs=1",
            "train.batch_size=128",
            "train.progress_bar=false",
            "train.balancer={name: pcgrad}",
        ],
    )
    run = train(config, data_dir=DATA, out=tmp_path / "run")
    record = json.loads((run / "history.json").read_text())[0]["balancer"]
    assert record["weights"] == {"income": 1.0, "never_married": 1.0}
    assert -1.0 <= record["grad_cosine"]["income/never_married"] <= 1.0
    gates = json.loads((run / "gates_test.json").read_text())
    assert set(gates["mean_weight"]) == {"income", "never_married"}
    for weights in gates["mean_weight"].values():
        assert len(weights) == 8
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-4)
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["income"]["auc"] > 0.85
    assert 0.5 < test["income"]["calibration"] < 2.0
