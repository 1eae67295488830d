"""Run one (peer library, model) throughput case and write its result as JSON.

Each case runs in its own process so that peak memory is per case. The peer
library is used through its own public API: torch-rechub's ``DataGenerator``,
model classes and ``MTLTrainer``; DeepCTR-Torch's feature columns, model classes
and ``compile``/``fit``/``predict``.

Measured, in order:

* data preparation: from reading the Parquet file to the objects the peer trains
  on (feature definitions, input dicts, data loaders);
* training: ``--epochs`` passes over the train split, as train rows per second;
* prediction: scoring the test split, as test rows per second;
* test AUC per task (``sklearn.metrics.roc_auc_score``);
* peak resident memory of the process (``ru_maxrss``).

Tasks are ``y0, y1, y2`` for shared_bottom/mmoe/ple and ``click, conversion`` for
esmm/aitm. For esmm and aitm the conversion AUC is computed on every test row
against the model's click-and-convert probability, i.e. it is a CTCVR AUC.

Example:
    benchmarks/.peer-venv/bin/python benchmarks/peers/run_peer.py \
        --lib torch_rechub --model mmoe \
        --data benchmarks/results/data/bench_300k.parquet --json-out /tmp/r.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

LIBS = ("torch_rechub", "deepctr_torch")
MODELS = ("shared_bottom", "mmoe", "ple", "esmm", "aitm")
CATEGORICAL = [f"c{i}" for i in range(20)]
NUMERIC = [f"n{i}" for i in range(8)]
TASKS = {
    "shared_bottom": ["y0", "y1", "y2"],
    "mmoe": ["y0", "y1", "y2"],
    "ple": ["y0", "y1", "y2"],
    "esmm": ["click", "conversion"],
    "aitm": ["click", "conversion"],
}
TASK_NOTES = {
    "esmm": "conversion AUC is CTCVR: pCTR*pCVR scored on all test rows",
    "aitm": "conversion AUC is CTCVR: the conversion head scored on all test rows",
}
UNSUPPORTED = {
    ("deepctr_torch", "aitm"): "DeepCTR-Torch 0.3.0 has no AITM model",
}


@dataclass(frozen=True)
class Sizes:
    """Model and training sizes shared by every library.

    Args:
        embed_dim: Embedding width of every categorical feature (default 16).
        bottom_units: Shared-Bottom bottom widths (default [256, 128]).
        expert_units: Widths of each MMoE/PLE expert (default [256, 128]).
        tower_units: Hidden widths of each task tower (default [64]).
        num_experts: MMoE expert count (default 8).
        ple_specific: PLE task-specific experts per task (default 2).
        ple_shared: PLE shared experts (default 1).
        ple_levels: PLE extraction levels (default 1).
        esmm_units: Widths of each ESMM CTR/CVR network; bottom plus tower widths,
            since ESMM has no shared bottom (default [256, 128, 64]).
        aitm_units: Widths of each AITM per-task bottom (default [256, 128]).
        batch_size: Train and predict batch size (default 1024).
        lr: Adam learning rate (default 1e-3).
    """

    embed_dim: int = 16
    bottom_units: list[int] = field(default_factory=lambda: [256, 128])
    expert_units: list[int] = field(default_factory=lambda: [256, 128])
    tower_units: list[int] = field(default_factory=lambda: [64])
    num_experts: int = 8
    ple_specific: int = 2
    ple_shared: int = 1
    ple_levels: int = 1
    esmm_units: list[int] = field(default_factory=lambda: [256, 128, 64])
    aitm_units: list[int] = field(default_factory=lambda: [256, 128])
    batch_size: int = 1024
    lr: float = 1e-3


@dataclass
class Case:
    """A prepared case: how to train it, how to score the test split.

    Args:
        train: Runs ``epochs`` training passes when called with ``epochs``.
        predict: Returns test probabilities, shape ``(N, K)`` in task order.
        model: The peer's model, for the parameter count.
    """

    train: Callable[[int], None]
    predict: Callable[[], np.ndarray]
    model: torch.nn.Module


def read_splits(path: Path) -> dict[str, pd.DataFrame]:
    """Read the benchmark Parquet file and split it by its ``split`` column.

    Args:
        path: Parquet file written by ``benchmarks/make_data.py``.

    Returns:
        Dict from ``train``/``valid``/``test`` to a frame with a fresh index.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"data file {str(path)!r} does not exist; create it with "
            "benchmarks/make_data.py"
        )
    frame = pd.read_parquet(path)
    return {
        name: frame[frame["split"] == name].reset_index(drop=True)
        for name in ("train", "valid", "test")
    }


