"""Generate the seeded synthetic multi-task data set used by the benchmarks.

The table has 20 categorical columns ``c0..c19`` (int64 ids from 0, Zipf
distributed, vocabulary sizes spread log-uniformly from 2 to 50,000), 8 float32
columns ``n0..n7``, three correlated binary labels ``y0, y1, y2``, a ``click``
label (about 20% positive) with a ``conversion`` label (about 3.5% positive among
clicks and always 0 without a click), and a ``split`` column holding
``train``/``valid``/``test`` in 80/10/10 proportions.

Every label is drawn from a hidden logistic model of the features, so a model
that learns the features beats chance by a clear margin. The labels share a
common latent score, which makes them moderately correlated.

Example:
    python benchmarks/make_data.py --rows 300000 --seed 0 \
        --out benchmarks/results/data/bench_300k.parquet
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUM_CATEGORICAL = 20
NUM_NUMERIC = 8
MIN_VOCAB = 2
MAX_VOCAB = 50_000
ZIPF_EXPONENT = 1.1
CLICK_RATE = 0.20
CONVERSION_RATE_GIVEN_CLICK = 0.035
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
DEFAULT_OUT = Path(__file__).parent / "results" / "data" / "bench_300k.parquet"

# Names of the hidden scores: one shared by all labels, one per label.
_SCORE_NAMES = ("shared", "y0", "y1", "y2", "click", "conversion")


def vocab_sizes(num_columns: int = NUM_CATEGORICAL) -> list[int]:
    """Return vocabulary sizes spread log-uniformly between the two bounds.

    Args:
        num_columns: Number of categorical columns. Defaults to 20.

    Returns:
        One size per column, ascending, from ``MIN_VOCAB`` to ``MAX_VOCAB``.
    """
    sizes = np.geomspace(MIN_VOCAB, MAX_VOCAB, num_columns)
    return [int(round(s)) for s in sizes]


def zipf_ids(rng: np.random.Generator, vocab: int, num_rows: int) -> np.ndarray:
    """Draw ids in ``[0, vocab)`` whose frequency falls off as a Zipf law.

    Args:
        rng: Random generator.
        vocab: Vocabulary size; id 0 is the most frequent.
        num_rows: Number of ids to draw.

    Returns:
        An int64 array of shape ``(num_rows,)``.
    """
    weights = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** ZIPF_EXPONENT
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ids = np.searchsorted(cdf, rng.random(num_rows), side="right")
    return np.minimum(ids, vocab - 1).astype(np.int64)


def make_features(
    rng: np.random.Generator, num_rows: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Draw the categorical and numeric feature columns.

    Args:
        rng: Random generator.
        num_rows: Number of rows.

    Returns:
        ``(categorical, numeric)``: dicts from column name to an int64 or float32
        array of shape ``(num_rows,)``.
    """
    categorical = {
        f"c{i}": zipf_ids(rng, vocab, num_rows) for i, vocab in enumerate(vocab_sizes())
    }

    # Mix symmetric, skewed and bounded columns, like counts and ratios in logs.
    numeric: dict[str, np.ndarray] = {}
    for j in range(NUM_NUMERIC):
        if j % 3 == 0:
            values = rng.normal(0.0, 1.0, num_rows)
        elif j % 3 == 1:
            values = np.log1p(rng.lognormal(0.0, 1.0, num_rows))
        else:
            values = rng.random(num_rows)
        numeric[f"n{j}"] = values.astype(np.float32)
    return categorical, numeric


