"""A run directory: train one, load it back, evaluate and predict with it.

Layout of ``RUN_DIR``::

    config.yaml         the validated config (with every default filled in)
    run.json            data directory, model name, parameter count, versions
    feature_map.json    fitted encoders, reused by evaluate/predict/serve
    model.safetensors   best weights (written atomically)
    history.json        one record per epoch
    metrics.json        final valid and test metrics (marks a finished run)
    predictions_test.parquet   test-split scores of the kept model
    labels_test.parquet        test-split labels, one column per task
    gates_test.json     mean gate weight per task and expert, unused experts
                        (models with gates only)
    tensorboard/        TensorBoard event files (with train.tensorboard)
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

import mtlrec
from mtlrec.config import RunConfig, TaskConfig, parse_config
from mtlrec.data import (
    EncodedData,
    build_labels,
    build_weights,
    check_both_classes,
    columns_hint,
    load_splits,
    read_rows_file,
    resolve_data_dir,
)
from mtlrec.features import FeatureMap
from mtlrec.layers import InputSpec
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import ModelSpec, MultiTaskModel, TaskSpec, get_model_class
from mtlrec.training._allocator import tune_allocator
from mtlrec.training._checkpoint import (
    load_weights,
    write_json_atomic,
    write_text_atomic,
)
from mtlrec.training._diagnostics import gate_report
from mtlrec.training._evaluate import EVAL_BATCH_SIZE, Evaluator, predict_scores
from mtlrec.training._tensorboard import TensorBoardLogger
from mtlrec.training._trainer import Trainer

__all__ = [
    "LoadedRun",
    "RunExistsError",
    "build_model",
    "encode",
    "evaluate_run",
    "load_run",
    "model_spec",
    "predict_frame",
    "train_run",
]

logger = logging.getLogger(__name__)

WEIGHTS, METRICS, CONFIG, FEATURES = (
    "model.safetensors",
    "metrics.json",
    "config.yaml",
    "feature_map.json",
)


class RunExistsError(FileExistsError):
    """The output directory already holds a run."""


@dataclass
class LoadedRun:
    """A trained run loaded from disk.

    Attributes:
        path: The run directory.
        config: Its config.
        feature_map: Its fitted feature map.
        model: The model with the best weights, in eval mode.
        info: The contents of ``run.json``.
    """

    path: Path
    config: RunConfig
    feature_map: FeatureMap
    model: MultiTaskModel
    info: dict[str, Any]


def model_spec(
    feature_map: FeatureMap, tasks: list[TaskConfig], sparse_gradients: bool = False
) -> ModelSpec:
    """Build a model's static description from the feature map and tasks."""
    sequence = feature_map.sequence
    inputs = InputSpec(
        feature_map.vocab_sizes,
        feature_map.embedding_dim,
        feature_map.num_dense,
        sparse_gradients=sparse_gradients,
        context_vocab_sizes=tuple(e.size for e in feature_map.context),
        sequence_vocab_sizes=sequence.vocab_sizes if sequence else (),
        sequence_length=sequence.max_length if sequence else 0,
        sequence_pooling=sequence.pooling if sequence else "mean",
    )
    return ModelSpec(
        inputs,
        tuple(
            TaskSpec(t.name, t.type, t.parent, t.loss, t.lognormal_sigma) for t in tasks
        ),
        tuple(feature_map.domains),
    )


def build_model(config: RunConfig, feature_map: FeatureMap) -> MultiTaskModel:
    """Instantiate the configured model for the fitted inputs."""
    return get_model_class(config.model.name)(
        model_spec(feature_map, config.tasks, config.train.sparse_embeddings),
        config.model,
    )


def encode(
    frame: pd.DataFrame,
    feature_map: FeatureMap,
    config: RunConfig,
    where: str,
    with_labels: bool = True,
) -> EncodedData:
    """Encode a frame once into contiguous tensors (labels checked if wanted)."""
    ids, dense = feature_map.transform(frame, where)
    labels = (
        torch.from_numpy(build_labels(frame, config.tasks, where))
        if with_labels
        else None
    )
    group = config.data.group_column
    groups = None
    if group is not None and with_labels:
        if group not in frame.columns:
            raise ValueError(
                f"data.group_column {group!r} is not a column of {where}"
                f"{columns_hint(group, frame.columns)}"
            )
        groups = frame[group].to_numpy()
    extras: dict[str, torch.Tensor] = {}
    if with_labels:
        found = build_weights(frame, config.data.weight_column, config.tasks, where)
        if found is not None:
            extras["weights"] = torch.from_numpy(found)
    domains = _domains_if_present(frame, feature_map, where, with_labels)
    if domains is not None:
        extras["domains"] = torch.from_numpy(domains)
    context = feature_map.transform_context(frame)
    if context is not None:
        extras["context"] = torch.from_numpy(context)
    if feature_map.sequence is not None:
        history, lengths = feature_map.sequence.transform(frame, where)
        extras["history"] = torch.from_numpy(history)
        extras["history_lengths"] = torch.from_numpy(lengths)
    return EncodedData(
        torch.from_numpy(ids), torch.from_numpy(dense), labels, groups, **extras
    )


