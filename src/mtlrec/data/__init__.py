"""Reading, splitting and batching data; the built-in synthetic data set."""

from mtlrec.data._batch import Batch, EncodedData, iterate_batches
from mtlrec.data._columns import columns_hint
from mtlrec.data._labels import build_labels, build_weights, check_both_classes
from mtlrec.data._load import (
    DATA_DIR_VARIABLE,
    generate_frame,
    load_splits,
    read_frame,
    read_rows_file,
    resolve_data_dir,
)
from mtlrec.data._public import (
    MOVIELENS_AGE_GROUPS,
    read_movielens_100k,
    read_taobao_user_behavior,
)
from mtlrec.data._readers import CENSUS_COLUMNS, read_census_income, read_table
from mtlrec.data._sequences import history_index
from mtlrec.data._simulators import (
    ad_funnel_synthetic,
    funnel_step_names,
    position_feed_synthetic,
)
from mtlrec.data._synthetic import mmoe_synthetic

__all__ = [
    "CENSUS_COLUMNS",
    "DATA_DIR_VARIABLE",
    "MOVIELENS_AGE_GROUPS",
    "Batch",
    "EncodedData",
    "ad_funnel_synthetic",
    "build_labels",
    "build_weights",
    "check_both_classes",
    "columns_hint",
    "funnel_step_names",
    "generate_frame",
    "history_index",
    "iterate_batches",
    "load_splits",
    "mmoe_synthetic",
    "position_feed_synthetic",
    "read_movielens_100k",
    "read_taobao_user_behavior",
    "read_census_income",
    "read_frame",
    "read_rows_file",
    "read_table",
    "resolve_data_dir",
]
