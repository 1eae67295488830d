"""The benchmark drivers' summaries: best-of-N timings, AUC averaged over seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))
import run_all  # noqa: E402  (a script directory, not a package)


def _run(seed, train, auc, contended=False, repeat=1):
    return {
        "lib": "torch_rechub",
        "model": "mmoe",
        "status": "ok",
        "seed": seed,
        "repeat": repeat,
        "contended": contended,
        "lib_version": "0.9.0",
        "tasks": ["y0", "y1"],
        "train_rows_per_s": train,
        "predict_rows_per_s": 10 * train,
        "data_prep_s": 1.0 / train,
        "peak_rss_mib": train / 10,
        "auc": auc,
        "num_params": 1,
        "background_cpu_share": 0.5 if contended else 0.0,
        "notes": [],
    }


def test_seed_auc_averages_each_seed_once():
    runs = [
        _run(0, 100, {"y0": 0.80, "y1": 0.70}),
        _run(1, 120, {"y0": 0.84, "y1": 0.71}),
        _run(1, 130, {"y0": 0.99, "y1": 0.99}),  # a retry of seed 1
        _run(2, 110, {"y0": 0.82, "y1": 0.75}),
    ]

    over = run_all.seed_auc(runs)

    assert over["y0"]["mean"] == pytest.approx((0.80 + 0.84 + 0.82) / 3)
    assert over["y1"]["mean"] == pytest.approx((0.70 + 0.71 + 0.75) / 3)
    assert (over["y0"]["min"], over["y0"]["max"]) == (0.80, 0.84)
    assert over["y1"]["seeds"] == 3


def test_summary_takes_best_timings_and_mean_auc_of_every_seed():
    runs = [
        _run(0, 100, {"y0": 0.80, "y1": 0.70}),
        _run(1, 300, {"y0": 0.90, "y1": 0.72}, contended=True),
        _run(2, 200, {"y0": 0.85, "y1": 0.74}),
    ]

    summary = run_all.summarize(runs)

    # Timings from clean runs only; the contended run is left out of them...
    assert summary["train_rows_per_s"] == 200
    assert summary["predict_rows_per_s"] == 2000
    assert summary["peak_rss_mib"] == 20
    # ...but its AUC counts: contention changes timings, not results.
    assert summary["auc"]["y0"] == pytest.approx((0.80 + 0.90 + 0.85) / 3)
    assert summary["auc_over_seeds"]["y1"]["max"] == 0.74


def test_peer_command_passes_the_seed(tmp_path):
    args = run_all.parse_args(["--python", sys.executable, "--data", "d.parquet"])

    command = run_all.peer_command(args, "deepctr_torch", "ple", 2, tmp_path / "o")

    assert command[command.index("--seed") + 1] == "2"
    assert command[command.index("--model") + 1] == "ple"
