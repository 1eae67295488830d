"""Export a trained run to ONNX or TorchScript, verified on real rows.

The graph is written beside the target, run on encoded rows of real data
(ONNX Runtime for ONNX, ``torch.jit.load`` for TorchScript) and compared with
the PyTorch predictions of ``mtlrec predict``; only a graph within tolerance
is moved into place.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import mtlrec
from mtlrec.data import load_splits
from mtlrec.export._module import ScoringModule, export_metadata
from mtlrec.training import LoadedRun, encode, load_run, predict_scores

__all__ = ["FORMATS", "ExportReport", "export_run", "read_metadata"]

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
METADATA_KEY = "mtlrec"

# Messages the exporters emit for every model of this package; none is
# actionable for the user (the gate diagnostics attribute, pytree internals).
_QUIET = (
    ".*was assigned during export.*",
    ".*isinstance\\(treespec, LeafSpec\\).*",
    ".*The axis name.*will not be used.*",
)


@dataclass
class ExportReport:
    """What an export wrote and how it compared with the PyTorch model.

    Attributes:
        path: The exported file.
        format: ``"onnx"`` or ``"torchscript"``.
        inputs: Input names in order.
        outputs: ``{output name: prediction name}``.
        rows: Number of real rows the export was checked on.
        max_abs_diff: Largest absolute difference over every output and row.
        diffs: Largest absolute difference per output.
    """

    path: Path
    format: str
    inputs: list[str]
    outputs: dict[str, str]
    rows: int
    max_abs_diff: float
    diffs: dict[str, float]


def export_run(
    run: str | Path | LoadedRun,
    out: str | Path,
    format: str = "onnx",
    data: pd.DataFrame | None = None,
    verify_rows: int = 1000,
    tolerance: float = 1e-5,
) -> ExportReport:
    """Export a trained run and check it against the PyTorch model.

    Args:
        run: A run directory or a run loaded with :func:`~mtlrec.load_run`.
        out: The file to write.
        format: ``"onnx"`` (default) or ``"torchscript"``.
        data: Raw rows to verify on (default: the run's own test split).
        verify_rows: How many rows to verify on (default 1000).
        tolerance: Largest absolute difference accepted (default 1e-5).

    Returns:
        The report, with the largest absolute difference found.

    Raises:
        ValueError: Unknown ``format``, bad ``verify_rows``, or the export
            differs from the PyTorch model by more than ``tolerance``.
        FileNotFoundError: No data to verify on.
        NotImplementedError: The run reads an input the exported graph has
            no place for yet (a history feature, each row's domain).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)!r}, got {format!r}")
    if verify_rows < 1:
        raise ValueError(f"verify_rows must be >= 1, got {verify_rows!r}")
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    _check_inputs(loaded)
    frame = (data if data is not None else _run_rows(loaded)).iloc[:verify_rows]
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")

    module = ScoringModule(loaded.model)
    metadata = export_metadata(module, loaded.feature_map, _extra(loaded, format))
    try:
        with warnings.catch_warnings():
            for pattern in _QUIET:
                warnings.filterwarnings("ignore", message=pattern)
            _WRITERS[format](module, tmp, metadata)
        report = _verify(loaded, module, frame, tmp, format)
        if report.max_abs_diff > tolerance:
            raise ValueError(
                f"the {format} export differs from the PyTorch model by "
                f"{report.max_abs_diff:.3g} > tolerance {tolerance:g} "
                f"(per output: {report.diffs}); nothing was written"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    report.path = target
    logger.info(
        "Export written. path=%s format=%s rows=%d max_abs_diff=%.3g",
        target,
        format,
        report.rows,
        report.max_abs_diff,
    )
    return report


def _check_inputs(run: LoadedRun) -> None:
    """Refuse runs that read more than the categorical and dense groups."""
    sequence = run.feature_map.sequence
    if sequence is not None:
        raise NotImplementedError(
            f"export has no input for the history feature {sequence.name!r} yet "
            "(only the categorical and dense features); score this run with "
            "mtlrec predict"
        )
    if run.model.reads_domains:
        raise NotImplementedError(
            f"export has no input for each row's domain yet, which "
            f"{run.config.model.name} reads; score this run with mtlrec predict "
            "or mtlrec serve"
        )


def _run_rows(run: LoadedRun) -> pd.DataFrame:
    base = run.info.get("data_dir")
    try:
        return load_splits(run.config.data, base)["test"]
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"cannot read the run's test split to verify the export ({exc}); pass "
            "rows with --data (a CSV or Parquet file with the feature columns)"
        ) from None


def _extra(run: LoadedRun, format: str) -> dict[str, Any]:
    return {
        "format": format,
        "model": run.config.model.name,
        "mtlrec_version": mtlrec.__version__,
        "torch_version": torch.__version__,
        "tasks": [
            {"name": t.name, "type": t.type, "parent": t.parent}
            for t in run.config.tasks
        ],
    }


def _write_onnx(module: ScoringModule, path: Path, metadata: dict[str, Any]) -> None:
    import onnx

    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in module.input_names)
    torch.onnx.export(
        module,
        module.example_inputs(),
        str(path),
        input_names=module.input_names,
        output_names=list(module.names),
        dynamic_shapes=(dynamic,),
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.save(model, str(path))


def _write_torchscript(
    module: ScoringModule, path: Path, metadata: dict[str, Any]
) -> None:
    # strict=False lets the traced graph return a dict keyed by output name.
    with torch.no_grad():
        traced = torch.jit.trace(module, module.example_inputs(), strict=False)
    extra = {f"{METADATA_KEY}.json": json.dumps(metadata)}
    torch.jit.save(traced, str(path), _extra_files=extra)


_WRITERS = {"onnx": _write_onnx, "torchscript": _write_torchscript}


def _run_onnx(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def _run_torchscript(
    path: Path, inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        outputs = loaded(*(torch.from_numpy(v) for v in inputs.values()))
    return {name: value.numpy() for name, value in outputs.items()}


_RUNNERS = {"onnx": _run_onnx, "torchscript": _run_torchscript}


def _verify(
    run: LoadedRun, module: ScoringModule, frame: pd.DataFrame, path: Path, fmt: str
) -> ExportReport:
    encoded = encode(frame, run.feature_map, run.config, "the verify rows", False)
    groups = {"categorical": encoded.categorical, "dense": encoded.dense}
    inputs = {name: groups[name].numpy() for name in module.input_names}
    expected = predict_scores(run.model, encoded, run.config.train.eval_batch_size)

    # All rows as one batch, then the first row alone: the batch size is free.
    whole = _RUNNERS[fmt](path, inputs)
    single = _RUNNERS[fmt](path, {k: v[:1] for k, v in inputs.items()})
    diffs = {}
    for safe, name in module.names.items():
        if whole[safe].shape != expected[name].shape:
            raise ValueError(
                f"the {fmt} output {safe!r} has shape {whole[safe].shape}, "
                f"expected {expected[name].shape}"
            )
        diff = np.abs(whole[safe] - expected[name]).max(initial=0.0)
        diff = max(diff, np.abs(single[safe] - expected[name][:1]).max(initial=0.0))
        diffs[safe] = float(diff)
    return ExportReport(
        path,
        fmt,
        list(module.input_names),
        dict(module.names),
        len(frame),
        max(diffs.values()),
        diffs,
    )


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read the description stored in an exported ONNX or TorchScript file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file carries no mtlrec description.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported file {str(path)!r} does not exist")
    if path.suffix == ".onnx":
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        text = props.get(METADATA_KEY)
    else:
        files = {f"{METADATA_KEY}.json": ""}
        torch.jit.load(str(path), _extra_files=files)
        text = files[f"{METADATA_KEY}.json"] or None
    if text is None:
        raise ValueError(
            f"{str(path)!r} carries no mtlrec description; export it with "
            "`mtlrec export`"
        )
    return json.loads(text)
