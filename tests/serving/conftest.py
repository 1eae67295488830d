"""A tiny trained run (tests/data/serving) and a client of its service."""

import warnings
from pathlib import Path

import pandas as pd
import pytest

from mtlrec import load_config, train_run
from mtlrec.serving import create_app

DATA = Path(__file__).parents[1] / "data" / "serving"


@pytest.fixture(scope="session")
def mmoe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MMoE run with a binary, a child and a regression task.

    Its config serves ``click * (buy@entire) ** 0.5`` with at most 8 rows and
    4096 bytes per request.
    """
    config = load_config(DATA / "mmoe.yaml")
    out = tmp_path_factory.mktemp("serving") / "mmoe"
    return train_run(config, data_dir=DATA, out=out)


@pytest.fixture(scope="session")
def m3oe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An M3oE run over the same rows, with ``city`` as each row's domain."""
    config = load_config(
        DATA / "mmoe.yaml",
        [
            "data.domain_column=city",
            "model={name: m3oe, star_units: 8, hidden_dim: 8, expert_dim: 4, "
            "num_shared_experts: 2, tower_dim: 4}",
            "train.epochs=1",
        ],
    )
    out = tmp_path_factory.mktemp("serving") / "m3oe"
    return train_run(config, data_dir=DATA, out=out)


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    """The raw rows the run was trained on."""
    return pd.read_csv(DATA / "rows.csv")


@pytest.fixture(scope="session")
def test_client():
    """Returns a test client of an app; server errors become 500 responses."""
    with warnings.catch_warnings():
        # Starlette's test client announces a future change of HTTP library.
        warnings.filterwarnings("ignore", message="Using `httpx`")
        from fastapi.testclient import TestClient

    return lambda app: TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="session")
def client(mmoe_run: Path, test_client):
    """A test client of the service for ``mmoe_run``."""
    with test_client(create_app(mmoe_run)) as session_client:
        yield session_client
