"""Compare loss balancers on Census-Income with the MMoE config.

Trains ``configs/census_income/mmoe.yaml`` once per (balancer, seed) with a
short schedule and writes one JSON record per run plus a Markdown summary to
``benchmarks/results/balancers/``. Usage::

    python benchmarks/compare_balancers.py --data-dir /path/to/data \
        --seeds 0 1 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

import mtlrec

BALANCERS = {
    "fixed": "{name: fixed}",
    "uncertainty": "{name: uncertainty}",
    "dwa": "{name: dwa, temperature: 2.0}",
    "gradnorm": "{name: gradnorm, alpha: 1.5}",
    "pcgrad": "{name: pcgrad}",
}


def run_one(args: argparse.Namespace, balancer: str, seed: int) -> dict:
    """Train one run and return its summary record."""
    out = args.out / f"{balancer}-seed{seed}"
    overrides = [
        f"train.epochs={args.epochs}",
        f"train.batch_size={args.batch_size}",
        f"train.seed={seed}",
        f"train.patience={args.epochs}",
        "train.progress_bar=false",
        f"train.balancer={BALANCERS[balancer]}",
    ]
    config = mtlrec.load_config(args.config, overrides)
    mtlrec.train(config, data_dir=args.data_dir, out=out, overwrite=True)
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    return {
        "balancer": balancer,
        "seed": seed,
        "test_auc": {t: m["auc"] for t, m in metrics["test"].items()},
        "valid_objective": metrics["valid_objective"],
        "best_epoch": metrics["best_epoch"],
        "train_seconds": metrics["train_seconds"],
        "weights": [r["balancer"]["weights"] for r in history],
        "grad_cosine": [r["balancer"].get("grad_cosine") for r in history],
    }


def summarise(records: list[dict]) -> str:
    """Markdown table: mean and spread of test AUC per balancer and task."""
    tasks = list(records[0]["test_auc"])
    lines = [
        "| balancer | "
        + " | ".join(f"{t} test AUC" for t in tasks)
        + " | last-epoch weights | seconds/run |",
        "|---" * (len(tasks) + 3) + "|",
    ]
    for name in BALANCERS:
        runs = [r for r in records if r["balancer"] == name]
        if not runs:
            continue
        cells = []
        for task in tasks:
            values = [r["test_auc"][task] for r in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
        weights = runs[0]["weights"][-1]
        shown = ", ".join(f"{t}={w:.2f}" for t, w in weights.items())
        seconds = statistics.mean(r["train_seconds"] for r in runs)
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {shown} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run every (balancer, seed), write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/census_income/mmoe.yaml")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/balancers")
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--balancers", nargs="+", default=list(BALANCERS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "records.json"
    # Runs already recorded in --out are kept, so a longer comparison resumes.
    records = json.loads(saved.read_text()) if saved.is_file() else []
    done = {(r["balancer"], r["seed"]) for r in records}
    for seed in args.seeds:
        for balancer in args.balancers:
            if (balancer, seed) in done:
                continue
            record = run_one(args, balancer, seed)
            records.append(record)
            print(json.dumps(record), flush=True)
            saved.write_text(json.dumps(records, indent=2))
    (args.out / "summary.md").write_text(summarise(records) + "\n")
    print(summarise(records))


if __name__ == "__main__":
    main()
