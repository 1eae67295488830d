"""Comparing runs: the table and the bar chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtlrec.reporting import compare_runs, plot_comparison


def test_compare_table_holds_each_runs_metrics(tiny_run: Path, tmp_path: Path) -> None:
    table = compare_runs([tiny_run, tiny_run], split="valid")
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    info = json.loads((tiny_run / "run.json").read_text())
    row = table.iloc[0]
    assert row["model"] == "ple"
    assert row["balancer"] == "pcgrad"
    assert row["precision"] == "float32"
    assert not row["sparse_embeddings"]
    assert row["parameters"] == info["parameters"]
    assert row["task1.mse"] == metrics["valid"]["task1"]["mse"]
    assert row["task2.xauc"] == metrics["valid"]["task2"]["xauc"]
    chart = plot_comparison(table, tmp_path / "chart.png")
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_compare_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="metrics.json is missing"):
        compare_runs([tmp_path])
    with pytest.raises(ValueError, match="split must be 'valid' or 'test'"):
        compare_runs([tmp_path], split="train")
    with pytest.raises(ValueError, match="at least one run"):
        compare_runs([])
