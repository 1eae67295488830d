"""Time one benchmark model's training step and break it down operator by operator.

Builds a case exactly as ``run_mtlrec.py`` does (same data, sizes and config
overrides), runs ``--warmup`` training steps, then:

1. times ``--steps`` steps as they run in training (``Trainer.train_step``,
   forward, backward and optimiser updates), and each optimiser's share;
2. runs the same number of steps again under a dispatch mode that times every
   ATen operator call, forward and backward alike, and prints the operators
   (with their input shapes) that cost most, and how the step splits between
   matrix products and everything else.

With ``--predict``, the same for prediction instead: ``predict_scores`` over
the test split (its median time of ``--steps`` calls), then the operators of
one call.

The operator timings come from ``time.perf_counter`` around each call on the
CPU, where every call finishes before it returns. ``torch.profiler`` is not
used: on this 2-core machine its own work between operators let the worker
threads fall asleep and inflated the short operators after each product
several-fold (the first layer's ReLU showed 5 ms, against 0.25 ms timed
directly).

Example:
    python benchmarks/step_profile.py --model mmoe train.sparse_embeddings=true \
        train.precision=bfloat16
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path
from statistics import median
from typing import Any

import torch
from run_mtlrec import MODELS, run_config  # same folder: the benchmark's cases
from torch.utils._python_dispatch import TorchDispatchMode

from mtlrec.config import parse_config
from mtlrec.data import EncodedData, iterate_batches, load_splits
from mtlrec.features import FeatureMap
from mtlrec.losses import MultiTaskLoss
from mtlrec.training import (
    Trainer,
    build_model,
    encode,
    predict_scores,
    tune_allocator,
)

PRODUCTS = {"mm", "addmm", "bmm", "baddbmm"}
HERE = Path(__file__).resolve().parent


class OperatorTimer(TorchDispatchMode):
    """Wall time and call count of every ATen operator, by name and input shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: Counter[tuple[str, str]] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        key = (func.overloadpacket.__name__, _shapes(args))
        self.seconds[key] += time.perf_counter() - start
        self.calls[key] += 1
        return out


def _shapes(args: Any) -> str:
    """``8x256x128 bf16`` per tensor argument; ``T`` marks a non-contiguous one.

    A list of tensors (``cat``, ``stack``) shows as ``3 * <its first tensor>``.
    """
    parts = []
    for arg in args:
        if isinstance(arg, (list, tuple)) and arg and isinstance(arg[0], torch.Tensor):
            parts.append(f"{len(arg)} * {_shapes(arg[:1])}")
        elif isinstance(arg, torch.Tensor):
            dims = "x".join(map(str, arg.shape)) or "scalar"
            layout = "" if arg.is_sparse or arg.is_contiguous() else "T"
            parts.append(f"{dims}{layout} {str(arg.dtype).removeprefix('torch.')}")
    return ", ".join(parts)


def build(args: argparse.Namespace) -> tuple[Trainer, list[Any], EncodedData]:
    """The case's trainer, ``warmup + steps`` training batches and test split."""
    torch.set_num_threads(args.threads)
    tune_allocator()
    config = parse_config(run_config(args.model, args.data, args), args.overrides)
    frames = load_splits(config.data)
    reserved = {t.label for t in config.tasks} | {"split"}
    feature_map = FeatureMap.fit(frames["train"], config.features, reserved)
    train = encode(frames["train"], feature_map, config, "train")
    test = encode(frames["test"], feature_map, config, "test")
    del frames
    torch.manual_seed(args.seed)
    model = build_model(config, feature_map)
    loss = MultiTaskLoss(
        model.spec, config.tasks, model.output_space, model.child_loss_space
    )
    trainer = Trainer(model, loss, config.train, args.scratch / "weights.safetensors")
    generator = torch.Generator().manual_seed(args.seed)
    batches = []
    for batch in iterate_batches(train, 1024, shuffle=True, generator=generator):
        batches.append(batch)
        if len(batches) == args.warmup + args.steps:
            break
    model.train()
    return trainer, batches, test


