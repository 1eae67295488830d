"""Tiny specs and batches shared by the tests (B=4, F=3, D=8)."""

from __future__ import annotations

import torch

from mtlrec.data import Batch
from mtlrec.layers import InputSpec
from mtlrec.models import ModelSpec, TaskSpec

B, F, D = 4, 3, 8
VOCAB = (5, 6, 7)


def make_spec(
    tasks: tuple[TaskSpec, ...],
    domains: tuple[str, ...] = (),
    context: tuple[int, ...] = (),
    sequence: tuple[int, ...] = (),
    length: int = 0,
) -> ModelSpec:
    """A ModelSpec with F=3 fields of width D=8 and two dense columns."""
    inputs = InputSpec(
        VOCAB,
        D,
        2,
        context_vocab_sizes=context,
        sequence_vocab_sizes=sequence,
        sequence_length=length,
    )
    return ModelSpec(inputs, tasks, domains)


def funnel_tasks(names: tuple[str, ...]) -> tuple[TaskSpec, ...]:
    """Binary tasks where each has the previous one as parent."""
    return tuple(
        TaskSpec(n, "binary", names[i - 1] if i else None) for i, n in enumerate(names)
    )


def make_batch(
    spec: ModelSpec, seed: int = 0, rows: int = B, labels: bool = True
) -> Batch:
    """A random batch matching ``spec`` (funnel-consistent labels)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.stack(
        [torch.randint(0, v, (rows,), generator=gen) for v in spec.inputs.vocab_sizes],
        dim=1,
    )
    dense = torch.randn(rows, spec.inputs.num_dense, generator=gen)
    y = torch.randint(0, 2, (rows, spec.num_tasks), generator=gen).float()
    y = torch.cummin(y, dim=1).values if labels else y
    batch = Batch(ids, dense, y if labels else None)
    if spec.domains:
        batch.domains = torch.arange(rows) % spec.num_domains
    if spec.inputs.context_vocab_sizes:
        batch.context = torch.stack(
            [
                torch.randint(1, v, (rows,), generator=gen)
                for v in spec.inputs.context_vocab_sizes
            ],
            dim=1,
        )
    if spec.inputs.has_sequence:
        length = spec.inputs.sequence_length
        batch.history = torch.stack(
            [
                torch.randint(1, v, (rows, length), generator=gen)
                for v in spec.inputs.sequence_vocab_sizes
            ],
            dim=2,
        )
        batch.history_lengths = torch.arange(rows) % (length + 1)
        mask = torch.arange(length) < batch.history_lengths.unsqueeze(1)
        batch.history = batch.history * mask.unsqueeze(-1)
    return batch


def all_parameters_get_finite_gradients(
    model: torch.nn.Module, loss: torch.Tensor
) -> bool:
    """Backpropagate ``loss``; True if every trainable parameter has a finite grad."""
    loss.backward()
    return all(
        p.grad is not None and torch.isfinite(p.grad).all()
        for p in model.parameters()
        if p.requires_grad
    )
