"""Export trained runs to ONNX and TorchScript with named inputs and outputs."""

from mtlrec.export._export import FORMATS, ExportReport, export_run, read_metadata
from mtlrec.export._module import (
    ScoringModule,
    dense_columns,
    export_metadata,
    output_names,
    safe_name,
)

__all__ = [
    "FORMATS",
    "ExportReport",
    "ScoringModule",
    "dense_columns",
    "export_metadata",
    "export_run",
    "output_names",
    "read_metadata",
    "safe_name",
]
