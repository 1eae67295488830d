"""Side-by-side comparison of finished runs: one table and one bar chart."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from mtlrec.reporting._report import load_pyplot

__all__ = ["compare_runs", "plot_comparison"]

logger = logging.getLogger(__name__)

_HEADLINE = ("auc", "xauc", "mse")


def compare_runs(run_dirs: Sequence[str | Path], split: str = "test") -> pd.DataFrame:
    """One row per run: model, balancer, training precision and embedding
    updates, size, time and per-task metrics.

    Columns ``<task>.<metric>`` hold each task's AUC (binary), or XAUC and
    MSE (regression), on ``split``.

    Args:
        run_dirs: Directories written by ``mtlrec train``.
        split: ``valid`` or ``test`` (default ``test``).

    Raises:
        FileNotFoundError: A directory is not a finished run.
        ValueError: ``split`` is not ``valid`` or ``test``, or no run is given.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    if not run_dirs:
        raise ValueError("compare needs at least one run directory")
    rows = []
    for run_dir in run_dirs:
        run = Path(run_dir)
        if not (run / "metrics.json").is_file():
            raise FileNotFoundError(
                f"{str(run)!r} is not a finished run: metrics.json is missing; "
                "pass directories written by `mtlrec train`"
            )
        metrics = json.loads((run / "metrics.json").read_text())
        info_path = run / "run.json"
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        config = yaml.safe_load((run / "config.yaml").read_text())
        row: dict[str, object] = {
            "run": run.name,
            "model": config["model"]["name"],
            "balancer": config["train"].get("balancer", {}).get("name", "fixed"),
            "precision": config["train"].get("precision", "float32"),
            "sparse_embeddings": config["train"].get("sparse_embeddings", False),
            "parameters": info.get("parameters"),
            "train_seconds": metrics.get("train_seconds"),
            "best_epoch": metrics.get("best_epoch"),
        }
        for task, values in metrics[split].items():
            for name in _HEADLINE:
                if values.get(name) is not None:
                    row[f"{task}.{name}"] = values[name]
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def plot_comparison(table: pd.DataFrame, path: str | Path) -> Path:
    """Bar chart of every ``<task>.<metric>`` column, one bar per run.

    Returns:
        The written PNG path.
    """
    plt = load_pyplot()
    columns = [c for c in table.columns if "." in str(c)]
    fig, axes = plt.subplots(
        1,
        max(len(columns), 1),
        figsize=(3.2 * max(len(columns), 1), 3.6),
        squeeze=False,
    )
    for ax, column in zip(axes[0], columns, strict=False):
        values = table[column].astype(float)
        ax.bar(range(len(values)), values.to_numpy(), color="tab:blue")
        ax.set_xticks(range(len(values)), list(table.index), rotation=45, ha="right")
        ax.set_title(column)
        spread = float(values.max() - values.min())
        margin = spread * 0.5 if spread > 0 else abs(float(values.max())) * 0.01 + 1e-6
        ax.set_ylim(float(values.min()) - margin, float(values.max()) + margin)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    logger.info("Comparison chart written. path=%s", out)
    return out
