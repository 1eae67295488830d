"""Training loop, evaluation, checkpoints and run directories."""

from mtlrec.training._allocator import tune_allocator
from mtlrec.training._checkpoint import load_weights, save_weights
from mtlrec.training._diagnostics import gate_report, gate_usage, unused_experts
from mtlrec.training._evaluate import (
    ENTIRE_SUFFIX,
    Evaluator,
    objective_value,
    predict_scores,
)
from mtlrec.training._run import (
    LoadedRun,
    RunExistsError,
    build_model,
    encode,
    evaluate_run,
    load_run,
    model_spec,
    predict_frame,
    train_run,
)
from mtlrec.training._sparse_adam import RowwiseAdam
from mtlrec.training._tensorboard import TensorBoardLogger, record_scalars
from mtlrec.training._trainer import FitResult, Trainer, build_optimizer

__all__ = [
    "ENTIRE_SUFFIX",
    "Evaluator",
    "FitResult",
    "LoadedRun",
    "RowwiseAdam",
    "RunExistsError",
    "TensorBoardLogger",
    "Trainer",
    "build_model",
    "build_optimizer",
    "encode",
    "evaluate_run",
    "gate_report",
    "gate_usage",
    "load_run",
    "load_weights",
    "model_spec",
    "objective_value",
    "predict_frame",
    "predict_scores",
    "record_scalars",
    "save_weights",
    "train_run",
    "tune_allocator",
    "unused_experts",
]