def _domains_if_present(
    frame: pd.DataFrame, feature_map: FeatureMap, where: str, required: bool
) -> np.ndarray | None:
    # At prediction a frame without the domain column is scored without
    # domains (models that need them say so); with labels it is an error.
    column = feature_map.domain_column
    if column is None or (not required and column not in frame.columns):
        return None
    return feature_map.transform_domains(frame, where)


def train_run(
    config: RunConfig,
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Train the configured model and write a run directory.

    Every input is read and checked before the directory is touched, so bad
    data never leaves a half-written run.

    Args:
        config: The run config.
        data_dir: Base folder of relative data paths.
        out: Run directory (default ``config.output_dir``).
        overwrite: Replace a directory that already holds a run.

    Returns:
        The run directory.

    Raises:
        RunExistsError: ``out`` holds a run and ``overwrite`` is False.
        FileNotFoundError, ValueError: Bad data or config.
    """
    run_dir = Path(out if out is not None else config.output_dir)
    _check_output(run_dir, overwrite)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    tune_allocator()
    torch.manual_seed(config.train.seed)
    np.random.seed(config.train.seed)

    prepared = time.perf_counter()
    frames = load_splits(config.data, data_dir)
    reserved = {t.label for t in config.tasks} | _reserved_columns(config)
    feature_map = FeatureMap.fit(
        frames["train"], config.features, reserved, config.data.domain_column
    )
    data = {
        name: encode(f, feature_map, config, f"split {name!r}")
        for name, f in frames.items()
    }
    del frames  # the encoded tensors are a copy: the raw frames are not kept
    assert data["train"].labels is not None  # encoded with labels
    check_both_classes(data["train"].labels.numpy(), config.tasks, "split 'train'")
    prepare_seconds = time.perf_counter() - prepared

    model = build_model(config, feature_map)
    num_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "Run start. model=%s params=%d rows=%s",
        config.model.name,
        num_params,
        {k: len(v) for k, v in data.items()},
    )
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        run_dir / CONFIG,
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False),
    )
    feature_map.save(run_dir / FEATURES)
    info = {
        "mtlrec_version": mtlrec.__version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "model": config.model.name,
        "parameters": num_params,
        "data_dir": str(resolve_data_dir(data_dir).resolve()),
        "rows": {k: len(v) for k, v in data.items()},
        "prepare_seconds": prepare_seconds,
    }
    write_json_atomic(run_dir / "run.json", info)

    loss = MultiTaskLoss(
        model.spec, config.tasks, model.output_space, model.child_loss_space
    )
    history: list[dict[str, Any]] = []
    board = (
        TensorBoardLogger(run_dir / "tensorboard") if config.train.tensorboard else None
    )

    def record(epoch: dict[str, Any]) -> None:
        history.append(epoch)
        write_json_atomic(run_dir / "history.json", history)
        if board is not None:
            board(epoch)

    trainer = Trainer(model, loss, config.train, run_dir / WEIGHTS, on_epoch=record)
    try:
        fit = trainer.fit(data["train"], data["valid"])
    finally:
        if board is not None:
            board.close()
    # Reuse the trainer's evaluator: a warning already given for a split is
    # not repeated for the final metrics.
    _finish(
        run_dir,
        model,
        config,
        data,
        fit.best_epoch,
        fit.best_objective,
        fit.seconds,
        trainer.evaluator,
    )
    return run_dir


def _finish(
    run_dir: Path,
    model: MultiTaskModel,
    config: RunConfig,
    data: dict[str, EncodedData],
    best_epoch: int,
    best_objective: float | None,
    seconds: float,
    evaluator: Evaluator,
) -> None:
    metrics: dict[str, Any] = {
        "best_epoch": best_epoch,
        "valid_objective": best_objective,
        "train_seconds": seconds,
    }
    for split in ("valid", "test"):
        scores = predict_scores(
            model,
            data[split],
            config.train.eval_batch_size,
            config.train.eval_precision,
        )
        labels = data[split].labels
        assert labels is not None  # encoded with labels
        metrics[split] = evaluator.metrics(
            scores, labels.numpy(), data[split].groups, split, data[split].domains
        )
        if split == "test":
            pd.DataFrame(scores).to_parquet(
                run_dir / "predictions_test.parquet", index=False
            )
            names = [t.name for t in config.tasks]
            pd.DataFrame(labels.numpy(), columns=names).to_parquet(
                run_dir / "labels_test.parquet", index=False
            )
    rows = config.train.eval_batch_size or EVAL_BATCH_SIZE["float32"]  # float32
    gates = gate_report(model, data["test"], rows, "test")
    if gates is not None:
        write_json_atomic(run_dir / "gates_test.json", gates)
    write_json_atomic(run_dir / METRICS, metrics)
    logger.info("Run finished. dir=%s test=%s", run_dir, _brief(metrics["test"]))


def _brief(metrics: dict[str, dict[str, float | None]]) -> str:
    return " ".join(
        f"{task}.{name}={value:.4f}"
        for task, values in metrics.items()
        for name, value in values.items()
        if value is not None and name in ("auc", "mse", "gauc") and "/" not in task
    )


def _reserved_columns(config: RunConfig) -> set[str]:
    reserved = set()
    if config.data.split.method == "column" and config.data.split.column:
        reserved.add(config.data.split.column)
    group, features = config.data.group_column, config.features
    named = {f.name for f in features.categorical} | {f.name for f in features.numeric}
    if group and group not in named:  # a group column named as a feature is one
        reserved.add(group)
    weights = [config.data.weight_column] + [t.weight_column for t in config.tasks]
    reserved.update(w for w in weights if w)
    return reserved


def _check_output(run_dir: Path, overwrite: bool) -> None:
    """Refuse an output that is a file, a folder of other files, or (without
    ``overwrite``) an earlier run.

    A folder counts as a run when it holds the config and feature map that
    :func:`train_run` writes before anything else; ``overwrite`` replaces
    only such a folder, so it never deletes files mtlrec did not write.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise RunExistsError(f"output {str(run_dir)!r} is a file; choose a directory")
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if not entries:
        return
    if not ((run_dir / CONFIG).is_file() and (run_dir / FEATURES).is_file()):
        shown = ", ".join(repr(name) for name in entries[:5])
        more = f" and {len(entries) - 5} more" if len(entries) > 5 else ""
        raise RunExistsError(
            f"output directory {str(run_dir)!r} holds files that are not an mtlrec "
            f"run ({shown}{more}); choose a new or empty one (--out, or out= in "
            "Python): --overwrite replaces only an earlier run"
        )
    if not overwrite:
        finished = (run_dir / METRICS).exists()
        what = "a finished run" if finished else "an interrupted run"
        raise RunExistsError(
            f"output directory {str(run_dir)!r} already holds {what}; choose another "
            "(--out, or out= in Python) or pass --overwrite (overwrite=True) to "
            "replace it"
        )


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load a run's config, feature map and best weights.

    Tunes the process's allocator for scoring (:func:`tune_allocator`).

    Raises:
        FileNotFoundError: ``run_dir`` is not a finished run.
        ValueError: The weights do not fit the model the config builds.
    """
    path = Path(run_dir)
    for name in (CONFIG, FEATURES, WEIGHTS):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a trained run: {name} is missing; pass the "
                "directory written by `mtlrec train`"
            )
    tune_allocator()
    config = parse_config(yaml.safe_load((path / CONFIG).read_text()))
    feature_map = FeatureMap.load(path / FEATURES)
    model = build_model(config, feature_map)
    try:
        model.load_state_dict(load_weights(path / WEIGHTS))
    except RuntimeError as exc:  # missing, extra or reshaped tensors
        problems = " ".join(line.strip() for line in str(exc).splitlines()[1:])
        raise ValueError(
            f"the weights in {str(path / WEIGHTS)!r} do not fit the model its "
            f"config builds ({problems}); was the run written by another mtlrec "
            "version? Retrain it"
        ) from None
    model.eval()
    info_path = path / "run.json"
    info = yaml.safe_load(info_path.read_text()) if info_path.is_file() else {}
    return LoadedRun(path, config, feature_map, model, info)


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    data: str | Path | None = None,
    data_dir: str | Path | None = None,
    precision: str | None = None,
) -> dict[str, dict[str, float | None]]:
    """Metrics of a trained run on one of its splits or on a labelled file.

    Args:
        run_dir: The run directory.
        split: ``train``, ``valid`` or ``test`` of the run's own data.
        data: A labelled file in the run's data format; overrides ``split``.
        data_dir: Base folder of the run's data (default: the one it was
            trained with).
        precision: ``float32`` or ``bfloat16`` (default: the run's
            ``train.eval_precision``).
    """
    run = load_run(run_dir)
    if data is not None:
        frame = read_rows_file(run.config.data, data)
        where = f"file {str(data)!r}"
    else:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        base = data_dir if data_dir is not None else run.info.get("data_dir")
        frame = load_splits(run.config.data, base)[split]
        where = f"split {split!r}"
    encoded = encode(frame, run.feature_map, run.config, where)
    assert encoded.labels is not None  # encoded with labels
    scores = predict_scores(
        run.model,
        encoded,
        run.config.train.eval_batch_size,
        precision or run.config.train.eval_precision,
    )
    # Warnings name what was evaluated: the split, or the file.
    label = split if data is None else where
    return Evaluator(run.model).metrics(
        scores, encoded.labels.numpy(), encoded.groups, label, encoded.domains
    )


def predict_frame(
    run: LoadedRun,
    frame: pd.DataFrame,
    where: str = "the data",
    precision: str | None = None,
) -> pd.DataFrame:
    """Score raw rows with a loaded run; one column per task (and ``@entire``).

    ``precision`` is ``float32`` or ``bfloat16`` (default: the run's
    ``train.eval_precision``).
    """
    encoded = encode(frame, run.feature_map, run.config, where, with_labels=False)
    scores = predict_scores(
        run.model,
        encoded,
        run.config.train.eval_batch_size,
        precision or run.config.train.eval_precision,
    )
    return pd.DataFrame(scores)
