"""Tests of mtlrec.data loading: data directory and the three split methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.config import DataConfig
from mtlrec.data import (
    DATA_DIR_VARIABLE,
    load_splits,
    read_frame,
    read_rows_file,
    resolve_data_dir,
)


def indexed_csv(tmp_path, num_rows=100):
    frame = pd.DataFrame({"row": np.arange(num_rows), "v": np.arange(num_rows) * 2})
    frame.to_csv(tmp_path / "rows.csv", index=False)
    return frame


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(None) == tmp_path / "env"

    monkeypatch.delenv(DATA_DIR_VARIABLE)
    assert str(resolve_data_dir(None)) == "."


def test_relative_path_is_read_from_data_dir(tmp_path, monkeypatch):
    indexed_csv(tmp_path)
    config = DataConfig(path="rows.csv")

    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    from_env = load_splits(config)
    from_arg = load_splits(config, data_dir=tmp_path)

    assert sum(len(f) for f in from_env.values()) == 100
    for name in from_env:
        pd.testing.assert_frame_equal(from_env[name], from_arg[name])


def test_random_split_is_disjoint_complete_and_seeded(tmp_path):
    indexed_csv(tmp_path, num_rows=200)
    fractions = {"train": 0.7, "valid": 0.2, "test": 0.1}
    config = DataConfig(path="rows.csv", split={"fractions": fractions, "seed": 3})

    frames = load_splits(config, tmp_path)
    again = load_splits(config, tmp_path)
    other = load_splits(
        config.model_copy(
            update={"split": config.split.model_copy(update={"seed": 4})}
        ),
        tmp_path,
    )

    rows = {name: set(f["row"]) for name, f in frames.items()}
    assert {name: len(r) for name, r in rows.items()} == {
        "train": 140,
        "valid": 40,
        "test": 20,
    }
    assert rows["train"].isdisjoint(rows["valid"])
    assert rows["train"].isdisjoint(rows["test"])
    assert rows["valid"].isdisjoint(rows["test"])
    assert set().union(*rows.values()) == set(range(200))
    for name in frames:
        pd.testing.assert_frame_equal(frames[name], again[name])
    assert set(other["train"]["row"]) != rows["train"]
    # Rows keep the file order inside each split.
    assert frames["train"]["row"].is_monotonic_increasing


def test_split_by_column(tmp_path):
    frame = pd.DataFrame({"x": range(6), "part": ["tr", "tr", "va", "te", "tr", "va"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    config = DataConfig(
        path="d.csv",
        split={
            "method": "column",
            "column": "part",
            "values": {"train": "tr", "valid": "va", "test": "te"},
        },
    )

    frames = load_splits(config, tmp_path)

    assert frames["train"]["x"].tolist() == [0, 1, 4]
    assert frames["valid"]["x"].tolist() == [2, 5]
    assert frames["test"]["x"].tolist() == [3]


def test_split_by_column_with_numeric_values(tmp_path):
    pd.DataFrame({"x": range(4), "fold": [0, 1, 2, 0]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    config = DataConfig(
        path="d.csv",
        split={
            "method": "column",
            "column": "fold",
            "values": {"train": "0", "valid": "1", "test": "2"},
        },
    )

    frames = load_splits(config, tmp_path)

    assert frames["train"]["x"].tolist() == [0, 3]


def test_split_column_missing(tmp_path):
    indexed_csv(tmp_path)
    config = DataConfig(path="rows.csv", split={"method": "column", "column": "fold"})

    with pytest.raises(ValueError, match=r"split column 'fold' is not in the data"):
        load_splits(config, tmp_path)


def test_split_with_no_rows(tmp_path):
    pd.DataFrame({"x": [1, 2], "split": ["train", "valid"]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    config = DataConfig(path="d.csv", split={"method": "column", "column": "split"})

    with pytest.raises(ValueError, match=r"split 'test' has no rows"):
        load_splits(config, tmp_path)


def test_split_by_files(tmp_path):
    for i, name in enumerate(["a", "b", "c"]):
        pd.DataFrame({"x": [i] * (i + 1)}).to_parquet(tmp_path / f"{name}.parquet")
    config = DataConfig(
        format="parquet",
        files={"train": "a.parquet", "valid": "b.parquet", "test": "c.parquet"},
        split={"method": "files"},
    )

    frames = load_splits(config, tmp_path)

    assert {k: f["x"].tolist() for k, f in frames.items()} == {
        "train": [0],
        "valid": [1, 1],
        "test": [2, 2, 2],
    }


def test_absolute_paths_ignore_data_dir(tmp_path):
    indexed_csv(tmp_path)
    config = DataConfig(path=str(tmp_path / "rows.csv"))

    frames = load_splits(config, data_dir=tmp_path / "elsewhere")

    assert sum(len(f) for f in frames.values()) == 100


def test_missing_file_names_the_path(tmp_path):
    config = DataConfig(path="missing.csv")

    with pytest.raises(FileNotFoundError, match=r"missing\.csv.*--data-dir"):
        load_splits(config, tmp_path)


def test_census_directory_without_files(tmp_path):
    (tmp_path / "census").mkdir()
    config = DataConfig(format="census_income", path="census")

    # The fix names the folder --data-dir must hold, not the files' own folder.
    with pytest.raises(
        FileNotFoundError,
        match=r"no census-income\.data.* into that folder, or point --data-dir at "
        r"the folder that holds 'census/'$",
    ):
        load_splits(config, tmp_path)


def test_synthetic_format_generates_rows():
    config = DataConfig(
        format="synthetic", synthetic={"num_rows": 50, "input_dim": 4, "num_sines": 2}
    )

    frames = load_splits(config)

    assert sum(len(f) for f in frames.values()) == 50
    assert list(frames["train"].columns) == ["x0", "x1", "x2", "x3", "y1", "y2"]


def test_read_frame_refuses_synthetic(tmp_path):
    config = DataConfig(format="synthetic")

    with pytest.raises(ValueError, match=r"'synthetic' reads no files"):
        read_frame(config, "x.csv", tmp_path)


def test_missing_data_without_data_dir_says_none_was_given(monkeypatch, tmp_path):
    monkeypatch.delenv("MTLREC_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    config = DataConfig(format="csv", path="nowhere/train.csv")
    with pytest.raises(FileNotFoundError, match=r"neither --data-dir nor \$MTLREC"):
        load_splits(config)


def test_read_rows_file_refuses_a_missing_file(tmp_path):
    config = DataConfig(format="census_income", path="census-income-kdd")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_rows_file(config, tmp_path / "rows.json")
