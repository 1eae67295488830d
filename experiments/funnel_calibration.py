"""How often does AITM predict a funnel step above the step before it?

Trains configs/simulated/aitm_funnel.yaml with the calibrator (weight 0.6)
and without it (weight 0) over three seeds and reports, on the test split,
the violation rate: the share of (row, step >= 2) pairs whose predicted
end-to-end probability exceeds the previous step's, plus each step's AUC
against its end-to-end label.

Usage: python experiments/funnel_calibration.py [OUT_DIR] [--weights W ...]
    [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from common import markdown_table, mean_std, test_metrics, train_seeds

from mtlrec import load_config, load_run, predict
from mtlrec.data import load_splits

CONFIG = "configs/simulated/aitm_funnel.yaml"
STEPS = ("click", "application", "approval", "activation")


def violation_rate(scores: pd.DataFrame) -> float:
    """Share of (row, step >= 2) pairs predicted above the previous step."""
    joint = np.stack(
        [scores[s if s == "click" else f"{s}@entire"].to_numpy() for s in STEPS], axis=1
    )
    return float((joint[:, 1:] > joint[:, :-1]).mean())


def main(out_root: Path, weights: list[float], overrides: list[str]) -> None:
    test = load_splits(load_config(CONFIG).data)["test"]
    rows = []
    for weight in weights:
        runs = train_seeds(
            CONFIG,
            (0, 1, 2),
            out_root / f"calibrator{weight}",
            overrides=[*overrides, f"model.calibrator_weight={weight}"],
        )
        rates = [violation_rate(predict(load_run(r), test)) for r in runs]
        row = {"calibrator weight": weight, "violation rate": mean_std(rates)}
        for step in STEPS:
            key = step if step == "click" else f"{step}@entire"
            row[f"{step} AUC"] = mean_std([test_metrics(r)[key]["auc"] for r in runs])
        rows.append(row)
    print(markdown_table(pd.DataFrame(rows).set_index(pd.DataFrame(rows).columns[0])))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir", type=Path, nargs="?", default="runs/funnel_calibration"
    )
    parser.add_argument("--weights", type=float, nargs="+", default=[0.6, 0.0])
    parser.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = parser.parse_args()
    main(args.out_dir, args.weights, args.overrides)
