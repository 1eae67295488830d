"""Train the Census-Income configs over several seeds and print a results table.

Usage::

    python scripts/census_table.py --data-dir ../shared/data --seeds 0 1 2

Each (model, seed) trains ``configs/census_income/<model>.yaml`` with
``train.seed=<seed>`` into ``runs/census-table/<model>-<seed>`` and reads the
test metrics it wrote. The table gives mean and standard deviation of the test
AUC of each task, beside the MMoE paper's Table 1 (Census group 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

import mtlrec

MODELS = ["single_task", "shared_bottom", "omoe", "mmoe", "ple"]
PAPER = {  # MMoE paper, Table 1: mean test AUC over 400 runs (income, marital)
    "single_task": (0.9337, 0.9922),
    "shared_bottom": (0.9295, 0.9921),
    "omoe": (0.9319, 0.9923),
    "mmoe": (0.9359, 0.9927),
    "ple": (None, None),
}


def main() -> None:
    """Parse arguments, train every (model, seed) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--out", default="runs/census-table")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rows = []
    for name in args.models:
        results = [_run(name, seed, args) for seed in args.seeds]
        rows.append((name, results))
    print(_markdown(rows))


def _run(name: str, seed: int, args: argparse.Namespace) -> dict:
    run_dir = Path(args.out) / f"{name}-{seed}"
    if not (run_dir / "metrics.json").exists():
        overrides = [f"train.seed={seed}", "train.progress_bar=false"]
        config = mtlrec.load_config(f"configs/census_income/{name}.yaml", overrides)
        mtlrec.train(config, data_dir=args.data_dir, out=run_dir, overwrite=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "income": metrics["test"]["income"]["auc"],
        "never_married": metrics["test"]["never_married"]["auc"],
        "seconds": metrics["train_seconds"],
        "best_epoch": metrics["best_epoch"],
    }


def _cell(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def _markdown(rows: list[tuple[str, list[dict]]]) -> str:
    lines = [
        "| model | income AUC | never-married AUC | paper income (mean) "
        "| paper marital (mean) | train s / run |",
        "|---|---|---|---|---|---|",
    ]
    for name, results in rows:
        paper = PAPER.get(name, (None, None))
        lines.append(
            f"| {name} | {_cell([r['income'] for r in results])} "
            f"| {_cell([r['never_married'] for r in results])} "
            f"| {paper[0] or '-'} | {paper[1] or '-'} "
            f"| {statistics.mean(r['seconds'] for r in results):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
