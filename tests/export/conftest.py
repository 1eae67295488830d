"""A tiny trained run (tests/data/serving) shared by the export tests."""

from pathlib import Path

import pandas as pd
import pytest

from mtlrec import load_config, train_run

DATA = Path(__file__).parents[1] / "data" / "serving"


@pytest.fixture(scope="session")
def mmoe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MMoE run with a binary, a child and a regression task."""
    config = load_config(DATA / "mmoe.yaml")
    out = tmp_path_factory.mktemp("export") / "mmoe"
    return train_run(config, data_dir=DATA, out=out)


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    """The raw rows the run was trained on."""
    return pd.read_csv(DATA / "rows.csv")
