"""Feature encoders fitted on the training split and the saved feature map."""

from mtlrec.features._feature_map import (
    CategoricalEncoder,
    FeatureMap,
    NumericEncoder,
    canonical_strings,
)
from mtlrec.features._sequence import SequenceEncoder

__all__ = [
    "CategoricalEncoder",
    "FeatureMap",
    "NumericEncoder",
    "SequenceEncoder",
    "canonical_strings",
]
