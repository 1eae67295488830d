"""Tests of the ``mtlrec`` command line, end to end on generated files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from mtlrec.cli import main
from mtlrec.models import list_models

CHILD_TASKS = [
    {"name": "click", "label": "click"},
    {"name": "conv", "label": "conv", "parent": "click"},
    {"name": "rating", "label": "rating", "type": "regression"},
]


def run_cli(monkeypatch, capsys, *args):
    """Call the console entry point in-process; return (code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mtlrec", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files_config(tmp_path, split_files, config_maker, write_yaml):
    """A YAML config over train/valid/test files in ``tmp_path / 'data'``."""
    data = split_files(tmp_path / "data")
    document = config_maker("unused", data=data, tasks=CHILD_TASKS)
    return write_yaml(document)


def test_train_evaluate_predict(tmp_path, monkeypatch, capsys, files_config):
    data, run = tmp_path / "data", tmp_path / "run"

    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "train",
        files_config,
        "--data-dir",
        data,
        "--out",
        run,
        "train.epochs=2",
    )
    assert code == 0
    assert f"test metrics ({run})" in out
    assert "conv@entire" in out
    stored = json.loads((run / "metrics.json").read_text())

    code, out, _ = run_cli(
        monkeypatch, capsys, "evaluate", run, "--split", "test", "--json"
    )
    assert code == 0
    assert _close(json.loads(out), stored["test"])

    code, out, _ = run_cli(monkeypatch, capsys, "evaluate", run, "--split", "valid")
    assert code == 0
    assert out.startswith("metrics on split valid")

    for suffix in ("parquet", "csv"):
        target = tmp_path / f"scores.{suffix}"
        code, out, _ = run_cli(
            monkeypatch,
            capsys,
            "predict",
            run,
            "--data",
            data / "test.csv",
            "--out",
            target,
        )
        assert code == 0
        assert out.strip() == f"wrote 60 rows x 4 columns to {target}"
        scores = pd.read_parquet(target) if suffix == "parquet" else pd.read_csv(target)
        expected = pd.read_parquet(run / "predictions_test.parquet")
        pd.testing.assert_frame_equal(
            scores, expected, check_dtype=suffix == "parquet", rtol=1e-6
        )

    target = tmp_path / "scores_bf16.parquet"
    code, _, _ = run_cli(
        monkeypatch,
        capsys,
        "predict",
        run,
        "--data",
        data / "test.csv",
        "--out",
        target,
        "--precision",
        "bfloat16",
    )
    assert code == 0
    scores = pd.read_parquet(target)
    assert not scores.equals(expected)
    pd.testing.assert_frame_equal(scores, expected, rtol=0, atol=3e-2)
    code, out, _ = run_cli(
        monkeypatch, capsys, "evaluate", run, "--json", "--precision", "bfloat16"
    )
    assert code == 0
    click_auc = json.loads(out)["click"]["auc"]
    assert click_auc == pytest.approx(stored["test"]["click"]["auc"], abs=0.02)


def _close(got, expected):
    for task, values in expected.items():
        for name, value in values.items():
            if value is None:
                assert got[task][name] is None
            else:
                assert got[task][name] == pytest.approx(value, rel=1e-6)
    return set(got) == set(expected)


def test_evaluate_reproduces_metrics_json(monkeypatch, capsys, finished_run):
    run = finished_run["run_dir"]
    stored = json.loads((run / "metrics.json").read_text())

    code, out, _ = run_cli(monkeypatch, capsys, "evaluate", run, "--json")

    assert code == 0
    assert _close(json.loads(out), stored["test"])


def test_models_lists_every_registered_model(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "models")

    names = [line.split()[0] for line in out.strip().splitlines()]
    assert code == 0
    assert names == sorted(list_models())
    for cls in list_models().values():
        assert cls.paper in out


def test_version(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "--version")

    assert code == 0
    assert "0.1.0" in out


def _write(frame_change):
    def prepare(tmp_path, frame, config):
        path = tmp_path / "data" / "train.csv"
        frame_change(frame).to_csv(path, index=False)
        return []

    return prepare


