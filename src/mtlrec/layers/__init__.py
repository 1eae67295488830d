"""Reusable network blocks: input embedding, MLPs, expert banks, gates, towers."""

from mtlrec.layers._embedding import FusedEmbedding, InputLayer, InputSpec
from mtlrec.layers._experts import ExpertBank, Gates, TaskTowers, gate_softmax, mix
from mtlrec.layers._fused import fused_dtype, fused_linear, gather, reuse_casts
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
    "fused_dtype",
    "fused_linear",
    "gather",
    "gate_softmax",
    "length_mask",
    "mix",
    "reuse_casts",
]
