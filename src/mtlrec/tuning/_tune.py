"""Hyper-parameter search over the ranges a config's ``tune`` section declares.

Each trial applies its sampled values as dotted overrides (the same
mechanism as ``mtlrec train CONFIG key=value``), trains a run, and scores it
by the run's best **validation** objective; test metrics never take part.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mtlrec.config import ConfigError, RunConfig, TuneRange, parse_config
from mtlrec.training import train_run
from mtlrec.training._checkpoint import write_json_atomic, write_text_atomic

__all__ = ["TuneResult", "suggest_overrides", "tune"]

logger = logging.getLogger(__name__)


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        best_params: ``{dotted key: value}`` of the best trial.
        best_objective: Its validation objective (larger is better).
        best_config: The config with the best values applied.
        best_config_path: Where that config was written as YAML.
        trials: One ``{"number", "params", "valid_objective", "run_dir"}`` per
            trial.
    """

    best_params: dict[str, Any]
    best_objective: float
    best_config: RunConfig
    best_config_path: Path
    trials: list[dict[str, Any]]


def suggest_overrides(trial: Any, ranges: Mapping[str, TuneRange]) -> list[str]:
    """Sample one value per range from an optuna trial as ``key=value`` strings."""
    overrides = []
    for key, spec in ranges.items():
        if spec.type == "categorical":
            assert spec.choices is not None  # checked by TuneRange
            labels = [json.dumps(c) for c in spec.choices]
            value: Any = json.loads(trial.suggest_categorical(key, labels))
        elif spec.type == "int":
            assert spec.low is not None and spec.high is not None  # checked
            value = trial.suggest_int(key, int(spec.low), int(spec.high), log=spec.log)
        else:
            assert spec.low is not None and spec.high is not None  # checked
            value = trial.suggest_float(key, spec.low, spec.high, log=spec.log)
        overrides.append(f"{key}={json.dumps(value)}")
    return overrides


def _check_ranges(document: Mapping[str, Any], overrides: list[str]) -> RunConfig:
    config = parse_config(document, overrides)
    if not config.tune:
        raise ConfigError(
            "the config has no tune section; add e.g. tune: {model.num_experts: "
            "{type: int, low: 2, high: 8}}"
        )
    # Every key must be a real setting: validate each range at its low end.
    for key, spec in config.tune.items():
        sample = spec.choices[0] if spec.choices else spec.low
        if spec.type == "int" and sample is not None:
            sample = int(sample)
        parse_config(document, [*overrides, f"{key}={json.dumps(sample)}"])
    return config


def tune(
    document: Mapping[str, Any],
    trials: int,
    out: str | Path,
    data_dir: str | Path | None = None,
    overrides: Iterable[str] = (),
    seed: int = 0,
) -> TuneResult:
    """Search the config's ``tune`` ranges with optuna (TPE) and keep the best.

    Args:
        document: The raw run config (as read from YAML).
        trials: Number of trials (> 0).
        out: Folder for one run per trial (``trial_000``...), ``trials.json``
            and ``best_config.yaml``.
        data_dir: Base folder of the config's data.
        overrides: Dotted overrides applied before every trial's values.
        seed: Seed of the sampler.

    Returns:
        The best trial's values, validation objective and config.

    Raises:
        ConfigError: No ``tune`` section, or a range names an unknown key.
        ValueError: ``trials`` is not positive, or no trial gave an objective.
        ImportError: optuna is not installed.
    """
    if trials <= 0:
        raise ValueError(f"trials must be > 0, got {trials!r}")
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(
            "mtlrec tune needs optuna; install it with `pip install 'mtlrec[toolkit]'`"
        ) from exc
    fixed = list(overrides)
    ranges = _check_ranges(document, fixed).tune
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        sampled = suggest_overrides(trial, ranges)
        config = parse_config(document, [*fixed, *sampled])
        run_dir = folder / f"trial_{trial.number:03d}"
        train_run(config, data_dir=data_dir, out=run_dir, overwrite=True)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        value = metrics.get("valid_objective")
        records.append(
            {
                "number": trial.number,
                "params": dict(trial.params),
                "overrides": sampled,
                "valid_objective": value,
                "run_dir": str(run_dir),
            }
        )
        write_json_atomic(folder / "trials.json", records)
        logger.info("Trial done. number=%d valid_objective=%s", trial.number, value)
        return float("-inf") if value is None else float(value)

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
    )
    study.optimize(objective, n_trials=trials)
    return _finish(document, fixed, folder, study.best_trial.number, records)


def _finish(
    document: Mapping[str, Any],
    fixed: list[str],
    folder: Path,
    best_number: int,
    records: list[dict[str, Any]],
) -> TuneResult:
    best = next(r for r in records if r["number"] == best_number)
    if best["valid_objective"] is None:
        raise ValueError(
            "no trial produced a validation objective; check train.objective"
        )
    config = parse_config(document, [*fixed, *best["overrides"]])
    path = folder / "best_config.yaml"
    dumped = config.model_dump(mode="json")
    dumped.pop("tune", None)
    write_text_atomic(path, yaml.safe_dump(dumped, sort_keys=False))
    logger.info(
        "Tuning done. best_trial=%d valid_objective=%s config=%s",
        best_number,
        best["valid_objective"],
        path,
    )
    return TuneResult(
        {k: json.loads(v.partition("=")[2]) for k, v in _pairs(best["overrides"])},
        float(best["valid_objective"]),
        config,
        path,
        records,
    )


def _pairs(overrides: list[str]) -> list[tuple[str, str]]:
    return [(item.partition("=")[0], item) for item in overrides]