def _bad_label(value):
    def change(frame):
        frame = frame.copy()
        frame["click"] = frame["click"].astype(object)
        frame.loc[2, "click"] = value
        return frame

    return _write(change)


def _text(content):
    def prepare(tmp_path, frame, config):
        (tmp_path / "data" / "train.csv").write_text(content)
        return []

    return prepare


def _overrides(*items):
    return lambda tmp_path, frame, config: list(items)


def _census(tmp_path, frame, config):
    (tmp_path / "data" / "census").mkdir()
    return ["data.format=census_income", "data.split.method=random", "data.path=census"]


BAD_INPUTS = [
    pytest.param(_write(lambda f: f.drop(columns="x1")), r"feature 'x1'", id="feature"),
    pytest.param(
        _write(lambda f: f.drop(columns="click")), r"label column", id="label"
    ),
    pytest.param(_bad_label(3), r"must be 0 or 1", id="label-3"),
    pytest.param(_bad_label("yes"), r"non-numeric", id="label-string"),
    pytest.param(_bad_label(float("nan")), r"missing values", id="label-nan"),
    pytest.param(_text(""), r"is empty", id="empty-file"),
    pytest.param(_text("user,item,x1,x2,click,conv,rating\n"), r"no rows", id="header"),
    pytest.param(_census, r"no census-income", id="no-census-files"),
    pytest.param(_overrides("model.name=nope"), r"unknown model name", id="model"),
    pytest.param(_overrides("train.epohcs=3"), r"'train\.epohcs'", id="key"),
    pytest.param(_overrides("model.experts=3"), r"'model\.experts'", id="model-key"),
    pytest.param(_overrides("tasks.1.parent=clk"), r"parent 'clk'", id="parent"),
    pytest.param(_overrides("tasks.0.parent=conv"), r"cycle", id="cycle"),
    pytest.param(_overrides("train.epochs=0"), r"'train\.epochs'", id="value"),
]


@pytest.mark.parametrize(("prepare", "match"), BAD_INPUTS)
def test_bad_input_is_one_error_line_and_no_run(
    tmp_path, monkeypatch, capsys, files_config, prepare, match
):
    frame = pd.read_csv(tmp_path / "data" / "train.csv")
    overrides = prepare(tmp_path, frame, files_config)
    run = tmp_path / "run"

    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        files_config,
        *overrides,
        "--data-dir",
        tmp_path / "data",
        "--out",
        run,
    )

    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err
    assert not run.exists()


def test_missing_config_file(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "train", tmp_path / "none.yaml")

    assert code == 2
    assert err.startswith("error: config file") and err.count("\n") == 1


def test_finished_run_is_refused_and_unchanged(
    tmp_path, monkeypatch, capsys, files_config
):
    args = [
        "train",
        files_config,
        "--data-dir",
        tmp_path / "data",
        "--out",
        tmp_path / "run",
    ]
    assert run_cli(monkeypatch, capsys, *args, "train.epochs=1")[0] == 0
    before = {
        name: (tmp_path / "run" / name).read_bytes()
        for name in ("model.safetensors", "metrics.json")
    }

    code, _, err = run_cli(monkeypatch, capsys, *args, "train.epochs=2")

    assert code == 2
    assert err.startswith("error: output directory") and "--overwrite" in err
    assert err.count("\n") == 1
    for name, content in before.items():
        assert (tmp_path / "run" / name).read_bytes() == content

    code, _, _ = run_cli(monkeypatch, capsys, *args, "--overwrite", "train.epochs=2")

    assert code == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 2


def test_debug_shows_the_exception(tmp_path, monkeypatch, capsys, files_config):
    with pytest.raises(ValueError, match=r"unknown model name 'nope'"):
        run_cli(
            monkeypatch,
            capsys,
            "--debug",
            "train",
            files_config,
            "model.name=nope",
            "--out",
            tmp_path / "run",
        )


def test_evaluate_a_folder_that_is_not_a_run(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "evaluate", tmp_path)

    assert code == 2
    assert err.startswith("error: ") and "is not a trained run" in err


