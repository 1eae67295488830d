"""Training time and peak memory of mtlrec as the row count grows.

For each size, generates the benchmark data with ``make_data.py`` (same
generator and seed as the 300k table), then runs one Shared-Bottom epoch with
``run_mtlrec.py`` in a fresh process and records data preparation time, train
time and the process's peak resident memory.

Example:
    python benchmarks/scaling.py --rows 100000 300000 1000000 3000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(rows: int, model: str, threads: int, overrides: list[str]) -> dict:
    """Generate ``rows`` rows if needed and measure one case on them."""
    data = HERE / "results" / "data" / f"bench_{rows}.parquet"
    if not data.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_data.py"),
                "--rows",
                str(rows),
                "--out",
                str(data),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    out = HERE / "results" / "scaling" / f"{model}_{rows}.json"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "run_mtlrec.py"),
            "--model",
            model,
            "--data",
            str(data),
            "--threads",
            str(threads),
            "--json-out",
            str(out),
            *overrides,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result = json.loads(out.read_text())
    result["data_mib"] = round(data.stat().st_size / 2**20, 1)
    return result


def main() -> None:
    """Measure every size and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 300_000, 1_000_000, 3_000_000]
    )
    parser.add_argument("--model", default="shared_bottom")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    print(
        "| rows | train rows | data prep s | train s | train s per 100k rows "
        "| peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|")
    for rows in args.rows:
        r = run(rows, args.model, args.threads, args.overrides)
        train_rows = r["rows"]["train"]
        print(
            f"| {rows:,} | {train_rows:,} | {r['data_prep_s']:.1f} "
            f"| {r['train_s']:.1f} | {r['train_s'] / train_rows * 1e5:.2f} "
            f"| {r['peak_rss_mib']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