def hidden_scores(
    rng: np.random.Generator,
    categorical: dict[str, np.ndarray],
    numeric: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Compute the hidden linear scores that drive every label.

    Each categorical id carries a random effect per score, and the numeric
    columns enter through random linear weights. Every score is scaled to unit
    standard deviation.

    Args:
        rng: Random generator.
        categorical: Categorical columns from :func:`make_features`.
        numeric: Numeric columns from :func:`make_features`.

    Returns:
        Dict from each name in ``_SCORE_NAMES`` to a float64 array of shape
        ``(num_rows,)``.
    """
    num_rows = len(next(iter(categorical.values())))
    dense = np.stack(list(numeric.values()), axis=1).astype(np.float64)
    dense = (dense - dense.mean(axis=0)) / dense.std(axis=0)

    scores = {}
    for name in _SCORE_NAMES:
        total = dense @ rng.normal(0.0, 0.5, NUM_NUMERIC)
        for ids in categorical.values():
            effects = rng.normal(0.0, 1.0, int(ids.max()) + 1)
            total += effects[ids]
        total += 0.3 * np.sin(3.0 * dense[:, 0]) * rng.normal(0.0, 1.0, num_rows)
        scores[name] = (total - total.mean()) / total.std()
    return scores


def calibrated_bernoulli(
    rng: np.random.Generator, logits: np.ndarray, target_rate: float
) -> np.ndarray:
    """Draw binary labels whose expected positive rate equals ``target_rate``.

    The intercept is found by bisection so that the mean of
    ``sigmoid(logits + intercept)`` matches the target.

    Args:
        rng: Random generator.
        logits: Logits before the intercept, shape ``(N,)``.
        target_rate: Wanted positive rate in ``(0, 1)``.

    Returns:
        An int64 array of 0/1 labels, shape ``(N,)``.
    """
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        rate = np.mean(1.0 / (1.0 + np.exp(-(logits + mid))))
        low, high = (mid, high) if rate < target_rate else (low, mid)
    probs = 1.0 / (1.0 + np.exp(-(logits + 0.5 * (low + high))))
    return (rng.random(len(logits)) < probs).astype(np.int64)


def make_labels(
    rng: np.random.Generator, scores: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Draw all label columns from the hidden scores.

    Args:
        rng: Random generator.
        scores: Hidden scores from :func:`hidden_scores`.

    Returns:
        Dict from label name to an int64 0/1 array.
    """
    shared = scores["shared"]
    labels = {}

    # Most of the signal is shared, so the labels correlate moderately, and the
    # logit scale keeps the best reachable AUC around 0.85.
    for name, rate in (("y0", 0.30), ("y1", 0.15), ("y2", 0.45)):
        logits = 2.0 * (0.8 * shared + 0.6 * scores[name])
        labels[name] = calibrated_bernoulli(rng, logits, rate)

    click_logits = 2.0 * (0.8 * shared + 0.6 * scores["click"])
    labels["click"] = calibrated_bernoulli(rng, click_logits, CLICK_RATE)

    # Conversion is only possible after a click; its rate is set among clicks.
    clicked = labels["click"] == 1
    cv_logits = 2.0 * (
        0.5 * shared + 0.4 * scores["click"] + 0.75 * scores["conversion"]
    )
    conversion = np.zeros_like(labels["click"])
    conversion[clicked] = calibrated_bernoulli(
        rng, cv_logits[clicked], CONVERSION_RATE_GIVEN_CLICK
    )
    labels["conversion"] = conversion
    return labels


def make_split(rng: np.random.Generator, num_rows: int) -> np.ndarray:
    """Assign rows to train/valid/test in exact 80/10/10 proportions.

    Args:
        rng: Random generator.
        num_rows: Number of rows.

    Returns:
        A string array of shape ``(num_rows,)``.
    """
    counts = [int(round(f * num_rows)) for f in SPLIT_FRACTIONS.values()]
    counts[0] = num_rows - sum(counts[1:])
    split = np.repeat(np.array(list(SPLIT_FRACTIONS), dtype=object), counts)
    return split[rng.permutation(num_rows)]


def make_table(num_rows: int, seed: int) -> pa.Table:
    """Build the whole benchmark table in memory.

    Args:
        num_rows: Number of rows.
        seed: Seed of the random generator; equal seeds give equal tables.

    Returns:
        The Arrow table with features, labels and the split column.

    Raises:
        ValueError: If ``num_rows`` is below 10.
    """
    if num_rows < 10:
        raise ValueError(f"num_rows must be at least 10, got {num_rows!r}")
    rng = np.random.default_rng(seed)

    categorical, numeric = make_features(rng, num_rows)
    labels = make_labels(rng, hidden_scores(rng, categorical, numeric))
    split = make_split(rng, num_rows)

    columns = {**categorical, **numeric, **labels}
    arrays = {name: pa.array(values) for name, values in columns.items()}
    arrays["split"] = pa.array(split, type=pa.string())
    return pa.table(arrays)


def summarize(table: pa.Table) -> dict[str, float | str]:
    """Return the label rates and label correlations of a table.

    Args:
        table: Table from :func:`make_table`.

    Returns:
        Dict of summary statistics, ready to print as JSON.
    """
    names = ["y0", "y1", "y2", "click", "conversion"]
    values = {n: table.column(n).to_numpy().astype(np.float64) for n in names}
    click = values["click"] == 1
    corr = np.corrcoef(np.stack([values["y0"], values["y1"], values["y2"]]))
    return {
        "rows": table.num_rows,
        **{f"rate_{n}": round(float(v.mean()), 4) for n, v in values.items()},
        "rate_conversion_given_click": round(
            float(values["conversion"][click].mean()), 4
        ),
        "corr_y0_y1": round(float(corr[0, 1]), 3),
        "corr_y0_y2": round(float(corr[0, 2]), 3),
        "corr_y1_y2": round(float(corr[1, 2]), 3),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, build the table and write it as Parquet.

    Args:
        argv: Command-line arguments; ``None`` reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="row count")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    table = make_table(args.rows, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out)

    stats = summarize(table)
    stats["seconds"] = round(time.perf_counter() - start, 2)
    stats["out"] = str(args.out)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
