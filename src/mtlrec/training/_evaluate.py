"""Whole-split prediction and per-task metrics."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from mtlrec.config import ObjectiveTerm
from mtlrec.data import EncodedData, iterate_batches
from mtlrec.layers import reuse_casts
from mtlrec.losses import ENTIRE_SUFFIX, ancestors, task_predictions
from mtlrec.metrics import auc, calibration, gauc, logloss, mae, mse, rmse, xauc
from mtlrec.models import MultiTaskModel

__all__ = [
    "DOMAIN_SEPARATOR",
    "EVAL_BATCH_SIZE",
    "ENTIRE_SUFFIX",
    "Evaluator",
    "objective_value",
    "predict_scores",
]

logger = logging.getLogger(__name__)

DOMAIN_SEPARATOR = "/"


Metrics = dict[str, dict[str, float | None]]

# Rows per prediction batch when none is configured, by precision. Measured on
# the benchmark models (BENCHMARKS.md): in float32 larger batches gained
# nothing (MMoE lost 4-6 % at 4,096-8,192 rows), while the fused bfloat16
# path spends a fixed time per operator call, which 8,192-row batches spread
# over four times the rows (MMoE 464,000 -> 619,000 rows/s).
EVAL_BATCH_SIZE = {"float32": 2048, "bfloat16": 8192}


@torch.inference_mode()
def predict_scores(
    model: MultiTaskModel,
    data: EncodedData,
    batch_size: int | None,
    precision: str = "float32",
) -> dict[str, np.ndarray]:
    """Predict every row of ``data`` in eval mode.

    ``precision="bfloat16"`` runs the model under bfloat16 autocast; the
    returned scores are float32 either way. ``batch_size=None`` takes the
    precision's default, :data:`EVAL_BATCH_SIZE`.

    Returns:
        ``{task: (N,)}``: the probability for a binary task (conditional on its
        parent for a child task), the value for a regression task (see
        :func:`~mtlrec.losses.regression_value`), and for each child task also
        ``{task}@entire``: its joint probability, or for a regression child the
        expected value over all rows (parent's joint probability times value).
    """
    if precision not in EVAL_BATCH_SIZE:
        raise ValueError(f"precision must be float32 or bfloat16, got {precision!r}")
    batch_size = batch_size or EVAL_BATCH_SIZE[precision]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device.type
    autocast = torch.autocast(
        device, dtype=torch.bfloat16, enabled=precision == "bfloat16"
    )
    chunks: dict[str, list[torch.Tensor]] = {}
    with reuse_casts():  # the parameters are cast to bfloat16 once, not per batch
        for batch in iterate_batches(data, batch_size):
            with autocast:
                outputs = model(batch)
            outputs = {name: value.float() for name, value in outputs.items()}
            predictions = task_predictions(model.spec, outputs, model.output_space)
            for name, values in predictions.items():
                chunks.setdefault(name, []).append(values)
    model.train(was_training)
    return {name: torch.cat(parts).float().numpy() for name, parts in chunks.items()}


class Evaluator:
    """Computes per-task metrics over whole splits.

    A binary task gets AUC, logloss and calibration (mean prediction over
    mean label; and gAUC when groups are given) on the rows of its sample
    space; a child task also gets them in the entire space under
    ``{task}@entire``. A regression task gets MSE, MAE, RMSE, XAUC (pairwise
    ordering) and calibration, and a regression child also in the entire
    space (label 0 outside the parent's space). An AUC over one class only
    is None, with one warning per task and split. Metrics are unweighted.

    With domains (``model.spec.domains`` and a ``domains`` array), every
    entry is repeated per domain under ``{entry}/{domain}``; a domain with
    no rows in the split gets null metrics and one warning.

    Args:
        model: The model (for its task tree).
    """

    def __init__(self, model: MultiTaskModel) -> None:
        self.spec = model.spec
        self._warned: set[tuple[str, str]] = set()
        self._warned_domains: set[tuple[str, str]] = set()

    def metrics(
        self,
        scores: dict[str, np.ndarray],
        labels: np.ndarray,
        groups: np.ndarray | None = None,
        split: str = "valid",
        domains: np.ndarray | torch.Tensor | None = None,
    ) -> Metrics:
        """Return ``{task: {metric: value}}`` for one split.

        Args:
            scores: ``{task: (N,)}`` from :func:`predict_scores`.
            labels: ``(N, K)`` labels.
            groups: Optional ``(N,)`` group keys (gAUC).
            split: Split name for warnings.
            domains: Optional ``(N,)`` domain indices; adds per-domain entries.
        """
        result = self._metrics(scores, labels, groups, split)
        if domains is None or not self.spec.domains:
            return result
        index = np.asarray(domains)
        for d, name in enumerate(self.spec.domains):
            rows = index == d
            if not rows.any() and (name, split) not in self._warned_domains:
                self._warned_domains.add((name, split))
                logger.warning(
                    "Domain has no rows on this split; its metrics are null. "
                    "domain=%s split=%s",
                    name,
                    split,
                )
            part = self._metrics(
                {k: v[rows] for k, v in scores.items()},
                labels[rows],
                groups[rows] if groups is not None else None,
                split,
                quiet=True,
            )
            for entry, values in part.items():
                result[f"{entry}{DOMAIN_SEPARATOR}{name}"] = values
        return result

    def _metrics(
        self,
        scores: dict[str, np.ndarray],
        labels: np.ndarray,
        groups: np.ndarray | None,
        split: str,
        quiet: bool = False,
    ) -> Metrics:
        result: Metrics = {}
        for k, task in enumerate(self.spec.tasks):
            chain = ancestors(self.spec, k)
            mask = (
                np.all(labels[:, chain] == 1, axis=1)
                if chain
                else np.ones(len(labels), bool)
            )
            y, s = labels[mask, k], scores[task.name][mask]
            g = groups[mask] if groups is not None else None
            if task.type == "regression":
                result[task.name] = _regression(y, s)
                if chain:
                    joint_y = labels[:, k] * mask
                    name = task.name + ENTIRE_SUFFIX
                    result[name] = _regression(joint_y, scores[name])
                continue
            result[task.name] = self._binary(task.name, y, s, g, split, quiet)
            if chain:
                joint_y = labels[:, k] * np.all(labels[:, chain] == 1, axis=1)
                name = task.name + ENTIRE_SUFFIX
                result[name] = self._binary(
                    name, joint_y, scores[name], groups, split, quiet
                )
        return result

    def _binary(
        self,
        name: str,
        y: np.ndarray,
        s: np.ndarray,
        g: np.ndarray | None,
        split: str,
        quiet: bool = False,
    ) -> dict[str, float | None]:
        if not y.size:
            if not quiet:
                self._warn_once(name, split, "has no rows in its sample space")
            return _nulls("auc", "logloss")
        values: dict[str, float | None] = {
            "auc": auc(y, s),
            "logloss": logloss(y, s),
            "calibration": calibration(y, s),
        }
        if values["auc"] is None and not quiet:
            selection = (
                ", and model selection leaves it out of the objective"
                if split == "valid"
                else ""
            )
            self._warn_once(
                name,
                split,
                f"has one label class only; its AUC is null{selection} (if "
                "unexpected, check the label values against the task's "
                "positive_values)",
            )
        if g is not None:
            values["gauc"] = gauc(y, s, g)
        values["positives"] = float(y.sum())
        values["rows"] = float(y.size)
        return values

    def _warn_once(self, name: str, split: str, what: str) -> None:
        if (name, split) not in self._warned:
            self._warned.add((name, split))
            logger.warning("Task %s %s. split=%s", name, what, split)


def _regression(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    if not y.size:
        return _nulls("mse", "mae", "rmse", "xauc", "calibration")
    return {
        "mse": mse(y, s),
        "mae": mae(y, s),
        "rmse": rmse(y, s),
        "xauc": xauc(y, s),
        "calibration": calibration(y, s),
        "rows": float(y.size),
    }


def _nulls(*names: str) -> dict[str, float | None]:
    return dict.fromkeys(names)


def objective_value(metrics: Metrics, terms: list[ObjectiveTerm]) -> float | None:
    """Weighted selection objective, larger is better; None if no term is known.

    Each term adds ``weight * value`` for metrics to maximise and
    ``-weight * value`` for metrics to minimise; terms whose value is null
    (e.g. AUC over one class) are left out.
    """
    total, known = 0.0, 0
    for term in terms:
        value = metrics.get(term.task, {}).get(term.metric)
        if value is None or math.isnan(value):
            continue
        sign = 1.0 if term.direction == "max" else -1.0
        total += sign * term.weight * value
        known += 1
    return total if known else None
