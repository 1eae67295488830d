"""Plots and a one-page Markdown summary of a finished run.

``write_report(run_dir)`` reads only files of the run directory
(``config.yaml``, ``run.json``, ``history.json``, ``metrics.json``,
``predictions_test.parquet``, ``labels_test.parquet``, ``gates_test.json``)
and writes PNG plots plus ``report.md`` into ``RUN_DIR/report/``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = ["calibration_bins", "load_pyplot", "write_report"]

logger = logging.getLogger(__name__)

_MAIN_METRIC = {"binary": "auc", "regression": "mse"}


def load_pyplot() -> Any:
    """Import matplotlib's pyplot with the file-only Agg backend.

    Raises:
        ImportError: matplotlib is not installed; the message names the fix.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "plots need matplotlib; install it with `pip install 'mtlrec[toolkit]'`"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def calibration_bins(
    labels: np.ndarray, scores: np.ndarray, num_bins: int = 10
) -> pd.DataFrame:
    """Mean score and mean label in equal-count bins of the scores.

    Args:
        labels: ``(N,)`` labels.
        scores: ``(N,)`` predictions.
        num_bins: Number of quantile bins (fewer when scores repeat).

    Returns:
        One row per bin with ``mean_score``, ``mean_label`` and ``rows``,
        ordered by score.
    """
    frame = pd.DataFrame({"score": scores, "label": labels})
    ranks = frame["score"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(num_bins, len(frame)), labels=False)
    grouped = frame.groupby("bin")
    return pd.DataFrame(
        {
            "mean_score": grouped["score"].mean(),
            "mean_label": grouped["label"].mean(),
            "rows": grouped.size(),
        }
    ).reset_index(drop=True)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _tasks(run_dir: Path) -> list[dict[str, Any]]:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    return list(config["tasks"])


