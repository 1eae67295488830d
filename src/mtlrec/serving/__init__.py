"""Serve a trained run over HTTP with the run's own preprocessing."""

from mtlrec.serving._app import create_app, serve
from mtlrec.serving._batcher import MicroBatcher
from mtlrec.serving._encoding import RowEncoder
from mtlrec.serving._requests import RequestError, check_rows, parse_rows
from mtlrec.serving._score import fuse_scores, score_weights
from mtlrec.serving._scorer import Scorer

__all__ = [
    "MicroBatcher",
    "RequestError",
    "RowEncoder",
    "Scorer",
    "check_rows",
    "create_app",
    "fuse_scores",
    "parse_rows",
    "score_weights",
    "serve",
]