def timed_optimizers(trainer: Trainer) -> dict[str, list[float]]:
    """Wrap each optimiser's ``step`` to record its seconds, by class name."""
    found = getattr(trainer.optimizer, "optimizers", [trainer.optimizer])
    seconds: dict[str, list[float]] = defaultdict(list)
    for optimizer in found:
        step = optimizer.step

        def timed(*a: Any, _step: Any = step, _name: str = type(optimizer).__name__):
            start = time.perf_counter()
            out = _step(*a)
            seconds[_name].append(time.perf_counter() - start)
            return out

        optimizer.step = timed  # type: ignore[method-assign]
    return seconds


def profile_steps(trainer: Trainer, measured: list[Any]) -> tuple[OperatorTimer, int]:
    """Print the steps' median time and optimiser shares; time their operators."""
    optimizer_seconds = timed_optimizers(trainer)
    steps = []
    for batch in measured:
        start = time.perf_counter()
        trainer.train_step(batch)
        steps.append(time.perf_counter() - start)
    step_ms = median(steps) * 1e3
    print(f"step: median {step_ms:.2f} ms ({1024 / step_ms * 1e3:,.0f} rows/s)")
    for name, found in optimizer_seconds.items():
        print(f"  {name}.step: median {median(found) * 1e3:.2f} ms")
    timer = OperatorTimer()
    with timer:
        for batch in measured:
            trainer.train_step(batch)
    return timer, len(measured)


def profile_predict(
    trainer: Trainer, test: EncodedData, calls: int
) -> tuple[OperatorTimer, int]:
    """Print the median time of predicting ``test``; time one call's operators."""
    train = trainer.config

    def predict() -> None:
        predict_scores(trainer.model, test, train.eval_batch_size, train.eval_precision)

    predict()  # warm-up
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        predict()
        seconds.append(time.perf_counter() - start)
    call_ms = median(seconds) * 1e3
    rows_per_s = len(test) / call_ms * 1e3
    print(
        f"predict {len(test):,} rows: median {call_ms:.2f} ms "
        f"({rows_per_s:,.0f} rows/s)"
    )
    timer = OperatorTimer()
    with timer:
        predict()
    return timer, 1


def main() -> None:
    """Parse the command line, time the steps, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="mmoe")
    parser.add_argument(
        "--data", type=Path, default=HERE / "results" / "data" / "bench_300k.parquet"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp"))
    parser.add_argument(
        "--predict", action="store_true", help="profile prediction, not training"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE")
    args = parser.parse_args()
    trainer, batches, test = build(args)
    warmup, measured = batches[: args.warmup], batches[args.warmup :]
    for batch in warmup:
        trainer.train_step(batch)
    print(f"{args.model} {' '.join(args.overrides)}")
    if args.predict:
        timer, runs = profile_predict(trainer, test, args.steps)
        unit = "call"
    else:
        timer, runs = profile_steps(trainer, measured)
        unit = "step"
    per_step = {k: v / runs * 1e3 for k, v in timer.seconds.items()}
    products = sum(v for (op, _), v in per_step.items() if op in PRODUCTS)
    total = sum(per_step.values())
    calls = sum(timer.calls.values()) / runs
    print(
        f"operators per {unit}: {calls:.0f} calls, {total:.2f} ms; matrix products "
        f"{products:.2f} ms, the rest {total - products:.2f} ms"
    )
    print(f"| ms per {unit} | calls | operator | inputs |")
    print("|---:|---:|---|---|")
    for (op, shapes), ms in sorted(per_step.items(), key=lambda kv: -kv[1])[: args.top]:
        count = timer.calls[op, shapes] // runs
        print(f"| {ms:.3f} | {count} | {op} | {shapes} |")


if __name__ == "__main__":
    main()
