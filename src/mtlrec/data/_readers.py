"""Readers for CSV, Parquet and the original UCI Census-Income (KDD) files."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CENSUS_COLUMNS", "read_census_income", "read_table"]

logger = logging.getLogger(__name__)

CENSUS_COLUMNS = (
    "age, class_worker, det_ind_code, det_occ_code, education, wage_per_hour, "
    "hs_college, marital_stat, major_ind_code, major_occ_code, race, hisp_origin, "
    "sex, union_member, unemp_reason, full_or_part_emp, capital_gains, "
    "capital_losses, stock_dividends, tax_filer_stat, region_prev_res, "
    "state_prev_res, det_hh_fam_stat, det_hh_summ, instance_weight, mig_chg_msa, "
    "mig_chg_reg, mig_move_reg, mig_same, mig_prev_sunbelt, num_emp, fam_under_18, "
    "country_father, country_mother, country_self, citizenship, own_or_self, "
    "vet_question, vet_benefits, weeks_worked, year, income_50k"
).split(", ")

_CENSUS_NAMES = ("census-income.data", "census-income.test")


def read_table(
    path: str | Path, file_format: str, separator: str = ","
) -> pd.DataFrame:
    """Read one CSV or Parquet file into a DataFrame.

    Args:
        path: The file.
        file_format: ``"csv"`` or ``"parquet"``.
        separator: CSV field separator (default ``","``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file holds no rows or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"data file {str(path)!r} does not exist; check data.path/data.files "
            "and --data-dir"
        )
    try:
        if file_format == "parquet":
            table = pq.read_table(path)
            # Free each Arrow column as it is converted, then hand Arrow's
            # freed pages back to the system for the tensors that follow.
            frame = table.to_pandas(self_destruct=True, split_blocks=True)
            del table
            pa.default_memory_pool().release_unused()
        else:
            frame = pd.read_csv(path, sep=separator, low_memory=False)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"data file {str(path)!r} is empty; it holds no rows"
        ) from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise ValueError(
            f"data file {str(path)!r} cannot be read as {file_format}: {exc}"
        ) from None
    if frame.empty:
        raise ValueError(f"data file {str(path)!r} holds a header but no rows")
    return frame


def read_census_income(path: str | Path) -> pd.DataFrame:
    """Read UCI Census-Income (KDD) files in their original format.

    The files have no header and separate fields with ``", "``; the label ends
    with a period (``"- 50000."``), which is dropped. ``"?"`` means unknown and
    becomes a missing value.

    Args:
        path: One file, or a directory searched (recursively) for
            ``census-income.data[.gz]`` and ``census-income.test[.gz]``; every
            file found is read, in that order, into one frame.

    Returns:
        A frame with the 42 columns of :data:`CENSUS_COLUMNS`.

    Raises:
        FileNotFoundError: No census file at ``path``.
        ValueError: A file does not have 42 fields per row.
    """
    files = _census_files(Path(path))
    frames = [_read_census_file(f) for f in files]
    logger.info(
        "Read Census-Income files=%s rows=%s",
        [f.name for f in files],
        [len(f) for f in frames],
    )
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _census_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found: list[Path] = []
    if path.is_dir():
        for name in _CENSUS_NAMES:
            matches = sorted(path.rglob(name)) + sorted(path.rglob(name + ".gz"))
            found += matches[:1]
    if not found:
        raise FileNotFoundError(
            f"no census-income.data[.gz] or census-income.test[.gz] under "
            f"{str(path)!r}; download them from the UCI Census-Income (KDD) page "
            f"into that folder, or point --data-dir at the folder that holds "
            f"'{path.name}/'"
        )
    return found


def _read_census_file(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            header=None,
            sep=",",
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
            compression="infer",
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    if frame.empty:
        raise ValueError(f"census file {str(path)!r} holds no rows")
    if frame.shape[1] != len(CENSUS_COLUMNS):
        raise ValueError(
            f"census file {str(path)!r} has {frame.shape[1]} fields per row, "
            f"expected {len(CENSUS_COLUMNS)}; is it the original UCI format?"
        )
    frame.columns = CENSUS_COLUMNS
    frame["income_50k"] = frame["income_50k"].astype(str).str.rstrip(".").str.strip()
    return frame
