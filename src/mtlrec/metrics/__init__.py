"""Evaluation metrics computed over whole splits."""

from mtlrec.metrics._metrics import (
    auc,
    calibration,
    gauc,
    logloss,
    mae,
    mse,
    rmse,
    xauc,
)

__all__ = ["auc", "calibration", "gauc", "logloss", "mae", "mse", "rmse", "xauc"]
