"""Scoring of validated request rows with a loaded run."""

from __future__ import annotations

import json
import logging
import platform
from typing import Any

import torch

import mtlrec
from mtlrec.losses import prediction_names
from mtlrec.serving._requests import parse_rows, rows_to_frame
from mtlrec.serving._score import fuse_scores, score_weights
from mtlrec.training import LoadedRun, encode, predict_scores

__all__ = ["Scorer"]

logger = logging.getLogger(__name__)


class Scorer:
    """Turns request bodies into predictions and fused scores for one run.

    Preprocessing is the run's own feature map and prediction is
    :func:`~mtlrec.training.predict_scores`, the code behind ``mtlrec
    predict``, so the service returns the same numbers.

    Args:
        run: The loaded run (model in eval mode).
    """

    def __init__(self, run: LoadedRun) -> None:
        self.run = run
        self.config = run.config.serving
        self.task_names = [t.name for t in run.config.tasks]
        self.prediction_names = prediction_names(run.model.spec)
        metrics_path = run.path / "metrics.json"
        self.metrics = (
            json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
        )

    def score_body(self, body: bytes) -> dict[str, Any]:
        """Score a raw ``POST /predict`` body.

        Returns:
            ``{"predictions": {name: [B floats]}, "score": [B floats]}``.

        Raises:
            RequestError: The body is malformed or breaks a rule.
        """
        rows = parse_rows(body, self.config.max_batch_rows)
        frame = rows_to_frame(rows, self.run.feature_map)
        encoded = encode(
            frame, self.run.feature_map, self.run.config, "the request", False
        )
        predictions = predict_scores(
            self.run.model, encoded, self.run.config.train.eval_batch_size
        )
        fused = fuse_scores(predictions, self.config.score, self.task_names)
        logger.debug("Scored a request. rows=%d", len(rows))
        return {
            "predictions": {
                name: predictions[name].astype(float).tolist()
                for name in self.prediction_names
            },
            "score": fused.tolist(),
        }

    def metadata(self) -> dict[str, Any]:
        """Describe the served model for ``GET /metadata``."""
        run, model = self.run, self.run.model
        score = self.config.score
        return {
            "model": {
                "name": run.config.model.name,
                "paper": model.paper,
                "summary": model.summary,
                "parameters": sum(p.numel() for p in model.parameters()),
            },
            "tasks": [t.model_dump(mode="json") for t in run.config.tasks],
            "predictions": self.prediction_names,
            "features": {
                "categorical": [
                    {"name": e.name, "vocabulary_size": len(e.vocabulary)}
                    for e in run.feature_map.categorical
                ],
                "numeric": [
                    {"name": e.name, "fill": e.fill} for e in run.feature_map.numeric
                ],
            },
            "score": {
                "type": score.type,
                "weights": score_weights(score, self.task_names),
            },
            "limits": {
                "max_batch_rows": self.config.max_batch_rows,
                "max_body_bytes": self.config.max_body_bytes,
            },
            "metrics": self.metrics,
            "version": {
                "mtlrec": mtlrec.__version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "trained_with": {
                    k: run.info[k]
                    for k in ("mtlrec_version", "torch_version", "python")
                    if k in run.info
                },
            },
        }
