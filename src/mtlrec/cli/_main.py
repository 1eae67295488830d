"""``mtlrec`` commands: train, evaluate, predict, export, serve, models."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = ["cli", "main"]

logger = logging.getLogger("mtlrec")


class _Context:
    debug: bool = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and DEBUG logs.")
@click.option("--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="mtlrec")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Train, evaluate and use multi-task recommendation models."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    ctx.obj = _Context()
    ctx.obj.debug = debug


def config_arguments(command: Callable[..., Any]) -> Callable[..., Any]:
    """CONFIG, its dotted overrides and --data-dir: shared by train and tune."""
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Base folder of the config's data paths (else $MTLREC_DATA_DIR).",
    )(command)
    command = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")(command)
    return click.argument(
        "config_path", metavar="CONFIG", type=click.Path(dir_okay=False)
    )(command)


@cli.command()
@config_arguments
@click.option(
    "--out",
    "out",
    type=click.Path(),
    default=None,
    help="Run directory (default: the config's output_dir).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a run already in the run directory."
)
def train(
    config_path: str,
    overrides: tuple[str, ...],
    data_dir: str | None,
    out: str | None,
    overwrite: bool,
) -> None:
    """Train the model described by CONFIG (YAML), with dotted overrides."""
    from mtlrec import load_config, train_run

    config = load_config(config_path, overrides)
    run_dir = train_run(config, data_dir=data_dir, out=out, overwrite=overwrite)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    click.echo(_table(metrics["test"], f"test metrics ({run_dir})"))


_precision_option = click.option(
    "--precision",
    type=click.Choice(["float32", "bfloat16"]),
    default=None,
    help="Arithmetic of the model (default: the run's train.eval_precision).",
)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--split",
    type=click.Choice(["train", "valid", "test"]),
    default=None,
    help="Split of the run's own data (default: test).",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=None,
    help="A labelled file to evaluate instead of a split.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Base folder of the run's data (default: the one used in training).",
)
@_precision_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(
    run_dir: str,
    split: str | None,
    data: str | None,
    data_dir: str | None,
    precision: str | None,
    as_json: bool,
) -> None:
    """Print per-task metrics of the run in RUN_DIR."""
    from mtlrec import evaluate_run

    if split is not None and data is not None:
        raise click.UsageError("--split and --data are alternatives; give one")
    split = split or "test"

    metrics = evaluate_run(
        run_dir, split=split, data=data, data_dir=data_dir, precision=precision
    )
    title = f"metrics on {data or 'split ' + split}"
    click.echo(json.dumps(metrics, indent=2) if as_json else _table(metrics, title))


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV or Parquet file with the feature columns.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file, .csv or .parquet: one column per task.",
)
@click.option(
    "--keep",
    "keep",
    multiple=True,
    metavar="COLUMN",
    help="Column of --data to copy into the output before the scores, such as "
    "a user or item id (repeatable).",
)
@_precision_option
def predict(
    run_dir: str, data: str, out: str, keep: tuple[str, ...], precision: str | None
) -> None:
    """Score the rows of a file with the run in RUN_DIR."""
    import pandas as pd

    from mtlrec import load_run, predict
    from mtlrec.data import columns_hint, read_rows_file

    target = Path(out)
    if target.suffix not in (".csv", ".parquet"):
        raise click.UsageError(f"--out must end in .csv or .parquet, got {out!r}")
    if not target.parent.is_dir():
        raise click.UsageError(
            f"--out folder {str(target.parent)!r} does not exist; create it first"
        )
    run = load_run(run_dir)
    frame = read_rows_file(run.config.data, data)
    for column in keep:
        if column in frame.columns:
            continue
        parts = [part.strip() for part in column.split(",")]
        if len(parts) > 1 and all(part in frame.columns for part in parts):
            repeated = " ".join(f"--keep {part}" for part in parts)
            raise click.UsageError(f"give one column per --keep: {repeated}")
        raise click.UsageError(
            f"--keep column {column!r} is not in {data!r}"
            f"{columns_hint(column, frame.columns)}"
        )
    scores = predict(run, frame, precision=precision)
    clashes = [column for column in keep if column in scores.columns]
    if clashes:
        raise click.UsageError(
            f"--keep columns {clashes} share a name with a score column; "
            "rename them in the data file"
        )
    if keep:
        kept = frame[list(dict.fromkeys(keep))].reset_index(drop=True)
        scores = pd.concat([kept, scores.reset_index(drop=True)], axis=1)
    if target.suffix == ".parquet":
        scores.to_parquet(target, index=False)
    else:
        scores.to_csv(target, index=False)
    click.echo(f"wrote {len(scores)} rows x {len(scores.columns)} columns to {out}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "torchscript"]),
    default="onnx",
    show_default=True,
    help="File format of the exported graph.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="File to write.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV or Parquet file (or one in the run's own format) of rows to verify "
    "on (default: the run's test split).",
)
@click.option(
    "--verify-rows",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many rows to compare with the PyTorch model.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=1e-5,
    show_default=True,
    help="Largest absolute difference accepted.",
)
@click.pass_context
def export(
    ctx: click.Context,
    run_dir: str,
    fmt: str,
    out: str,
    data: str | None,
    verify_rows: int,
    tolerance: float,
) -> None:
    """Export the run in RUN_DIR to ONNX or TorchScript, checked on real rows."""
    from mtlrec import load_run
    from mtlrec.data import read_rows_file
    from mtlrec.export import export_run

    if not ctx.obj.debug:
        # The exporters log each graph pass and absent optional packages.
        logging.getLogger("onnx_ir").setLevel(logging.WARNING)
        logging.getLogger("onnxscript").setLevel(logging.WARNING)
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    run = load_run(run_dir)
    frame = read_rows_file(run.config.data, data) if data is not None else None
    report = export_run(run, out, fmt, frame, verify_rows, tolerance)
    outputs = ", ".join(
        f"{k} ({v})" if k != v else k for k, v in report.outputs.items()
    )
    click.echo(f"wrote {report.format} to {report.path}")
    click.echo(f"inputs: {', '.join(report.inputs)}; outputs: {outputs}")
    click.echo(
        f"verified on {report.rows} rows: max abs diff {report.max_abs_diff:.3g}"
    )


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("overrides", nargs=-1, metavar="[serving.KEY=VALUE]...")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; the default serves this machine only.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="PyTorch threads for scoring (default: PyTorch's choice).",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
def serve(
    run_dir: str,
    overrides: tuple[str, ...],
    host: str,
    port: int,
    threads: int | None,
    access_log: bool,
) -> None:
    """Serve the run in RUN_DIR over HTTP (POST /predict, GET /health, /metadata).

    Dotted overrides change the run's serving section for this service only,
    e.g. serving.score.weights.income=2.
    """
    from mtlrec.serving import serve as run_server

    level = logging.getLogger("mtlrec").getEffectiveLevel()
    run_server(
        run_dir,
        host=host,
        port=port,
        threads=threads,
        access_log=access_log,
        log_level=logging.getLevelName(level).lower(),
        overrides=overrides,
    )


@cli.command()
def models() -> None:
    """List the registered models and the paper each follows."""
    from mtlrec.models import list_models

    entries = list_models()
    width = max(len(name) for name in entries)
    for name, cls in entries.items():
        click.echo(f"{name:<{width}}  {cls.summary}  [{cls.paper}]")


def _table(metrics: dict[str, dict[str, Any]], title: str) -> str:
    names = ["auc", "gauc", "logloss", "mse", "mae", "rmse", "xauc", "calibration"]
    names.append("rows")
    used = [n for n in names if any(n in values for values in metrics.values())]
    width = max(len(task) for task in metrics)
    header = "  ".join(f"{n:>{_width(n)}}" for n in used)
    lines = [title, f"{'task':<{width}}  " + header]
    for task, values in metrics.items():
        cells = [_cell(values.get(n), n) for n in used]
        lines.append(f"{task:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _width(name: str) -> int:
    return max(9, len(name))


def _cell(value: Any, name: str) -> str:
    size = _width(name)
    if value is None:
        return f"{'-':>{size}}"
    return f"{int(value):>{size}d}" if name == "rows" else f"{value:>{size}.4f}"


def main() -> None:
    """Entry point: run the CLI; expected errors print one line and exit 2."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # One line, like every other error (Click would add its usage text).
        hint = " (see --help)" if isinstance(exc, click.UsageError) else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except (
        ValueError,
        TypeError,
        KeyError,
        FileNotFoundError,
        FileExistsError,
        NotImplementedError,
        ImportError,
    ) as exc:
        if debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        click.echo(f"error: {message}", err=True)
        sys.exit(2)
