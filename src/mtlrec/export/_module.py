"""The export-ready module: encoded feature groups in, named predictions out.

Graph outputs are the run's prediction quantities (the columns of
``mtlrec predict``) under names that are safe in every serving stack: ``@``
becomes ``__`` and any other character outside ``[A-Za-z0-9_]`` becomes
``_``, so ``income`` stays ``income`` and ``cvr@entire`` becomes
``cvr__entire``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from mtlrec.data import Batch
from mtlrec.features import FeatureMap
from mtlrec.losses import ENTIRE_SUFFIX, prediction_names, task_predictions
from mtlrec.models import ModelSpec, MultiTaskModel

__all__ = [
    "ScoringModule",
    "dense_columns",
    "export_metadata",
    "output_names",
    "safe_name",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def safe_name(name: str) -> str:
    """Map a prediction name to a graph output name (``a@entire -> a__entire``)."""
    return _UNSAFE.sub("_", name.replace("@", "__"))


def output_names(spec: ModelSpec) -> dict[str, str]:
    """Return ``{graph output name: prediction name}`` in prediction order.

    Raises:
        ValueError: Two predictions map to the same output name.
    """
    names: dict[str, str] = {}
    for prediction in prediction_names(spec):
        safe = safe_name(prediction)
        if safe in names:
            raise ValueError(
                f"predictions {names[safe]!r} and {prediction!r} both map to the "
                f"output name {safe!r}; rename one of the tasks"
            )
        names[safe] = prediction
    return names


def dense_columns(feature_map: FeatureMap) -> list[str]:
    """Names of the dense input's columns: each numeric feature, then its flag.

    A numeric feature that had missing values in training emits a second
    column, named ``{feature}:missing``.
    """
    columns = []
    for encoder in feature_map.numeric:
        columns.append(encoder.name)
        if encoder.flag_missing:
            columns.append(f"{encoder.name}:missing")
    return columns


class ScoringModule(nn.Module):
    """A trained model wrapped for export: feature groups in, predictions out.

    Inputs are the feature groups the run has, in this order and by these
    names: ``categorical`` ``(B, F)`` int64 ids and ``dense``
    ``(B, num_dense)`` float32, both as :meth:`FeatureMap.transform` makes
    them. A group with no columns is not an input. The output is
    ``{output name: (B,)}`` (see :func:`output_names`): probabilities for
    binary tasks, conditional for child tasks, joint ones under
    ``{task}__entire``, values for regression tasks.

    The wrapped module is ``model.export_module()``, so training-only parts
    are left out; the wrapper is put in eval mode.

    Args:
        model: The trained model.
    """

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        self.inner = model.export_module()
        self.spec = model.spec
        self.output_space = model.output_space
        self.names = output_names(model.spec)
        inputs = model.spec.inputs
        self.input_names = [
            name
            for name, width in (
                ("categorical", inputs.num_fields),
                ("dense", inputs.num_dense),
            )
            if width
        ]
        self.eval()

    def example_inputs(self, num_rows: int = 2) -> tuple[torch.Tensor, ...]:
        """Zero-valued inputs of ``num_rows`` rows, one tensor per input name."""
        inputs = self.spec.inputs
        shapes = {
            "categorical": torch.zeros(num_rows, inputs.num_fields, dtype=torch.long),
            "dense": torch.zeros(num_rows, inputs.num_dense),
        }
        return tuple(shapes[name] for name in self.input_names)

    def forward(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map the feature groups (in :attr:`input_names` order) to predictions."""
        given = dict(zip(self.input_names, inputs, strict=True))
        num_rows = inputs[0].shape[0]  # B
        categorical = given.get("categorical")
        if categorical is None:
            categorical = torch.zeros(num_rows, 0, dtype=torch.long)  # (B, 0)
        dense = given.get("dense")
        if dense is None:
            dense = torch.zeros(num_rows, 0)  # (B, 0)
        outputs = self.inner(Batch(categorical, dense))
        predictions = task_predictions(self.spec, outputs, self.output_space)
        return {safe: predictions[name] for safe, name in self.names.items()}


def export_metadata(
    module: ScoringModule, feature_map: FeatureMap, extra: dict[str, Any]
) -> dict[str, Any]:
    """Describe the exported graph's inputs and outputs as JSON-ready data.

    Args:
        module: The module being exported.
        feature_map: The run's feature map (for the input column names).
        extra: More top-level entries (model name, versions).

    Returns:
        ``{"inputs": [...], "outputs": {...}, **extra}``.
    """
    columns = {
        "categorical": [e.name for e in feature_map.categorical],
        "dense": dense_columns(feature_map),
    }
    dtypes = {"categorical": "int64", "dense": "float32"}
    kinds = {t.name: t.type for t in module.spec.tasks}
    outputs = {}
    for safe, name in module.names.items():
        if name.endswith(ENTIRE_SUFFIX):
            kind = "joint probability"
        elif kinds[name] == "binary":
            kind = "probability"
        else:
            kind = "value"
        outputs[safe] = {"prediction": name, "kind": kind, "shape": ["batch"]}
    inputs = [
        {
            "name": name,
            "dtype": dtypes[name],
            "shape": ["batch", len(columns[name])],
            "columns": columns[name],
        }
        for name in module.input_names
    ]
    return {**extra, "inputs": inputs, "outputs": outputs}
