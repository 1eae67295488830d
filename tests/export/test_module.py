"""Tests of mtlrec/export/_module.py: names, the scoring module, metadata."""

import numpy as np
import pytest
import torch
from torch import nn

from mtlrec import load_run, predict
from mtlrec.export import (
    ScoringModule,
    dense_columns,
    export_metadata,
    output_names,
    safe_name,
)
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, TaskSpec
from mtlrec.training import encode


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("click", "click"),
        ("buy@entire", "buy__entire"),
        ("watch time", "watch_time"),
        ("ctr-v2@entire", "ctr_v2__entire"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_output_names_follow_prediction_order():
    spec = ModelSpec(
        InputSpec((3,), 4, 0),
        (
            TaskSpec("click"),
            TaskSpec("buy", parent="click"),
            TaskSpec("d", "regression"),
        ),
    )
    assert output_names(spec) == {
        "click": "click",
        "buy": "buy",
        "buy__entire": "buy@entire",
        "d": "d",
    }


def test_output_names_refuse_a_collision():
    spec = ModelSpec(InputSpec((3,), 4, 0), (TaskSpec("a b"), TaskSpec("a_b")))
    with pytest.raises(ValueError, match="'a b' and 'a_b' both map to the output"):
        output_names(spec)


def test_scoring_module_matches_predict(mmoe_run, rows):
    run = load_run(mmoe_run)
    module = ScoringModule(run.model)
    assert not module.training
    assert module.input_names == ["categorical", "dense"]

    encoded = encode(rows, run.feature_map, run.config, "rows", with_labels=False)
    with torch.no_grad():
        outputs = module(encoded.categorical, encoded.dense)
    expected = predict(run, rows)
    assert list(outputs) == ["click", "buy", "buy__entire", "dwell"]
    for safe, name in module.names.items():
        np.testing.assert_allclose(
            outputs[safe].numpy(), expected[name].to_numpy(), atol=1e-6
        )


def test_scoring_module_runs_the_export_hook(mmoe_run):
    class Halved(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, batch):
            return {k: v / 2 for k, v in self.model(batch).items()}

    run = load_run(mmoe_run)
    plain = ScoringModule(run.model)
    run.model.export_module = lambda: Halved(run.model)  # as a model override would
    hooked = ScoringModule(run.model)
    inputs = plain.example_inputs(3)
    with torch.no_grad():
        dwell, hooked_dwell = plain(*inputs)["dwell"], hooked(*inputs)["dwell"]
    torch.testing.assert_close(hooked_dwell, dwell / 2)


def test_scoring_module_leaves_out_an_empty_group(mmoe_run):
    run = load_run(mmoe_run)
    spec = ModelSpec(InputSpec((), 4, 2), run.model.spec.tasks)
    model = type(run.model)(spec, run.model.config)
    module = ScoringModule(model)
    assert module.input_names == ["dense"]
    (dense,) = module.example_inputs(5)
    assert dense.shape == (5, 2)
    assert module(dense)["click"].shape == (5,)


def test_export_metadata_describes_inputs_and_outputs(mmoe_run):
    run = load_run(mmoe_run)
    module = ScoringModule(run.model)
    meta = export_metadata(module, run.feature_map, {"model": "mmoe"})
    assert meta["model"] == "mmoe"
    assert meta["inputs"] == [
        {
            "name": "categorical",
            "dtype": "int64",
            "shape": ["batch", 3],
            "columns": ["city", "item", "device"],
        },
        {
            "name": "dense",
            "dtype": "float32",
            "shape": ["batch", 3],
            "columns": ["price", "price:missing", "age"],
        },
    ]
    kinds = {k: v["kind"] for k, v in meta["outputs"].items()}
    assert kinds == {
        "click": "probability",
        "buy": "probability",
        "buy__entire": "joint probability",
        "dwell": "value",
    }
    assert meta["outputs"]["buy__entire"]["prediction"] == "buy@entire"
    assert dense_columns(run.feature_map) == ["price", "price:missing", "age"]
