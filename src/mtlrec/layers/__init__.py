"""Reusable network blocks: input embedding, MLPs, expert banks, gates, towers."""

from mtlrec.layers._embedding import FusedEmbedding, InputLayer, InputSpec
from mtlrec.layers._experts import ExpertBank, Gates, TaskTowers, mix
from mtlrec.layers._mlp import MLP
from mtlrec.layers._sequence import HistoryEmbedding, SequencePooling, length_mask

__all__ = [
    "MLP",
    "ExpertBank",
    "FusedEmbedding",
    "Gates",
    "HistoryEmbedding",
    "InputLayer",
    "InputSpec",
    "SequencePooling",
    "TaskTowers",
    "length_mask",
    "mix",
]
