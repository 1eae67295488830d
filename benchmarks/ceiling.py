"""Measure this machine's matrix-product ceiling and each model's FLOPs per row.

The ceiling is the best of several timed ``(1024, 328) x (328, 2048)`` products
(the first expert layer of the benchmark's MMoE: batch 1024, 20 fields x 16 +
8 dense inputs, 8 experts x 256 units) in float32 and bfloat16. FLOPs per
training row are counted with ``torch.utils.flop_counter.FlopCounterMode`` on
one forward and backward pass of each benchmark model, so the achieved share of
the ceiling is ``train rows/s x FLOPs per row / ceiling``.

Example:
    python benchmarks/ceiling.py --threads 2 --json-out benchmarks/results/ceiling.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from run_mtlrec import MODEL_SETTINGS  # same folder: the benchmark's sizes
from torch.utils.flop_counter import FlopCounterMode

from mtlrec.config import TaskConfig
from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import ModelSpec, TaskSpec, get_model_class

NUM_FIELDS, NUM_DENSE, DIM, BATCH = 20, 8, 16, 1024
SETTINGS = MODEL_SETTINGS  # the benchmark's model sizes


def matmul_gflops(dtype: torch.dtype, repeats: int = 50) -> float:
    """Best GFLOP/s of the expert-shaped product in ``dtype``."""
    a = torch.randn(BATCH, NUM_FIELDS * DIM + NUM_DENSE, dtype=dtype)
    b = torch.randn(a.shape[1], 8 * 256, dtype=dtype)
    flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def flops_per_row(name: str) -> float | None:
    """FLOPs of one training step (forward + backward) divided by the batch."""
    try:
        cls = get_model_class(name)
    except KeyError:
        return None
    chain = name in ("esmm", "aitm")
    names = ["click", "conversion"] if chain else ["y0", "y1", "y2"]
    tasks = [
        TaskConfig(name=n, label=n, parent=names[i - 1] if chain and i else None)
        for i, n in enumerate(names)
    ]
    vocab = tuple([1000] * NUM_FIELDS)
    spec = ModelSpec(
        InputSpec(vocab, DIM, NUM_DENSE),
        tuple(TaskSpec(t.name, "binary", t.parent) for t in tasks),
    )
    model = cls(spec, cls.config_class.model_validate({"name": name, **SETTINGS[name]}))
    loss = MultiTaskLoss(spec, tasks, model.output_space, model.child_loss_space)
    batch = Batch(
        torch.randint(0, 1000, (BATCH, NUM_FIELDS)),
        torch.randn(BATCH, NUM_DENSE),
        torch.randint(0, 2, (BATCH, len(tasks))).float(),
    )
    counter = FlopCounterMode(display=False)
    with counter:
        total, _ = loss(model(batch), batch.labels)
        total.backward()
    return counter.get_total_flops() / BATCH


def main() -> None:
    """Measure and print the ceiling and FLOPs per row as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {
        "threads": args.threads,
        "matmul_gflops": {
            "float32": round(matmul_gflops(torch.float32), 1),
            "bfloat16": round(matmul_gflops(torch.bfloat16), 1),
        },
        "train_flops_per_row": {m: flops_per_row(m) for m in SETTINGS},
    }
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
