"""M3oE: fusion equations, domain towers, architecture parameters."""

from __future__ import annotations

import pytest
import torch

from helpers import all_parameters_get_finite_gradients, make_batch, make_spec
from mtlrec.config import TaskConfig, TrainConfig
from mtlrec.data import EncodedData
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import M3oE, M3oEConfig, TaskSpec
from mtlrec.models._m3oe import _mix_with_others
from mtlrec.training import Trainer

TASKS = (TaskSpec("click"), TaskSpec("like"))
DOMAINS = ("d1", "d2", "d3")


def _model(seed: int = 0) -> M3oE:
    torch.manual_seed(seed)
    config = M3oEConfig(
        star_units=16, hidden_dim=12, expert_dim=8, num_shared_experts=2, tower_dim=6
    )
    return M3oE(make_spec(TASKS, domains=DOMAINS), config)


def test_mix_with_others_hand_example() -> None:
    outputs = torch.tensor([[[1.0], [2.0], [4.0]]])  # (B=1, M=3, H=1)
    own = torch.tensor([[0, 2]])
    mixed = _mix_with_others(outputs, own, torch.tensor(0.5))
    # own 0: 0.5 * 1 + 0.5 * (2 + 4) / 2 = 2; own 2: 0.5 * 4 + 0.5 * 1.5 = 2.75.
    assert mixed.flatten().tolist() == pytest.approx([2.0, 2.75])


def test_initial_fusion_weights_are_sigmoid_one() -> None:
    weights = _model().fusion_weights()
    assert weights["alpha_d"] == pytest.approx(0.7310586, abs=1e-6)
    assert set(weights) == {"alpha_d", "alpha_t", "beta_d", "beta_t"}


def test_rows_use_their_own_domain_tower() -> None:
    model = _model().eval()
    batch = make_batch(model.spec)
    first = model(batch)["click"]
    batch.domains = (batch.domains + 1) % 3
    moved = model(batch)["click"]
    assert not torch.allclose(first, moved)


def test_gate_weights_are_each_rows_domain_and_task_gate() -> None:
    model = _model().eval()
    assert model.gate_weights() == {}
    batch = make_batch(model.spec)
    model(batch)

    gates = model.gate_weights()

    assert model.gate_experts() == {
        "click": ["shared_0", "shared_1"],
        "like": ["shared_0", "shared_1"],
    }
    # By hand: the gate layer's logits for row b's own domain and task k.
    x = model.inputs.from_batch(batch)
    h = model._represent(x, batch.domains)
    logits = model.gates(h).view(len(h), 3, 2, 2)
    for k, task in enumerate(("click", "like")):
        rows = logits[torch.arange(len(h)), batch.domains, k]  # (B, N)
        assert torch.allclose(gates[task], torch.softmax(rows, dim=-1), atol=1e-6)


def test_gradients_and_missing_domains() -> None:
    model = _model()
    batch = make_batch(model.spec)
    outputs = model(batch)
    assert all_parameters_get_finite_gradients(
        model, sum(v.sum() for v in outputs.values())
    )
    batch.domains = None
    with pytest.raises(ValueError, match="domain column"):
        model(batch)


def test_needs_domains() -> None:
    with pytest.raises(ValueError, match="data.domain_column"):
        M3oE(make_spec(TASKS), M3oEConfig())


def test_main_optimiser_never_updates_fusion_logits(tmp_path) -> None:
    model = _model()
    spec = model.spec
    batch = make_batch(spec, rows=64)
    data = EncodedData(
        batch.categorical, batch.dense, batch.labels, domains=batch.domains
    )
    tasks = [
        TaskConfig(name="click", label="click"),
        TaskConfig(name="like", label="like"),
    ]
    trainer = Trainer(
        model,
        MultiTaskLoss(spec, tasks),
        TrainConfig(epochs=1, batch_size=16, progress_bar=False),
        tmp_path / "w.safetensors",
    )
    main_ids = {
        id(p)
        for optimizer in trainer.optimizer.optimizers
        for g in optimizer.param_groups
        for p in g["params"]
    }
    assert id(model.fusion_logits) not in main_ids
    assert trainer.architecture_optimizer is not None

    # Four main steps and no architecture step leave the logits unchanged.
    before = model.fusion_logits.detach().clone()
    trainer._train_epoch(data, 1, torch.Generator().manual_seed(0))
    assert torch.equal(model.fusion_logits.detach(), before)
    trainer._architecture_step(data, torch.Generator().manual_seed(0))
    assert not torch.equal(model.fusion_logits.detach(), before)
