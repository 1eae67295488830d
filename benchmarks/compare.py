"""Run the mtlrec cases and print one table beside the peers' results.

Runs ``run_mtlrec.py`` for every model in four settings, interleaved over
the repeats and keeping the best throughput of each: ``float32`` (the
defaults), ``bfloat16`` (bfloat16 training and prediction), ``fast``
(``bfloat16`` with ``train.sparse_embeddings=true``) and ``fast+bn``
(``fast`` with ``model.batch_norm=true``, as torch-rechub's MLPs). Repeat
``r`` (from 0) trains with seed ``--seed + r``, as the peers' driver does,
and each task's test AUC is the mean over the seeds.
Then reads ``results/peers.json`` (written by ``peers/run_all.py``) and
``results/ceiling.json`` (``ceiling.py``) and prints, per model: train and
predict rows/s, peak RSS, data preparation time and test AUC of each
library; each mtlrec figure against the best peer figure (rows/s as a ratio
to the higher, RSS and preparation time as a ratio to the lower, AUC as the
difference to the higher per task); and the share of the machine's
matrix-product ceiling that training reached.

Example:
    python benchmarks/compare.py --repeats 3 --nice -20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
from run_all import raise_priority, seed_auc  # noqa: E402  (the peers' driver)

RESULTS = HERE / "results"
MODELS = ("shared_bottom", "mmoe", "ple", "esmm", "aitm")
BFLOAT16 = ["train.precision=bfloat16", "train.eval_precision=bfloat16"]
FAST = ["train.sparse_embeddings=true", *BFLOAT16]
SETTINGS = {
    "float32": [],
    "bfloat16": BFLOAT16,  # dense Adam on the embedding table
    "fast": FAST,
    "fast+bn": [*FAST, "model.batch_norm=true"],
}


def run_case(model: str, setting: str, repeat: int, args: argparse.Namespace) -> dict:
    """One mtlrec case in a fresh process (at the requested priority).

    The run's seed is ``args.seed + repeat``.
    """
    name = setting.replace("+", "_")
    out = RESULTS / "mtlrec" / f"{model}_{name}_r{repeat}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(HERE / "run_mtlrec.py"),
        "--model",
        model,
        "--data",
        str(args.data),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed + repeat),
        "--json-out",
        str(out),
        *SETTINGS[setting],
    ]
    # Same priority handling as the peers' runs (own session, raised nice).
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, start_new_session=bool(args.nice)
    )
    if args.nice:
        raise_priority(proc.pid, args.nice)
    if proc.wait() != 0:
        raise RuntimeError(f"mtlrec case failed: {' '.join(command)}")
    result = json.loads(out.read_text())
    result["seed"] = args.seed + repeat
    return result


def best(runs: list[dict]) -> dict:
    """Best-of-N summary: top throughputs, lowest prep time, highest RSS.

    Each task's AUC is the mean over the runs' seeds; ``auc_over_seeds``
    keeps the mean, lowest and highest per task, as the peers' driver does.
    """
    over_seeds = seed_auc(runs)
    return {
        "train_rows_per_s": max(r["train_rows_per_s"] for r in runs),
        "predict_rows_per_s": max(r["predict_rows_per_s"] for r in runs),
        "data_prep_s": min(r["data_prep_s"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "auc": {task: v["mean"] for task, v in over_seeds.items()},
        "auc_over_seeds": over_seeds,
        "runs": len(runs),
    }


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Run every (model, setting) ``repeats`` times, interleaved."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for repeat in range(args.repeats):
        for model in args.models:
            for setting in SETTINGS:
                runs.setdefault((model, setting), []).append(
                    run_case(model, setting, repeat, args)
                )
    summary: dict[str, dict[str, Any]] = {}
    for (model, setting), found in runs.items():
        summary.setdefault(model, {})[setting] = best(found)
    return summary


def table(mine: dict, peers: list[dict], ceiling: dict) -> str:
    """The Markdown comparison table."""
    by_case = {(p["lib"], p["model"]): p for p in peers if p.get("status") == "ok"}
    gflops = ceiling["matmul_gflops"]
    lines = [
        "| model | library | train rows/s | × best peer | predict rows/s "
        "| × best peer | peak RSS MiB | × lower peer | prep s | × lower peer "
        "| test AUC | − better peer | share of ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        if model not in mine:
            continue
        peer_rows = [
            by_case[(lib, model)]
            for lib in ("torch_rechub", "deepctr_torch")
            if (lib, model) in by_case
        ]
        best = {
            "train_rows_per_s": max(p["train_rows_per_s"] for p in peer_rows),
            "predict_rows_per_s": max(p["predict_rows_per_s"] for p in peer_rows),
            "peak_rss_mib": min(p["peak_rss_mib"] for p in peer_rows),
            "data_prep_s": min(p["data_prep_s"] for p in peer_rows),
            "auc": {
                task: max(p["auc"][task] for p in peer_rows)
                for task in peer_rows[0]["auc"]
            },
        }
        flops = ceiling["train_flops_per_row"].get(model)
        for p in peer_rows:
            lines.append(_row(model, p["lib"], p, best, None, ratio=False))
        for setting, result in mine[model].items():
            peak = gflops["float32" if setting == "float32" else "bfloat16"]
            share = result["train_rows_per_s"] * flops / (peak * 1e9) if flops else None
            lines.append(_row(model, f"mtlrec {setting}", result, best, share, True))
    return "\n".join(lines)


def auc_table(mine: dict, peers: list[dict]) -> str:
    """Test AUC per task over seeds: mean, lowest and highest, per library."""
    lines = [
        "| model | library | seeds | test AUC mean (lowest-highest) per task |",
        "|---|---|---|---|",
    ]
    cases = [(p["model"], p["lib"], p) for p in peers if p.get("status") == "ok"]
    cases += [(m, f"mtlrec {s}", r) for m, by in mine.items() for s, r in by.items()]
    for model in MODELS:
        for name, lib, result in cases:
            if name != model or "auc_over_seeds" not in result:
                continue
            over = result["auc_over_seeds"]
            seeds = max(v["seeds"] for v in over.values())
            cells = ", ".join(
                f"{task} {v['mean']:.4f} ({v['min']:.4f}-{v['max']:.4f})"
                for task, v in over.items()
            )
            lines.append(f"| {model} | {lib} | {seeds} | {cells} |")
    return "\n".join(lines)


def _row(model, lib, r, best, share, ratio) -> str:
    """One table row; with ``ratio``, each figure against the best peer figure."""

    def times(key: str) -> str:
        return f"{r[key] / best[key]:.2f}" if ratio else ""

    auc = ", ".join(f"{k} {v:.4f}" for k, v in r["auc"].items())
    delta = ""
    if ratio:
        delta = ", ".join(
            f"{k} {v - best['auc'][k]:+.4f}"
            for k, v in r["auc"].items()
            if k in best["auc"]
        )
    return (
        f"| {model} | {lib} "
        f"| {r['train_rows_per_s']:,.0f} | {times('train_rows_per_s')} "
        f"| {r['predict_rows_per_s']:,.0f} | {times('predict_rows_per_s')} "
        f"| {r['peak_rss_mib']:.0f} | {times('peak_rss_mib')} "
        f"| {r['data_prep_s']:.2f} | {times('data_prep_s')} | {auc} | {delta} "
        f"| {'' if share is None else f'{share:.0%}'} |"
    )


def main() -> None:
    """Measure mtlrec, then print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=RESULTS / "data" / "bench_300k.parquet"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first repeat (default 0)"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="print from results/mtlrec.json without running",
    )
    args = parser.parse_args()
    summary_path = RESULTS / "mtlrec.json"
    if args.reuse:
        mine = json.loads(summary_path.read_text())
    else:
        mine = measure(args)
        summary_path.write_text(json.dumps(mine, indent=2))
    peers = json.loads((RESULTS / "peers.json").read_text())["results"]
    ceiling = json.loads((RESULTS / "ceiling.json").read_text())
    print(f"matrix-product ceiling: {ceiling['matmul_gflops']} GFLOP/s")
    print(table(mine, peers, ceiling))
    print()
    print(auc_table(mine, peers))


if __name__ == "__main__":
    main()
