"""Turn a DataConfig into train, valid and test frames."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from mtlrec.config import GENERATED_FORMATS, SPLITS, DataConfig
from mtlrec.data._columns import columns_hint
from mtlrec.data._public import read_movielens_100k, read_taobao_user_behavior
from mtlrec.data._readers import read_census_income, read_table
from mtlrec.data._simulators import ad_funnel_synthetic, position_feed_synthetic
from mtlrec.data._synthetic import mmoe_synthetic

__all__ = [
    "generate_frame",
    "load_splits",
    "read_frame",
    "read_rows_file",
    "resolve_data_dir",
]

logger = logging.getLogger(__name__)

DATA_DIR_VARIABLE = "MTLREC_DATA_DIR"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """Return ``data_dir``, else ``$MTLREC_DATA_DIR``, else the current directory."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(DATA_DIR_VARIABLE, "."))


def read_frame(
    config: DataConfig, relative: str, data_dir: Path, in_file_order: bool = False
) -> pd.DataFrame:
    """Read one source named in the config (a file, or a census directory).

    ``in_file_order`` keeps the rows in the file's order where a reader
    would otherwise sort them (MovieLens, by user and time).
    """
    path = Path(relative)
    if not path.is_absolute():
        path = data_dir / path
    if config.format == "census_income":
        return read_census_income(path)
    if config.format == "movielens_100k":
        return read_movielens_100k(path, sort=not in_file_order)
    if config.format == "taobao_user_behavior":
        return read_taobao_user_behavior(path)
    if config.format in GENERATED_FORMATS:
        raise ValueError(f"data.format {config.format!r} reads no files")
    return read_table(path, config.format, config.csv_separator)


def read_rows_file(config: DataConfig, path: str | Path) -> pd.DataFrame:
    """Read a file of rows to score or evaluate with a trained run.

    ``.csv`` and ``.parquet`` files are read by their suffix; any other file is
    read in the run's own data format (e.g. an original census file). Rows
    keep the file's order, so scores line up with its lines.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    if path.suffix == ".parquet":
        return read_table(path, "parquet")
    if path.suffix == ".csv" or config.format in ("synthetic", "parquet"):
        return read_table(path, "csv", config.csv_separator)
    return read_frame(config, str(path.resolve()), Path("."), in_file_order=True)


def load_splits(
    config: DataConfig, data_dir: str | Path | None = None
) -> dict[str, pd.DataFrame]:
    """Read the configured data and return ``{"train", "valid", "test"}`` frames.

    Args:
        config: The data section of a run config.
        data_dir: Base folder for relative paths (see :func:`resolve_data_dir`).

    Raises:
        FileNotFoundError: A configured file or folder does not exist.
        ValueError: A file is empty, a split column is missing or a split
            ends up with no rows.
    """
    base = resolve_data_dir(data_dir)
    try:
        frames = _read_splits(config, base)
    except FileNotFoundError as exc:
        if data_dir is None and DATA_DIR_VARIABLE not in os.environ:
            raise FileNotFoundError(
                f"{exc} (neither --data-dir nor ${DATA_DIR_VARIABLE} is set, so "
                f"relative paths start at {str(Path.cwd())!r})"
            ) from None
        raise
    for name, part in frames.items():
        if part.empty:
            raise ValueError(
                f"split {name!r} has no rows; check data.split ({config.split.method})"
            )
    logger.info("Loaded data rows=%s", {k: len(v) for k, v in frames.items()})
    return frames


def _read_splits(config: DataConfig, base: Path) -> dict[str, pd.DataFrame]:
    split = config.split
    if split.method == "files":
        assert config.files is not None  # checked when the config was validated
        frames = {name: read_frame(config, config.files[name], base) for name in SPLITS}
    else:
        if config.format in GENERATED_FORMATS:
            frame = generate_frame(config)
        else:
            assert config.path is not None  # checked when the config was validated
            frame = read_frame(config, config.path, base)
        if split.method == "column":
            frames = _split_by_column(frame, split.column or "", split.values)
        elif split.by is not None:
            frames = _split_by_group(frame, split.by, split.fractions, split.seed)
        else:
            frames = _split_random(frame, split.fractions, split.seed)
    return frames


def generate_frame(config: DataConfig) -> pd.DataFrame:
    """Draw the rows of a built-in generated data set named by ``config.format``."""
    if config.format == "ad_funnel":
        a = config.ad_funnel
        return ad_funnel_synthetic(
            a.num_rows, a.num_steps, a.num_fields, a.vocab_size, a.seed
        )
    if config.format == "position_feed":
        p = config.position_feed
        return position_feed_synthetic(
            p.num_lists,
            p.list_size,
            p.num_items,
            p.examination_power,
            p.policy_noise,
            p.seed,
        )
    s = config.synthetic
    return mmoe_synthetic(
        s.num_rows,
        s.input_dim,
        s.correlation,
        s.scale,
        s.num_sines,
        s.noise_std,
        s.seed,
    )


def _split_by_group(
    frame: pd.DataFrame, column: str, fractions: dict[str, float], seed: int
) -> dict[str, pd.DataFrame]:
    # Whole groups (e.g. users) go to one split; fractions count groups.
    if column not in frame.columns:
        raise ValueError(
            f"data.split.by column {column!r} is not in the data"
            f"{columns_hint(column, frame.columns)}"
        )
    keys = frame[column].to_numpy()
    values = pd.unique(keys)
    chosen = _split_random(pd.DataFrame({"key": values}), fractions, seed)
    return {
        name: frame[np.isin(keys, part["key"].to_numpy())].reset_index(drop=True)
        for name, part in chosen.items()
    }


def _split_random(
    frame: pd.DataFrame, fractions: dict[str, float], seed: int
) -> dict[str, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    num_train = int(round(fractions["train"] * len(frame)))
    num_valid = int(round(fractions["valid"] * len(frame)))
    bounds = {
        "train": order[:num_train],
        "valid": order[num_train : num_train + num_valid],
        "test": order[num_train + num_valid :],
    }
    return {
        name: frame.iloc[np.sort(rows)].reset_index(drop=True)
        for name, rows in bounds.items()
    }


def _split_by_column(
    frame: pd.DataFrame, column: str, values: dict[str, str]
) -> dict[str, pd.DataFrame]:
    if column not in frame.columns:
        raise ValueError(
            f"split column {column!r} is not in the data"
            f"{columns_hint(column, frame.columns)}"
        )
    key = frame[column].astype(str)
    return {
        name: frame[key == str(values[name])].reset_index(drop=True) for name in SPLITS
    }
