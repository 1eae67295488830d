"""CPU time per training step of each loss balancer on the census MMoE.

Builds the census MMoE once, then for each balancer runs ``--steps`` steps on
the same training batches and reports CPU seconds per step (process time, so
other load on the machine matters less than for wall time). Usage::

    python benchmarks/balancer_step_cost.py --data-dir /path/to/data
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from pydantic import TypeAdapter

import mtlrec
from mtlrec.config import BalancerConfig
from mtlrec.data import iterate_batches, load_splits
from mtlrec.features import FeatureMap
from mtlrec.losses import MultiTaskLoss
from mtlrec.training import Trainer, build_model, encode

BALANCERS = ["fixed", "uncertainty", "dwa", "gradnorm", "pcgrad"]


def main() -> None:
    """Time each balancer's steps and print CPU ms per step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/census_income/mmoe.yaml")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    config = mtlrec.load_config(args.config, ["train.progress_bar=false"])
    frames = load_splits(config.data, args.data_dir)
    reserved = {t.label for t in config.tasks}
    feature_map = FeatureMap.fit(frames["train"], config.features, reserved)
    data = encode(frames["train"], feature_map, config, "train")
    batches = list(iterate_batches(data, args.batch_size))[: args.steps]
    torch.set_num_threads(1)  # one thread: CPU time is not inflated by spinning
    torch.manual_seed(0)
    base = build_model(config, feature_map)
    baseline = None
    for name in BALANCERS:
        model = copy.deepcopy(base)
        balancer = TypeAdapter(BalancerConfig).validate_python({"name": name})
        train_config = config.train.model_copy(update={"balancer": balancer})
        loss = MultiTaskLoss(model.spec, config.tasks)
        trainer = Trainer(model, loss, train_config, "/tmp/unused.safetensors")
        started = time.process_time()
        for batch in batches:
            per_task = loss.per_task(model(batch), batch.labels)
            trainer.optimizer.zero_grad(set_to_none=True)
            trainer.balancer.backward(per_task)
            trainer.optimizer.step()
        per_step = (time.process_time() - started) / len(batches) * 1000
        baseline = baseline or per_step
        print(f"{name:<12} {per_step:7.1f} CPU ms/step  x{per_step / baseline:.2f}")


if __name__ == "__main__":
    main()
