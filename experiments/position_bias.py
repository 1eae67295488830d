"""Does the shallow position tower improve ranking by true relevance?

Trains configs/simulated/youtube_mmoe.yaml and mmoe_feed.yaml over three
seeds and scores each test list by the simulator's true relevance:
NDCG@5 with the true relevance as gain, AUC of the click score against
``relevant`` (a click drawn as if every position were examined), and the
Spearman correlation of the score with freshness (which has no effect on
relevance; a biased model learns it from the position).

Usage: python experiments/position_bias.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from common import markdown_table, mean_std, train_seeds
from scipy.stats import spearmanr

from mtlrec import load_config, load_run, predict
from mtlrec.data import load_splits
from mtlrec.metrics import auc

CONFIGS = {
    "MMoE + shallow tower": "configs/simulated/youtube_mmoe.yaml",
    "MMoE (no shallow tower)": "configs/simulated/mmoe_feed.yaml",
}


def ndcg_at(frame: pd.DataFrame, score: np.ndarray, k: int = 5) -> float:
    """Mean NDCG@k over lists, gains = true relevance."""
    frame = frame.assign(score=score)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    values = []
    for _, group in frame.groupby("list_id"):
        ranked = group.sort_values("score", ascending=False)["relevance"].to_numpy()[:k]
        ideal = np.sort(group["relevance"].to_numpy())[::-1][:k]
        values.append(
            (ranked * discounts[: len(ranked)]).sum()
            / (ideal * discounts[: len(ideal)]).sum()
        )
    return float(np.mean(values))


def main(out_root: Path) -> None:
    test = load_splits(load_config(CONFIGS["MMoE + shallow tower"]).data)["test"]
    rows = []
    for name, path in CONFIGS.items():
        results = {"ndcg@5": [], "auc_relevant": [], "spearman_freshness": []}
        for run_dir in train_seeds(path, (0, 1, 2), out_root / Path(path).stem):
            score = predict(load_run(run_dir), test)["click"].to_numpy()
            results["ndcg@5"].append(ndcg_at(test, score))
            results["auc_relevant"].append(auc(test["relevant"].to_numpy(), score))
            results["spearman_freshness"].append(
                float(spearmanr(score, test["freshness"]).statistic)
            )
        rows.append({"model": name, **{k: mean_std(v) for k, v in results.items()}})
    print(markdown_table(pd.DataFrame(rows).set_index(pd.DataFrame(rows).columns[0])))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/position_bias"))
