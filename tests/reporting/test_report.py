"""Run reports: calibration bins, plots and the Markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mtlrec.reporting import calibration_bins, write_report


def test_calibration_bins_on_known_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    labels = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    bins = calibration_bins(labels, scores, num_bins=3)
    assert bins["mean_score"].tolist() == pytest.approx([0.15, 0.35, 0.85])
    assert bins["mean_label"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert bins["rows"].tolist() == [2, 2, 2]


def test_report_writes_plots_and_summary(tiny_run: Path) -> None:
    report = write_report(tiny_run)
    folder = tiny_run / "report"
    names = {"learning_curves.png", "balancer.png", "gates.png", "calibration.png"}
    assert names <= {p.name for p in folder.iterdir()}
    for name in names:
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    text = report.read_text()
    metrics = json.loads((tiny_run / "metrics.json").read_text())["test"]
    assert f"| task1 | {metrics['task1']['calibration']:.4f}" in text
    assert "- balancer: `pcgrad`" in text
    assert "Unused experts" in text
    assert "![Gate weights](gates.png)" in text


def test_report_rejects_an_unfinished_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.yaml is missing"):
        write_report(tmp_path)