def vocab_sizes(splits: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Return ``max id + 1`` of each categorical column over all splits."""
    return {
        c: int(max(int(df[c].max()) for df in splits.values())) + 1 for c in CATEGORICAL
    }


# --------------------------------------------------------------------------
# torch-rechub
# --------------------------------------------------------------------------


def _rechub_features(vocab: dict[str, int], sizes: Sizes) -> list[Any]:
    from torch_rechub.basic.features import DenseFeature, SparseFeature

    sparse = [
        SparseFeature(c, vocab[c], embed_dim=sizes.embed_dim) for c in CATEGORICAL
    ]
    return sparse + [DenseFeature(n) for n in NUMERIC]


def _rechub_model(model: str, features: list[Any], sizes: Sizes) -> torch.nn.Module:
    from torch_rechub.models.multi_task import AITM, ESMM, MMOE, PLE, SharedBottom

    towers = [{"dims": sizes.tower_units} for _ in TASKS[model]]
    experts = {"dims": sizes.expert_units}
    binary = ["classification"] * len(TASKS[model])
    if model == "shared_bottom":
        return SharedBottom(features, binary, {"dims": sizes.bottom_units}, towers)
    if model == "mmoe":
        return MMOE(features, binary, sizes.num_experts, experts, towers)
    if model == "ple":
        return PLE(
            features,
            binary,
            sizes.ple_levels,
            sizes.ple_specific,
            sizes.ple_shared,
            experts,
            towers,
        )
    if model == "aitm":
        return AITM(features, 2, {"dims": sizes.aitm_units}, towers)
    # ESMM takes sparse features only, split into a user and an item group.
    sparse = [f for f in features if f.name in CATEGORICAL]
    tower = {"dims": sizes.esmm_units}
    return ESMM(sparse[:10], sparse[10:], cvr_params=tower, ctr_params=tower)


def prepare_rechub(
    splits: dict[str, pd.DataFrame], model: str, sizes: Sizes
) -> tuple[Callable[[], Case], list[str]]:
    """Build torch-rechub inputs and return a factory for the model and trainer.

    Args:
        splits: Frames from :func:`read_splits`.
        model: Model key from ``MODELS``.
        sizes: Shared sizes.

    Returns:
        ``(build, notes)``: ``build()`` creates the model and trainer.
    """
    from torch.utils.data import DataLoader
    from torch_rechub.utils.data import DataGenerator, PredictDataset

    features = _rechub_features(vocab_sizes(splits), sizes)
    # ESMM outputs (pCVR, pCTR, pCTCVR) and is trained on columns 1 and 2.
    if model == "esmm":
        for df in splits.values():
            df["ctcvr"] = df["click"] * df["conversion"]
        labels, used = ["conversion", "click", "ctcvr"], CATEGORICAL
    else:
        labels, used = TASKS[model], CATEGORICAL + NUMERIC

    def x_y(df: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return {c: df[c].values for c in used}, df[labels].values

    x_train, y_train = x_y(splits["train"])
    x_valid, y_valid = x_y(splits["valid"])
    x_test, y_test = x_y(splits["test"])
    train_dl, _, _ = DataGenerator(x_train, y_train).generate_dataloader(
        x_val=x_valid,
        y_val=y_valid,
        x_test=x_test,
        y_test=y_test,
        batch_size=sizes.batch_size,
    )
    predict_dl = DataLoader(
        PredictDataset(x_test), batch_size=sizes.batch_size, shuffle=False
    )

    def build() -> Case:
        return _rechub_case(model, features, sizes, train_dl, predict_dl)

    notes = []
    if model == "esmm":
        notes.append("ESMM accepts sparse features only: n0..n7 are not used")
    return build, notes


def _rechub_case(
    model: str, features: list[Any], sizes: Sizes, train_dl: Any, predict_dl: Any
) -> Case:
    from torch_rechub.trainers import MTLTrainer

    net = _rechub_model(model, features, sizes)
    num_outputs = 3 if model == "esmm" else len(TASKS[model])
    trainer = MTLTrainer(
        net,
        task_types=["classification"] * num_outputs,
        optimizer_fn=torch.optim.Adam,
        optimizer_params={"lr": sizes.lr},
        n_epoch=1,
        device="cpu",
    )

    # train_one_epoch is the loop fit() runs per epoch, without fit's
    # validation pass and checkpoint save.
    def train(epochs: int) -> None:
        for _ in range(epochs):
            trainer.train_one_epoch(train_dl)

    def predict() -> np.ndarray:
        probs = np.asarray(trainer.predict(trainer.model, predict_dl))
        # ESMM columns are (pCVR, pCTR, pCTCVR); keep (click, conversion).
        return probs[:, [1, 2]] if model == "esmm" else probs

    return Case(train=train, predict=predict, model=net)


# --------------------------------------------------------------------------
# DeepCTR-Torch
# --------------------------------------------------------------------------


def _deepctr_model(model: str, columns: list[Any], sizes: Sizes, seed: int) -> Any:
    from deepctr_torch.models.multitask import ESMM, MMOE, PLE, SharedBottom

    tasks = TASKS[model]
    common = {
        "task_types": ["binary"] * len(tasks),
        "task_names": tasks,
        "device": "cpu",
        "seed": seed,
    }
    tower = tuple(sizes.tower_units)
    experts = tuple(sizes.expert_units)
    if model == "shared_bottom":
        return SharedBottom(
            columns,
            bottom_dnn_hidden_units=tuple(sizes.bottom_units),
            tower_dnn_hidden_units=tower,
            **common,
        )
    # Gates are one linear layer plus softmax, as in the papers and torch-rechub.
    if model == "mmoe":
        return MMOE(
            columns,
            num_experts=sizes.num_experts,
            expert_dnn_hidden_units=experts,
            gate_dnn_hidden_units=(),
            tower_dnn_hidden_units=tower,
            **common,
        )
    if model == "ple":
        return PLE(
            columns,
            shared_expert_num=sizes.ple_shared,
            specific_expert_num=sizes.ple_specific,
            num_levels=sizes.ple_levels,
            expert_dnn_hidden_units=experts,
            gate_dnn_hidden_units=(),
            tower_dnn_hidden_units=tower,
            **common,
        )
    if model == "esmm":
        return ESMM(columns, tower_dnn_hidden_units=tuple(sizes.esmm_units), **common)
    raise NotImplementedError(f"deepctr_torch has no model {model!r}")


def prepare_deepctr(
    splits: dict[str, pd.DataFrame], model: str, sizes: Sizes, seed: int
) -> tuple[Callable[[], Case], list[str]]:
    """Build DeepCTR-Torch inputs and return a factory for the compiled model.

    Args:
        splits: Frames from :func:`read_splits`.
        model: Model key from ``MODELS``.
        sizes: Shared sizes.
        seed: Seed passed to the model constructor.

    Returns:
        ``(build, notes)``: ``build()`` creates and compiles the model.
    """
    from deepctr_torch.inputs import DenseFeat, SparseFeat, get_feature_names

    vocab = vocab_sizes(splits)
    columns = [
        SparseFeat(c, vocabulary_size=vocab[c], embedding_dim=sizes.embed_dim)
        for c in CATEGORICAL
    ] + [DenseFeat(n, 1) for n in NUMERIC]
    names = get_feature_names(columns)
    x_train = {n: splits["train"][n].values for n in names}
    x_test = {n: splits["test"][n].values for n in names}
    # ESMM's second task is CTCVR; conversion is already 0 without a click.
    y_train = splits["train"][TASKS[model]].values

    def build() -> Case:
        net = _deepctr_model(model, columns, sizes, seed)
        net.compile(
            torch.optim.Adam(net.parameters(), lr=sizes.lr),
            loss=["binary_crossentropy"] * len(TASKS[model]),
        )

        def train(epochs: int) -> None:
            net.fit(
                x_train,
                y_train,
                batch_size=sizes.batch_size,
                epochs=epochs,
                verbose=0,
                shuffle=True,
            )

        def predict() -> np.ndarray:
            return net.predict(x_test, batch_size=sizes.batch_size)

        return Case(train=train, predict=predict, model=net)

    return build, []


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------


def import_peer(lib: str) -> str:
    """Import the peer library and return its version.

    DeepCTR-Torch starts a background thread at import that asks the package
    index for a newer release; it is waited for here so it does not overlap the
    timed sections.
    """
    if lib == "torch_rechub":
        import torch_rechub

        return str(torch_rechub.__version__)
    import deepctr_torch

    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=30.0)
    return str(deepctr_torch.__version__)


def test_auc(probs: np.ndarray, test: pd.DataFrame, tasks: list[str]) -> dict:
    """Return the test AUC of each task, rounded to 4 decimals."""
    return {
        t: round(float(roc_auc_score(test[t].values, probs[:, k])), 4)
        for k, t in enumerate(tasks)
    }


def run_case(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    """Prepare, train and score one case; return the measurements.

    Args:
        args: Parsed command line.
        sizes: Shared sizes.

    Returns:
        Measurements, ready to write as JSON.
    """
    start = time.perf_counter()
    splits = read_splits(args.data)
    if args.lib == "torch_rechub":
        build, notes = prepare_rechub(splits, args.model, sizes)
    else:
        build, notes = prepare_deepctr(splits, args.model, sizes, args.seed)
    prep_s = time.perf_counter() - start

    torch.manual_seed(args.seed)
    case = build()
    start = time.perf_counter()
    case.train(args.epochs)
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    probs = case.predict()
    predict_s = time.perf_counter() - start

    num_train, num_test = len(splits["train"]), len(splits["test"])
    return {
        "status": "ok",
        "rows": {name: len(df) for name, df in splits.items()},
        "num_params": sum(p.numel() for p in case.model.parameters()),
        "data_prep_s": round(prep_s, 3),
        "train_s": round(train_s, 3),
        "train_rows_per_s": round(args.epochs * num_train / train_s, 1),
        "predict_s": round(predict_s, 3),
        "predict_rows_per_s": round(num_test / predict_s, 1),
        "auc": test_auc(probs, splits["test"], TASKS[args.model]),
        "notes": notes + ([TASK_NOTES[args.model]] if args.model in TASK_NOTES else []),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", choices=LIBS, required=True)
    parser.add_argument("--model", choices=MODELS, required=True)
    parser.add_argument("--data", type=Path, required=True, help="Parquet file")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run one case and write its JSON result."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = Sizes()
    result: dict[str, Any] = {
        "lib": args.lib,
        "model": args.model,
        "lib_version": import_peer(args.lib),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "threads": args.threads,
        "epochs": args.epochs,
        "tasks": TASKS[args.model],
        "sizes": sizes.__dict__,
    }
    if (args.lib, args.model) in UNSUPPORTED:
        result.update(status="unsupported", reason=UNSUPPORTED[args.lib, args.model])
    else:
        result.update(run_case(args, sizes))
    # ru_maxrss is in KiB on Linux.
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak_rss_mib"] = round(peak_kib / 1024, 1)

    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result.get(k) for k in ("lib", "model", "status")}))


if __name__ == "__main__":
    main()
