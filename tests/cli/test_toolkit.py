"""The report, compare and tune commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from mtlrec.cli import cli


def test_report_and_compare_commands(tiny_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--quiet", "report", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "report.md and 4 plots" in result.output
    chart = tmp_path / "cmp.png"
    result = runner.invoke(
        cli, ["--quiet", "compare", str(tiny_run), str(tiny_run), "--out", str(chart)]
    )
    assert result.exit_code == 0, result.output
    assert "task1.xauc" in result.output.splitlines()[0]
    assert chart.is_file()


def test_tune_command_writes_best_config(
    tiny_document: dict[str, Any], tmp_path: Path
) -> None:
    tiny_document["train"]["epochs"] = 1
    tiny_document["tune"] = {"model.num_experts": {"type": "int", "low": 2, "high": 3}}
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_document))
    out = tmp_path / "search"
    result = CliRunner().invoke(
        cli,
        ["--quiet", "tune", str(config), "--trials", "2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "model.num_experts = " in result.output
    assert (out / "best_config.yaml").is_file()


def test_evaluate_table_shows_the_new_metrics(tiny_run: Path) -> None:
    result = CliRunner().invoke(cli, ["--quiet", "evaluate", str(tiny_run)])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1].split()
    assert header == ["task", "mse", "mae", "rmse", "xauc", "calibration", "rows"]