def _plot_learning_curves(
    history: list[dict[str, Any]], tasks: list[dict[str, Any]], path: Path
) -> None:
    plt = load_pyplot()
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(
        len(tasks), 2, figsize=(9, 2.6 * len(tasks)), squeeze=False
    )
    for row, task in zip(axes, tasks, strict=True):
        name, metric = task["name"], _MAIN_METRIC[task.get("type", "binary")]
        row[0].plot(epochs, [r["train_task_loss"][name] for r in history], "o-")
        row[0].set_title(f"{name}: train loss")
        values = [r["valid"].get(name, {}).get(metric) for r in history]
        row[1].plot(epochs, [np.nan if v is None else v for v in values], "o-")
        row[1].set_title(f"{name}: valid {metric}")
        for ax in row:
            _epoch_axis(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_balancer(history: list[dict[str, Any]], path: Path) -> bool:
    if not all(r.get("balancer") for r in history):
        return False
    records: list[dict[str, Any]] = [r["balancer"] for r in history]
    plt = load_pyplot()
    epochs = [r["epoch"] for r in history]
    cosine = all("grad_cosine" in r for r in records)
    fig, axes = plt.subplots(1, 2 if cosine else 1, figsize=(9, 3), squeeze=False)
    for task in records[0]["weights"]:
        axes[0, 0].plot(epochs, [r["weights"][task] for r in records], "o-", label=task)
    axes[0, 0].set_title(f"{records[0]['name']}: effective task weight")
    axes[0, 0].legend()
    if cosine:
        for pair in records[0]["grad_cosine"]:
            values = [r["grad_cosine"][pair] for r in records]
            axes[0, 1].plot(epochs, values, "o-", label=pair)
        axes[0, 1].axhline(0.0, color="grey", lw=0.5)
        axes[0, 1].set_title("task-gradient cosine")
        axes[0, 1].legend()
    for ax in axes[0]:
        _epoch_axis(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _epoch_axis(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _plot_gates(gates: dict[str, Any], path: Path) -> None:
    plt = load_pyplot()
    usage = gates["mean_weight"]
    experts: list[str] = []
    for weights in usage.values():
        experts += [e for e in weights if e not in experts]
    matrix = np.array(
        [[usage[t].get(e, np.nan) for e in experts] for t in usage], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(experts), 1.0 + 0.6 * len(usage)))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", vmin=0.0)
    ax.set_xticks(range(len(experts)), experts, rotation=45, ha="right")
    ax.set_yticks(range(len(usage)), list(usage))
    for (i, j), value in np.ndenumerate(matrix):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w")
    ax.set_title(f"mean gate weight per task and expert ({gates['split']})")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _task_space(labels: pd.DataFrame, tasks: list[dict[str, Any]], k: int) -> Any:
    by_name = {t["name"]: t for t in tasks}
    mask = np.ones(len(labels), dtype=bool)
    parent = tasks[k].get("parent")
    while parent is not None:
        mask &= labels[parent].to_numpy() == 1
        parent = by_name[parent].get("parent")
    return mask


def _plot_calibration(
    scores: pd.DataFrame, labels: pd.DataFrame, tasks: list[dict[str, Any]], path: Path
) -> None:
    plt = load_pyplot()
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(3.6 * len(tasks), 3.4), squeeze=False
    )
    for k, (ax, task) in enumerate(zip(axes[0], tasks, strict=True)):
        mask = _task_space(labels, tasks, k)
        name = task["name"]
        bins = calibration_bins(
            labels[name].to_numpy()[mask], scores[name].to_numpy()[mask]
        )
        ax.plot(bins["mean_score"], bins["mean_label"], "o-")
        top = float(max(bins["mean_score"].max(), bins["mean_label"].max()))
        low = float(min(bins["mean_score"].min(), bins["mean_label"].min(), 0.0))
        ax.plot([low, top], [low, top], color="grey", lw=0.8, ls="--")
        ax.set_title(f"{name} (test)")
        ax.set_xlabel("mean prediction")
        ax.set_ylabel("mean label")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _metrics_table(metrics: dict[str, dict[str, Any]]) -> list[str]:
    names = ["auc", "gauc", "logloss", "calibration", "mse", "rmse", "xauc", "rows"]
    used = [n for n in names if any(v.get(n) is not None for v in metrics.values())]
    lines = ["| task | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for task, values in metrics.items():
        cells = [_fmt(values.get(n), n) for n in used]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def _fmt(value: Any, name: str) -> str:
    if value is None:
        return "-"
    return f"{int(value)}" if name == "rows" else f"{value:.4f}"


def write_report(run_dir: str | Path) -> Path:
    """Write plots and ``report.md`` for a finished run.

    Args:
        run_dir: A directory written by ``mtlrec train``.

    Returns:
        The Markdown file ``RUN_DIR/report/report.md``.

    Raises:
        FileNotFoundError: ``run_dir`` is not a finished run.
    """
    run = Path(run_dir)
    for name in ("config.yaml", "metrics.json", "history.json"):
        if not (run / name).is_file():
            raise FileNotFoundError(
                f"{str(run)!r} is not a finished run: {name} is missing; pass a "
                "directory written by `mtlrec train`"
            )
    out = run / "report"
    out.mkdir(exist_ok=True)
    tasks = _tasks(run)
    history = _read_json(run / "history.json")
    metrics = _read_json(run / "metrics.json")
    info = _read_json(run / "run.json") or {}
    config = yaml.safe_load((run / "config.yaml").read_text())
    images = _write_plots(run, out, tasks, history)
    lines = _summary(run, config, info, metrics, history, images)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    logger.info("Report written. path=%s plots=%d", report, len(images))
    return report


def _write_plots(
    run: Path, out: Path, tasks: list[dict[str, Any]], history: list[dict[str, Any]]
) -> dict[str, str]:
    images: dict[str, str] = {}
    _plot_learning_curves(history, tasks, out / "learning_curves.png")
    images["Learning curves"] = "learning_curves.png"
    if _plot_balancer(history, out / "balancer.png"):
        images["Loss balancer"] = "balancer.png"
    gates = _read_json(run / "gates_test.json")
    if gates:
        _plot_gates(gates, out / "gates.png")
        images["Gate weights"] = "gates.png"
    predictions, labels = run / "predictions_test.parquet", run / "labels_test.parquet"
    if predictions.is_file() and labels.is_file():
        scores, truth = pd.read_parquet(predictions), pd.read_parquet(labels)
        _plot_calibration(scores, truth, tasks, out / "calibration.png")
        images["Calibration (test)"] = "calibration.png"
    return images


def _summary(
    run: Path,
    config: dict[str, Any],
    info: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    images: dict[str, str],
) -> list[str]:
    balancer = config["train"].get("balancer", {"name": "fixed"})
    lines = [
        f"# Run report: {run.name}",
        "",
        f"- model: `{config['model']['name']}`, "
        f"parameters: {info.get('parameters', '-')}",
        f"- balancer: `{balancer.get('name')}`",
        f"- tasks: {', '.join(t['name'] for t in config['tasks'])}",
        f"- rows: {info.get('rows', '-')}",
        f"- epochs run: {len(history)}, best epoch: {metrics.get('best_epoch')}, "
        f"valid objective: {_fmt(metrics.get('valid_objective'), '')}",
        f"- training time: {metrics.get('train_seconds', 0.0):.1f} s",
        "",
        "## Test metrics",
        "",
        *_metrics_table(metrics["test"]),
        "",
    ]
    gates = _read_json(run / "gates_test.json")
    if gates:
        unused = gates["unused_experts"]
        lines += [
            "## Experts",
            "",
            f"Unused experts (every task below {gates['collapse_ratio']} of the "
            f"uniform weight): {', '.join(unused) if unused else 'none'}.",
            "",
        ]
    for title, name in images.items():
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    return lines
