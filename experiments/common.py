"""Helpers of the experiment scripts: train a config over seeds, summarise."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mtlrec import load_config, train_run


def train_seeds(
    config_path: str | Path,
    seeds: Sequence[int],
    out_root: Path,
    data_dir: str | None = None,
    overrides: Sequence[str] = (),
) -> list[Path]:
    """Train ``config_path`` once per seed (``train.seed``); return the run dirs.

    A run directory that already holds a finished run is reused.
    """
    runs = []
    for seed in seeds:
        out = out_root / f"seed{seed}"
        if not (out / "metrics.json").is_file():
            config = load_config(config_path, [*overrides, f"train.seed={seed}"])
            train_run(config, data_dir=data_dir, out=out, overwrite=True)
        runs.append(out)
    return runs


def test_metrics(run: Path) -> dict[str, Any]:
    """The test-split metrics a run wrote."""
    return json.loads((run / "metrics.json").read_text())["test"]


def mean_std(values: Sequence[float | None]) -> str:
    """``mean ± std`` over the non-null values, 4 decimals."""
    present = [v for v in values if v is not None]
    if not present:
        return "n/a"
    spread = statistics.stdev(present) if len(present) > 1 else 0.0
    return f"{statistics.mean(present):.4f} ± {spread:.4f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """Render a frame as a GitHub Markdown table (index as the first column)."""
    header = [str(frame.index.name or ""), *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in frame.iterrows():
        lines.append("| " + " | ".join([str(index), *map(str, row.tolist())]) + " |")
    return "\n".join(lines)
