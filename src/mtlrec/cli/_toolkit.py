"""``mtlrec`` commands around finished runs: report, compare, tune."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import yaml

from mtlrec.cli._main import cli, config_arguments

__all__ = ["compare", "report", "tune"]


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir: str) -> None:
    """Write plots and a Markdown summary of RUN_DIR into RUN_DIR/report/."""
    from mtlrec.reporting import write_report

    path = write_report(run_dir)
    click.echo(f"wrote {path} and {len(list(path.parent.glob('*.png')))} plots")


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--split",
    type=click.Choice(["valid", "test"]),
    default="test",
    show_default=True,
    help="Split whose metrics are compared.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default="compare.png",
    show_default=True,
    help="Bar chart to write (PNG).",
)
def compare(run_dirs: tuple[str, ...], split: str, out: str) -> None:
    """Print one table comparing RUN_DIRS and write a bar chart."""
    from mtlrec.reporting import compare_runs, plot_comparison

    table = compare_runs(run_dirs, split=split)
    click.echo(table.to_string(float_format=lambda v: f"{v:.4f}"))
    click.echo(f"wrote {plot_comparison(table, out)}")


@cli.command()
@config_arguments
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the trial runs and best_config.yaml (default: <output_dir>-tune).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed.")
def tune(
    config_path: str,
    overrides: tuple[str, ...],
    trials: int,
    data_dir: str | None,
    out: str | None,
    seed: int,
) -> None:
    """Search the ranges in CONFIG's tune section on the validation objective."""
    from mtlrec.config import load_config
    from mtlrec.tuning import tune as run_tune

    config = load_config(config_path, overrides)
    try:
        import optuna

        debug = logging.getLogger("mtlrec").isEnabledFor(logging.DEBUG)
        optuna.logging.set_verbosity(logging.INFO if debug else logging.WARNING)
    except ImportError:
        pass  # run_tune names the missing package
    document = yaml.safe_load(Path(config_path).read_text())
    folder = out or f"{config.output_dir}-tune"
    result = run_tune(document, trials, folder, data_dir, overrides, seed)
    click.echo(f"best valid objective {result.best_objective:.6f} with:")
    for key, value in result.best_params.items():
        click.echo(f"  {key} = {value!r}")
    click.echo(f"wrote {result.best_config_path}")
