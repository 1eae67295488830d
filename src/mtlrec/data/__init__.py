"""Reading, splitting and batching data; the built-in synthetic data set."""

from mtlrec.data._batch import Batch, EncodedData, iterate_batches
from mtlrec.data._labels import build_labels, build_weights
from mtlrec.data._load import (
    DATA_DIR_VARIABLE,
    load_splits,
    read_frame,
    read_rows_file,
    resolve_data_dir,
)
from mtlrec.data._readers import CENSUS_COLUMNS, read_census_income, read_table
from mtlrec.data._synthetic import mmoe_synthetic

__all__ = [
    "CENSUS_COLUMNS",
    "DATA_DIR_VARIABLE",
    "Batch",
    "EncodedData",
    "build_labels",
    "build_weights",
    "iterate_batches",
    "load_splits",
    "mmoe_synthetic",
    "read_census_income",
    "read_frame",
    "read_rows_file",
    "read_table",
    "resolve_data_dir",
]
