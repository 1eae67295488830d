"""Scoring of validated request rows with a loaded run."""

from __future__ import annotations

import json
import logging
import platform
from typing import Any

import numpy as np
import pandas as pd
import torch

import mtlrec
from mtlrec.data import EncodedData
from mtlrec.losses import prediction_names
from mtlrec.serving._encoding import RowEncoder
from mtlrec.serving._requests import check_rows, parse_rows
from mtlrec.serving._score import fuse_scores, score_weights
from mtlrec.training import LoadedRun, predict_scores

__all__ = ["Scorer"]

logger = logging.getLogger(__name__)

SCORE = "score"


class Scorer:
    """Turns request bodies into predictions and fused scores for one run.

    Preprocessing is the run's own feature map (through :class:`RowEncoder`,
    which gives the same arrays as ``FeatureMap.transform``) and prediction is
    :func:`~mtlrec.training.predict_scores`, the code behind ``mtlrec
    predict``, so the service returns the same numbers.

    Args:
        run: The loaded run (model in eval mode).

    Raises:
        NotImplementedError: The run has a history feature, which requests
            cannot carry yet.
    """

    def __init__(self, run: LoadedRun) -> None:
        sequence = run.feature_map.sequence
        if sequence is not None:
            raise NotImplementedError(
                f"serving has no way to send the history feature {sequence.name!r} "
                "yet; score this run with mtlrec predict"
            )
        self.run = run
        self.config = run.config.serving
        self.task_names = [t.name for t in run.config.tasks]
        self.prediction_names = prediction_names(run.model.spec)
        self.encoder = RowEncoder(run.feature_map)
        metrics_path = run.path / "metrics.json"
        self.metrics = (
            json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
        )

    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """Parse and check a raw ``POST /predict`` body into feature rows.

        Raises:
            RequestError: The body is malformed or breaks a rule.
        """
        rows = parse_rows(body, self.config.max_batch_rows)
        return check_rows(rows, self.run.feature_map)

    def score_rows(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Predict checked rows; returns every prediction and ``score``.

        Returns:
            ``{prediction name: (B,)}`` as ``mtlrec predict`` gives them, plus
            ``{"score": (B,)}``, the fused ranking score.
        """
        ids, dense = self.encoder.encode(rows)
        encoded = EncodedData(
            torch.from_numpy(ids), torch.from_numpy(dense), domains=self._domains(rows)
        )
        train = self.run.config.train
        scores = predict_scores(
            self.run.model, encoded, train.eval_batch_size, train.eval_precision
        )
        scores[SCORE] = fuse_scores(scores, self.config.score, self.task_names)
        return scores

    def _domains(self, rows: list[dict[str, Any]]) -> torch.Tensor | None:
        """``(B,)`` domain indices of checked rows; None without a domain column."""
        column = self.run.feature_map.domain_column
        if column is None:
            return None
        frame = pd.DataFrame({column: [row[column] for row in rows]})
        domains = self.run.feature_map.transform_domains(frame, "the request")
        assert domains is not None  # the run has a domain column
        return torch.from_numpy(domains)

    def response(self, scores: dict[str, np.ndarray]) -> dict[str, Any]:
        """The JSON body for scores from :meth:`score_rows`.

        Returns:
            ``{"predictions": {name: [B floats]}, "score": [B floats]}``.
        """
        return {
            "predictions": {
                name: scores[name].astype(float).tolist()
                for name in self.prediction_names
            },
            "score": scores[SCORE].astype(float).tolist(),
        }

    def score_body(self, body: bytes) -> dict[str, Any]:
        """Parse, check and score a raw body in one call; returns the JSON body.

        Raises:
            RequestError: The body is malformed or breaks a rule.
        """
        return self.response(self.score_rows(self.parse(body)))

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
