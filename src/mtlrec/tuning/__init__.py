"""Hyper-parameter search with optuna over a config's declared ranges."""

from mtlrec.tuning._tune import TuneResult, suggest_overrides, tune

__all__ = ["TuneResult", "suggest_overrides", "tune"]
