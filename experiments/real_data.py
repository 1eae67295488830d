"""Train real-data configs over three seeds and print a results table.

Usage: python experiments/real_data.py DATA_DIR OUT_DIR CONFIG [CONFIG ...]
    [--set KEY=VALUE ...]

Each config runs with ``train.seed`` 0, 1, 2 (the data split keeps its own
seed, so the seeds vary initialisation and batch order); ``--set`` adds
dotted overrides to every run. The table gives mean ± std of the test AUC
of every task entry (per domain too).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from common import markdown_table, mean_std, test_metrics, train_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = parser.parse_args()
    rows = []
    for path in args.configs:
        out = args.out_dir / Path(path).parent.name / Path(path).stem
        runs = train_seeds(path, (0, 1, 2), out, args.data_dir, args.overrides)
        metrics = [test_metrics(r) for r in runs]
        row = {"config": path}
        for entry in metrics[0]:
            row[entry] = mean_std([m[entry].get("auc") for m in metrics])
        rows.append(row)
        print(markdown_table(pd.DataFrame(rows).set_index("config").T), flush=True)


if __name__ == "__main__":
    main()
