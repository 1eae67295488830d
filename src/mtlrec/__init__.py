"""mtlrec: multi-task recommendation models on PyTorch.

The Python API mirrors the command line::

    import mtlrec
    config = mtlrec.load_config("configs/census_income/mmoe.yaml")
    run_dir = mtlrec.train(config, data_dir="data", out="runs/mmoe")
    print(mtlrec.evaluate(run_dir, split="test"))
    scores = mtlrec.predict(run_dir, frame)
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path

import pandas as pd

from mtlrec.config import ConfigError, RunConfig, load_config, parse_config
from mtlrec.models import list_models
from mtlrec.training import LoadedRun, evaluate_run, load_run, predict_frame, train_run

__all__ = [
    "ConfigError",
    "LoadedRun",
    "RunConfig",
    "__version__",
    "evaluate",
    "list_models",
    "load_config",
    "load_run",
    "parse_config",
    "predict",
    "train",
]

train = train_run
evaluate = evaluate_run


def predict(
    run: str | Path | LoadedRun, data: pd.DataFrame, precision: str | None = None
) -> pd.DataFrame:
    """Score raw rows with a trained run.

    Args:
        run: A run directory or a run loaded with :func:`load_run`.
        data: Rows holding the run's feature columns.
        precision: ``float32`` or ``bfloat16`` (default: the run's
            ``train.eval_precision``).

    Returns:
        One column per task: a probability for binary tasks (conditional on the
        parent for child tasks, plus ``{task}@entire`` for the joint one) and
        the value for regression tasks.
    """
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    return predict_frame(loaded, data, precision=precision)
