"""Tests of mtlrec.data readers: CSV, Parquet and UCI Census-Income."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from mtlrec.data import CENSUS_COLUMNS, read_census_income, read_table


def census_line(age: int, marital: str, label: str, worker: str = "Private") -> str:
    """One row in the original census format: ``", "``-separated, 42 fields."""
    values = ["0"] * len(CENSUS_COLUMNS)
    values[CENSUS_COLUMNS.index("age")] = str(age)
    values[CENSUS_COLUMNS.index("class_worker")] = worker
    values[CENSUS_COLUMNS.index("marital_stat")] = marital
    values[CENSUS_COLUMNS.index("income_50k")] = label
    return ", ".join(values)


CENSUS_ROWS = [
    census_line(38, "Never married", "- 50000."),
    census_line(52, "Married-civilian spouse present", "50000+.", worker="?"),
    census_line(27, "Never married", "- 50000."),
]


def test_read_csv_and_parquet_give_the_same_frame(tmp_path, tiny_frame):
    tiny_frame.to_csv(tmp_path / "d.csv", index=False)
    tiny_frame.to_parquet(tmp_path / "d.parquet", index=False)

    from_csv = read_table(tmp_path / "d.csv", "csv")
    from_parquet = read_table(tmp_path / "d.parquet", "parquet")

    pd.testing.assert_frame_equal(from_csv, tiny_frame)
    pd.testing.assert_frame_equal(from_parquet, tiny_frame)


def test_read_csv_with_other_separator(tmp_path):
    (tmp_path / "d.tsv").write_text("a\tb\n1\tx\n2\ty\n")

    frame = read_table(tmp_path / "d.tsv", "csv", separator="\t")

    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == ["x", "y"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data file .*nope\.csv.* not exist"):
        read_table(tmp_path / "nope.csv", "csv")


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")

    with pytest.raises(ValueError, match=r"is empty; it holds no rows"):
        read_table(tmp_path / "empty.csv", "csv")


def test_header_only_file(tmp_path):
    (tmp_path / "header.csv").write_text("user,click\n")

    with pytest.raises(ValueError, match=r"holds a header but no rows"):
        read_table(tmp_path / "header.csv", "csv")


def test_header_only_parquet(tmp_path):
    pd.DataFrame({"a": pd.Series([], dtype="int64")}).to_parquet(tmp_path / "e.pq")

    with pytest.raises(ValueError, match=r"holds a header but no rows"):
        read_table(tmp_path / "e.pq", "parquet")


def test_unreadable_parquet(tmp_path):
    (tmp_path / "bad.parquet").write_text("this is not parquet")

    with pytest.raises(ValueError, match=r"cannot be read as parquet"):
        read_table(tmp_path / "bad.parquet", "parquet")


def test_census_file_format(tmp_path):
    path = tmp_path / "census-income.test"
    path.write_text("\n".join(CENSUS_ROWS) + "\n")

    frame = read_census_income(path)

    assert list(frame.columns) == CENSUS_COLUMNS
    assert len(frame) == 3
    assert frame["income_50k"].tolist() == ["- 50000", "50000+", "- 50000"]
    assert frame["marital_stat"].tolist()[0] == "Never married"
    assert frame["age"].tolist() == [38, 52, 27]
    assert frame["class_worker"].isna().tolist() == [False, True, False]


def test_census_directory_reads_data_then_test(tmp_path):
    nested = tmp_path / "census" / "raw"
    nested.mkdir(parents=True)
    with gzip.open(nested / "census-income.data.gz", "wt") as handle:
        handle.write("\n".join(CENSUS_ROWS[:2]) + "\n")
    (nested / "census-income.test").write_text(CENSUS_ROWS[2] + "\n")
    # A sample with a longer name must not be picked up.
    (nested / "census-income.data.first-rows").write_text(CENSUS_ROWS[0] + "\n")

    frame = read_census_income(tmp_path / "census")

    assert frame["age"].tolist() == [38, 52, 27]


def test_census_directory_without_files(tmp_path):
    (tmp_path / "other.csv").write_text("a\n1\n")

    with pytest.raises(FileNotFoundError, match=r"no census-income\.data\[\.gz\]"):
        read_census_income(tmp_path)


def test_census_wrong_number_of_fields(tmp_path):
    path = tmp_path / "census-income.data"
    path.write_text("1, 2, 3\n4, 5, 6\n")

    with pytest.raises(ValueError, match=r"has 3 fields per row, expected 42"):
        read_census_income(path)


def test_census_empty_file(tmp_path):
    path = tmp_path / "census-income.data"
    path.write_text("\n")

    with pytest.raises(ValueError, match=r"holds no rows|is empty"):
        read_census_income(path)


def _shared_census_dir() -> Path | None:
    base = os.environ.get("MTLREC_DATA_DIR")
    return Path(base) / "census-income-kdd" if base else None


@pytest.mark.slow
def test_real_census_test_split():
    folder = _shared_census_dir()
    if folder is None or not (folder / "census-income.test.gz").is_file():
        pytest.skip(
            "needs MTLREC_DATA_DIR with census-income-kdd/census-income.test.gz"
        )

    frame = read_census_income(folder)

    assert frame.shape == (99762, 42)
    assert int((frame["income_50k"] == "50000+").sum()) == 6186
    assert set(frame["income_50k"]) == {"- 50000", "50000+"}
