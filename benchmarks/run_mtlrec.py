"""Run one mtlrec benchmark case and write its measurements as JSON.

Same data, model sizes and measurements as ``benchmarks/peers/run_peer.py``:
data preparation (read Parquet, fit the feature map, encode), one training
epoch (the loop alone, validation excluded), prediction of the test split, test
AUC per task and the peak resident memory of the process.

Example:
    python benchmarks/run_mtlrec.py --model mmoe \
        --data benchmarks/results/data/bench_300k.parquet --json-out /tmp/m.json
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from mtlrec.config import parse_config
from mtlrec.data import load_splits
from mtlrec.features import FeatureMap
from mtlrec.losses import MultiTaskLoss
from mtlrec.metrics import auc
from mtlrec.training import (
    Trainer,
    build_model,
    encode,
    predict_scores,
    tune_allocator,
)

MODELS = ("shared_bottom", "mmoe", "ple", "esmm", "aitm")
LABELS = {
    "shared_bottom": ["y0", "y1", "y2"],
    "mmoe": ["y0", "y1", "y2"],
    "ple": ["y0", "y1", "y2"],
    "esmm": ["click", "conversion"],
    "aitm": ["click", "conversion"],
}
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "shared_bottom": {"bottom_units": [256, 128], "tower_units": [64]},
    "mmoe": {"num_experts": 8, "expert_units": [256, 128], "tower_units": [64]},
    "ple": {
        "num_levels": 1,
        "num_task_experts": 2,
        "num_shared_experts": 1,
        "expert_units": [256, 128],
        "tower_units": [64],
    },
    "esmm": {"hidden_units": [256, 128, 64]},
    "aitm": {"tower_units": [256, 128, 64], "dropout": 0.0},
}


def run_config(model: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The run config of one case, as a plain mapping."""
    labels = LABELS[model]
    tasks = [{"name": labels[0], "label": labels[0]}]
    for prev, label in zip(labels[:-1], labels[1:], strict=True):
        parent = prev if model in ("esmm", "aitm") else None
        tasks.append({"name": label, "label": label, "parent": parent})
    return {
        "data": {
            "format": "parquet",
            "path": str(data.resolve()),
            "split": {"method": "column", "column": "split"},
        },
        "features": {
            "embedding_dim": 16,
            "categorical": [{"name": "c*"}],
            # As the peers receive them: the values in the file, unscaled
            # (mtlrec's default standardises numeric columns).
            "numeric": [{"name": "n*", "scaling": "none"}],
            "exclude": [c for m in LABELS.values() for c in m],
        },
        "tasks": tasks,
        "model": {"name": model, **MODEL_SETTINGS[model]},
        "train": {
            "epochs": 1,
            "batch_size": 1024,
            "seed": args.seed,
            "threads": args.threads,
            "progress_bar": False,
            "optimizer": {"name": "adam", "lr": 1e-3},
        },
    }


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare, train and score one case; return the measurements."""
    torch.set_num_threads(args.threads)
    tune_allocator()  # as `mtlrec train` does
    config = parse_config(run_config(args.model, args.data, args), args.overrides)
    start = time.perf_counter()
    frames = load_splits(config.data)
    reserved = {t.label for t in config.tasks} | {"split"}
    feature_map = FeatureMap.fit(frames["train"], config.features, reserved)
    data = {k: encode(f, feature_map, config, k) for k, f in frames.items()}
    del frames  # as `mtlrec train` does: the encoded tensors are a copy
    prep_s = time.perf_counter() - start

    torch.manual_seed(args.seed)
    model = build_model(config, feature_map)
    loss = MultiTaskLoss(
        model.spec, config.tasks, model.output_space, model.child_loss_space
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, loss, config.train, Path(tmp) / "w.safetensors")
        fit = trainer.fit(data["train"], data["valid"])
    train_s = fit.history[0]["train_seconds"]

    start = time.perf_counter()
    scores = predict_scores(
        model, data["test"], config.train.eval_batch_size, config.train.eval_precision
    )
    predict_s = time.perf_counter() - start

    labels = data["test"].labels
    assert labels is not None  # encoded with labels
    aucs = {}
    for k, task in enumerate(config.tasks):
        # Child tasks are scored on all rows (CTCVR), as the peers report them.
        key = task.name + "@entire" if task.parent else task.name
        aucs[task.label] = auc(labels[:, k].numpy(), scores[key])
    return {
        "status": "ok",
        "rows": {k: len(v) for k, v in data.items()},
        "num_params": sum(p.numel() for p in model.parameters()),
        "data_prep_s": round(prep_s, 3),
        "train_s": round(train_s, 3),
        "train_rows_per_s": round(len(data["train"]) / train_s, 1),
        "predict_s": round(predict_s, 3),
        "predict_rows_per_s": round(len(data["test"]) / predict_s, 1),
        "auc": aucs,
        "peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
        "overrides": list(args.overrides),
    }


def main() -> None:
    """Parse the command line, run the case, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, required=True)
    parser.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE")
    args = parser.parse_args()
    result = run_case(args)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
