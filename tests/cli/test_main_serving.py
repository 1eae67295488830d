"""Tests of the ``export`` and ``serve`` commands of mtlrec/cli/_main.py."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import mtlrec
from mtlrec import load_config, predict, train_run
from mtlrec.cli import cli, main
from mtlrec.export import read_metadata

DATA = Path(__file__).parents[1] / "data" / "serving"


@pytest.fixture(scope="module")
def mmoe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny MMoE run of tests/data/serving."""
    out = tmp_path_factory.mktemp("cli") / "mmoe"
    return train_run(load_config(DATA / "mmoe.yaml"), data_dir=DATA, out=out)


def test_export_command(mmoe_run, tmp_path):
    out = tmp_path / "model.pt"
    result = CliRunner().invoke(
        cli, ["export", str(mmoe_run), "--format", "torchscript", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"wrote torchscript to {out}"
    assert lines[1] == (
        "inputs: categorical, dense; outputs: click, buy, buy__entire (buy@entire), "
        "dwell"
    )
    assert lines[2].startswith("verified on 48 rows: max abs diff ")
    assert float(lines[2].rsplit(" ", 1)[1]) < 1e-5
    assert read_metadata(out)["model"] == "mmoe"


def test_export_command_reads_rows_from_data(mmoe_run, tmp_path):
    out = tmp_path / "model.pt"
    args = ["export", str(mmoe_run), "--format", "torchscript", "--out", str(out)]
    args += ["--data", str(DATA / "rows.csv"), "--verify-rows", "30"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "verified on 30 rows" in result.output


def test_export_command_reads_a_parquet_file_by_its_suffix(mmoe_run, tmp_path):
    rows = tmp_path / "rows.parquet"
    pd.read_csv(DATA / "rows.csv").to_parquet(rows)
    out = tmp_path / "model.pt"
    args = ["export", str(mmoe_run), "--format", "torchscript", "--out", str(out)]

    result = CliRunner().invoke(cli, [*args, "--data", str(rows)])

    assert result.exit_code == 0, result.output
    assert "verified on 240 rows" in result.output  # every row of the file


def test_export_of_a_domain_model_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    overrides = [
        "data.domain_column=city",
        "model={name: m3oe, star_units: 8, hidden_dim: 8, expert_dim: 4, "
        "num_shared_experts: 2, tower_dim: 4}",
        "train.epochs=1",
    ]
    config = load_config(DATA / "mmoe.yaml", overrides)
    run = train_run(config, data_dir=DATA, out=tmp_path / "m3oe")
    out = tmp_path / "m.onnx"
    monkeypatch.setattr(sys, "argv", ["mtlrec", "export", str(run), "--out", str(out)])

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: export has no input for each row's domain yet, which m3oe reads; "
        "score this run with mtlrec predict or mtlrec serve"
    )
    assert not out.exists()


def test_export_command_error_is_one_line(tmp_path, monkeypatch, capsys):
    args = ["mtlrec", "export", str(tmp_path), "--out", str(tmp_path / "m.onnx")]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"error: {str(tmp_path)!r} is not a trained run: config.yaml is missing; "
        "pass the directory written by `mtlrec train`"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not answer within {seconds} s")


def test_serve_command_answers_on_loopback(mmoe_run):
    port = _free_port()
    env = dict(os.environ)
    source = str(Path(mtlrec.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "mtlrec", "serve", str(mmoe_run)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--threads", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, 60.0)
        frame = pd.read_csv(DATA / "rows.csv").iloc[:3]
        rows = json.loads(frame.to_json(orient="records"))
        response = httpx.post(url + "/predict", json={"rows": rows}, timeout=10.0)
        bad = httpx.post(url + "/predict", content=b"{", timeout=10.0)
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert response.status_code == 200
    expected = predict(mmoe_run, frame)
    for name, values in response.json()["predictions"].items():
        np.testing.assert_allclose(values, expected[name], atol=1e-6)
    assert bad.status_code == 400
    assert f"url=http://127.0.0.1:{port}" in stderr.decode()