def test_predict_keeps_named_columns_before_the_scores(
    tmp_path, monkeypatch, capsys, finished_run
):
    rows = pd.read_csv(finished_run["data_dir"] / "test.csv")
    rows.insert(0, "request_id", [f"r{i}" for i in range(len(rows))])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    plain, kept = tmp_path / "plain.csv", tmp_path / "kept.csv"
    args = ["predict", finished_run["run_dir"], "--data", tmp_path / "rows.csv"]

    assert run_cli(monkeypatch, capsys, *args, "--out", plain)[0] == 0
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        *args,
        "--out",
        kept,
        "--keep",
        "request_id",
        "--keep",
        "user",
    )

    assert code == 0
    assert out.strip() == f"wrote 60 rows x 6 columns to {kept}"
    scores, with_ids = pd.read_csv(plain), pd.read_csv(kept)
    assert list(with_ids.columns) == ["request_id", "user", *scores.columns]
    assert with_ids["request_id"].tolist() == rows["request_id"].tolist()
    assert with_ids["user"].tolist() == rows["user"].tolist()
    pd.testing.assert_frame_equal(with_ids[list(scores.columns)], scores)


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        ("p.txt", [], "--out must end in .csv or .parquet"),
        ("nodir/p.csv", [], "does not exist; create it first"),
        ("p.csv", ["--keep", "session"], r"--keep column 'session' is not in '.*test"),
        ("p.csv", ["--keep", "usr"], r"is not in .* \(did you mean 'user'\?\)"),
        (
            "p.csv",
            ["--keep", "user,item"],
            r"give one column per --keep: --keep user --keep item \(see",
        ),
        ("p.csv", ["--keep", "click"], "share a name with a score column"),
    ],
)
def test_predict_refuses_bad_arguments_in_one_line(
    tmp_path, monkeypatch, capsys, finished_run, out, extra, message
):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "predict",
        finished_run["run_dir"],
        "--data",
        finished_run["data_dir"] / "test.csv",
        "--out",
        tmp_path / out,
        *extra,
    )

    assert code == 2
    assert re.search(message, err.strip()) and err.count("\n") == 1
    assert not (tmp_path / out.split("/")[0]).exists()


def test_evaluate_takes_split_or_data_not_both(
    tmp_path, monkeypatch, capsys, finished_run
):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        finished_run["run_dir"],
        "--split",
        "valid",
        "--data",
        finished_run["data_dir"] / "test.csv",
    )

    assert code == 2
    assert "--split and --data" in err and err.count("\n") == 1


def test_predict_missing_feature_column(tmp_path, monkeypatch, capsys, finished_run):
    rows = pd.read_csv(finished_run["data_dir"] / "test.csv").drop(columns="item")
    rows.to_csv(tmp_path / "rows.csv", index=False)

    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "predict",
        finished_run["run_dir"],
        "--data",
        tmp_path / "rows.csv",
        "--out",
        tmp_path / "p.csv",
    )

    assert code == 2
    assert err.startswith("error: ") and "lacks feature columns ['item']" in err
    assert not (tmp_path / "p.csv").exists()


def _subprocess(*args):
    return subprocess.run(
        [sys.executable, "-c", "from mtlrec.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_real_process_data_error_without_traceback(tmp_path, files_config):
    (tmp_path / "data" / "valid.csv").write_text("user,click\nu1,1\n")

    quiet = _subprocess(
        "--quiet",
        "train",
        files_config,
        "--data-dir",
        tmp_path / "data",
        "--out",
        tmp_path / "r",
    )

    assert quiet.returncode == 2
    lines = quiet.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in quiet.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("evaluate", "RUN", "--precision", "float16"),
        ("predict", "RUN", "--data", "x.csv", "--out", "y.csv", "--precision", "fp8"),
        ("train",),
        ("nonsense",),
    ],
)
def test_usage_errors_are_one_line(monkeypatch, capsys, tmp_path, args):
    args = [str(tmp_path) if a == "RUN" else a for a in args]

    code, out, err = run_cli(monkeypatch, capsys, *args)

    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert "--help" in err
