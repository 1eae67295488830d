"""Tests of mtlrec/export/_export.py: ONNX and TorchScript files, verified."""

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime
import pytest
import torch

from mtlrec import list_models, load_config, load_run, predict, train_run
from mtlrec.export import _export as export_module
from mtlrec.export import export_run, read_metadata
from mtlrec.training import encode

DATA = Path(__file__).parents[1] / "data" / "serving"


@pytest.fixture(scope="module")
def onnx_file(mmoe_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_run(mmoe_run, out, "onnx")


@pytest.fixture(scope="module")
def torchscript_file(mmoe_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("ts") / "model.pt"
    return export_run(mmoe_run, out, "torchscript")


def _inputs(mmoe_run, frame):
    run = load_run(mmoe_run)
    encoded = encode(frame, run.feature_map, run.config, "rows", with_labels=False)
    return {"categorical": encoded.categorical.numpy(), "dense": encoded.dense.numpy()}


@pytest.mark.parametrize("report_name", ["onnx_file", "torchscript_file"])
def test_export_is_verified_within_1e_5(report_name, request):
    report = request.getfixturevalue(report_name)
    assert report.path.is_file()
    assert report.rows == 48  # the run's test split: 20 % of 240 rows
    assert report.max_abs_diff < 1e-5
    assert set(report.diffs) == {"click", "buy", "buy__entire", "dwell"}
    assert report.outputs["buy__entire"] == "buy@entire"
    assert not list(report.path.parent.glob(".*.tmp"))


def test_onnx_graph_has_named_groups_and_a_free_batch(onnx_file):
    session = onnxruntime.InferenceSession(str(onnx_file.path))
    inputs = {i.name: (i.type, i.shape) for i in session.get_inputs()}
    assert inputs == {
        "categorical": ("tensor(int64)", ["batch", 3]),
        "dense": ("tensor(float)", ["batch", 3]),
    }
    outputs = [(o.name, o.type, o.shape) for o in session.get_outputs()]
    assert outputs == [
        (name, "tensor(float)", ["batch"])
        for name in ("click", "buy", "buy__entire", "dwell")
    ]


@pytest.mark.parametrize("num_rows", [1, 7])
def test_onnx_outputs_equal_predict(onnx_file, mmoe_run, rows, num_rows):
    frame = rows.iloc[10 : 10 + num_rows]
    session = onnxruntime.InferenceSession(str(onnx_file.path))
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, _inputs(mmoe_run, frame)), strict=True))
    expected = predict(mmoe_run, frame)
    for name, column in onnx_file.outputs.items():
        np.testing.assert_allclose(values[name], expected[column], atol=1e-5)


def test_torchscript_returns_a_dict_equal_to_predict(torchscript_file, mmoe_run, rows):
    frame = rows.iloc[:5]
    module = torch.jit.load(str(torchscript_file.path))
    inputs = _inputs(mmoe_run, frame)
    with torch.no_grad():
        values = module(*(torch.from_numpy(v) for v in inputs.values()))
    expected = predict(mmoe_run, frame)
    assert list(values) == ["click", "buy", "buy__entire", "dwell"]
    for name, column in torchscript_file.outputs.items():
        np.testing.assert_allclose(values[name].numpy(), expected[column], atol=1e-5)


@pytest.mark.parametrize("report_name", ["onnx_file", "torchscript_file"])
def test_read_metadata(report_name, request):
    report = request.getfixturevalue(report_name)
    meta = read_metadata(report.path)
    assert meta["format"] == report.format
    assert meta["model"] == "mmoe"
    assert [i["name"] for i in meta["inputs"]] == ["categorical", "dense"]
    assert meta["outputs"]["buy__entire"]["prediction"] == "buy@entire"
    assert [t["name"] for t in meta["tasks"]] == ["click", "buy", "dwell"]


def test_export_on_given_rows(mmoe_run, rows, tmp_path):
    report = export_run(mmoe_run, tmp_path / "m.pt", "torchscript", rows, 100)
    assert report.rows == 100
    assert report.max_abs_diff < 1e-5


def test_export_refuses_a_differing_graph(mmoe_run, tmp_path, monkeypatch):
    def shifted(path, inputs):
        values = export_module._run_torchscript(path, inputs)
        return {k: v + 1e-3 for k, v in values.items()}

    monkeypatch.setitem(export_module._RUNNERS, "torchscript", shifted)
    with pytest.raises(ValueError, match="differs from the PyTorch model by 0.001"):
        export_run(mmoe_run, tmp_path / "m.pt", "torchscript")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "tflite"}, "format must be one of \\['onnx', 'torchscript'\\]"),
        ({"verify_rows": 0}, "verify_rows must be >= 1, got 0"),
    ],
)
def test_export_refuses_bad_arguments(mmoe_run, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_run(mmoe_run, tmp_path / "m.onnx", **kwargs)


def test_export_without_verify_rows_names_the_data_option(mmoe_run, tmp_path):
    run = load_run(mmoe_run)
    run.info["data_dir"] = str(tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match="pass rows with --data"):
        export_run(run, tmp_path / "m.onnx")


def test_read_metadata_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_metadata(tmp_path / "none.onnx")
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(plain))
    with pytest.raises(ValueError, match="carries no mtlrec description"):
        read_metadata(plain)


# Export takes the categorical and dense groups only; models that read domains
# or training-only context need those inputs added to export first.
NOT_EXPORTABLE_YET = {"m3oe", "youtube_mmoe"}


@pytest.mark.parametrize(
    "model_name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                reason="#6 export has no domain or context input group yet",
                strict=True,
            ),
        )
        if name in NOT_EXPORTABLE_YET
        else name
        for name in sorted(list_models())
    ],
)
def test_every_registered_model_exports(model_name, tmp_path):
    tasks = "[{name: click, label: click}, {name: buy, label: buy, parent: click}]"
    config = load_config(
        DATA / "mmoe.yaml",
        [f"model={{name: {model_name}}}", f"tasks={tasks}", "train.epochs=1"],
    )
    run_dir = train_run(config, data_dir=DATA, out=tmp_path / "run")
    report = export_run(run_dir, tmp_path / "model.pt", "torchscript")
    assert list(report.outputs) == ["click", "buy", "buy__entire"]
    assert report.max_abs_diff < 1e-5


def test_a_run_with_a_history_feature_is_refused(mmoe_run, tmp_path):
    run = load_run(mmoe_run)
    sequence = SimpleNamespace(name="recent_items")
    run = dataclasses.replace(
        run, feature_map=dataclasses.replace(run.feature_map, sequence=sequence)
    )

    with pytest.raises(NotImplementedError, match="history feature 'recent_items'"):
        export_run(run, tmp_path / "model.onnx")

    assert not (tmp_path / "model.onnx").exists()
