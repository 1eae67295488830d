"""Serve a trained run over HTTP with the run's own preprocessing."""

from mtlrec.serving._app import create_app, serve
from mtlrec.serving._requests import RequestError, parse_rows, rows_to_frame
from mtlrec.serving._score import fuse_scores, score_weights
from mtlrec.serving._scorer import Scorer

__all__ = [
    "RequestError",
    "Scorer",
    "create_app",
    "fuse_scores",
    "parse_rows",
    "rows_to_frame",
    "score_weights",
    "serve",
]
