"""Evaluation metrics computed over whole splits."""

from mtlrec.metrics._metrics import auc, gauc, logloss, mae, mse, rmse

__all__ = ["auc", "gauc", "logloss", "mae", "mse", "rmse"]
