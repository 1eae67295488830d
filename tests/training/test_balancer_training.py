"""The trainer runs every balancer through one interface and logs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mtlrec import parse_config, train


@pytest.mark.parametrize(
    ("balancer", "cosine"),
    [
        ({"name": "fixed"}, False),
        ({"name": "uncertainty"}, False),
        ({"name": "dwa"}, False),
        ({"name": "gradnorm"}, True),
        ({"name": "pcgrad"}, True),
    ],
)
def test_history_records_balancer_weights(
    tiny_document: dict[str, Any],
    tmp_path: Path,
    balancer: dict[str, Any],
    cosine: bool,
) -> None:
    tiny_document["train"]["balancer"] = balancer
    run = train(parse_config(tiny_document), out=tmp_path / "run")
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 2
    for record in history:
        logged = record["balancer"]
        assert logged["name"] == balancer["name"]
        assert set(logged["weights"]) == {"task1", "task2"}
        assert ("grad_cosine" in logged) is cosine
        if cosine:
            assert -1.0 <= logged["grad_cosine"]["task1/task2"] <= 1.0
    weights = history[-1]["balancer"]["weights"]
    if balancer["name"] == "fixed":
        assert weights == {"task1": 1.0, "task2": 1.0}
    if balancer["name"] == "uncertainty":
        # Regression tasks start at 1/2 and the learnt s_k move them.
        assert all(w != 0.5 for w in weights.values())
    if balancer["name"] == "gradnorm":
        assert sum(weights.values()) == pytest.approx(2.0, abs=1e-4)


def test_fixed_balancer_equals_weighted_sum(
    tiny_document: dict[str, Any], tmp_path: Path
) -> None:
    # Task weights (2, 1) and the loss they imply: train_loss = 2 L1 + L2.
    tiny_document["tasks"][0]["weight"] = 2.0
    run = train(parse_config(tiny_document), out=tmp_path / "run")
    record = json.loads((run / "history.json").read_text())[0]
    losses = record["train_task_loss"]
    assert record["train_loss"] == pytest.approx(
        2 * losses["task1"] + losses["task2"], rel=1e-5
    )
    assert record["balancer"]["weights"] == {"task1": 2.0, "task2": 1.0}
