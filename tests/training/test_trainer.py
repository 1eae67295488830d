"""Tests of the Trainer: selection on the objective, early stop, restore."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mtlrec.config import OptimizerConfig, TaskConfig, TrainConfig
from mtlrec.data import EncodedData, iterate_batches
from mtlrec.layers import InputSpec
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import MMoE, MMoEConfig, ModelSpec, TaskSpec
from mtlrec.training import Trainer, _trainer, build_optimizer, load_weights

TASKS = [
    TaskConfig(name="click", label="click"),
    TaskConfig(name="rating", label="rating", type="regression"),
]


def setup(num_rows=64, seed=0, sparse=False, max_id=4):
    torch.manual_seed(seed)
    spec = ModelSpec(
        InputSpec((4,), 8, 2, sparse_gradients=sparse),
        tuple(TaskSpec(t.name, t.type) for t in TASKS),
    )
    model = MMoE(spec, MMoEConfig(num_experts=2, expert_units=[8], tower_units=[4]))
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(num_rows, 2, generator=g)
    click = (dense[:, 0] > 0).float()
    rating = 2 * dense[:, 1]
    data = EncodedData(
        torch.randint(0, max_id, (num_rows, 1), generator=g),
        dense,
        torch.stack([click, rating], 1),
    )
    return model, MultiTaskLoss(spec, TASKS), data


def train_config(**kwargs):
    settings = {
        "epochs": 5,
        "batch_size": 16,
        "patience": 2,
        "progress_bar": False,
        "optimizer": {"lr": 0.01},
        "objective": [{"task": "click", "metric": "auc"}],
    }
    return TrainConfig(**{**settings, **kwargs})


def scripted(monkeypatch, values):
    values = list(values)
    monkeypatch.setattr(
        _trainer, "objective_value", lambda metrics, terms: values.pop(0)
    )


def fit_with_snapshots(tmp_path, config):
    model, loss, data = setup()
    snapshots = []

    def keep(record):
        snapshots.append(copy.deepcopy(model.state_dict()))

    trainer = Trainer(model, loss, config, tmp_path / "best.safetensors", keep)
    return model, trainer.fit(data, data), snapshots


def test_early_stop_and_best_epoch_restored(tmp_path, monkeypatch):
    scripted(monkeypatch, [0.5, 0.7, 0.6, 0.65, 0.9])

    model, result, snapshots = fit_with_snapshots(tmp_path, train_config())

    assert result.best_epoch == 2
    assert result.best_objective == 0.7
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert [r["objective"] for r in result.history] == [0.5, 0.7, 0.6, 0.65]
    assert len(snapshots) == 4
    restored = model.state_dict()
    for key, value in snapshots[1].items():
        assert torch.equal(restored[key], value)
    assert not torch.equal(
        snapshots[1]["experts.weights.0"], snapshots[3]["experts.weights.0"]
    )
    saved = load_weights(tmp_path / "best.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in snapshots[1].items())


def test_last_epoch_kept_when_it_is_best(tmp_path, monkeypatch):
    scripted(monkeypatch, [0.1, 0.2, 0.3])

    model, result, snapshots = fit_with_snapshots(tmp_path, train_config(epochs=3))

    assert result.best_epoch == 3
    assert all(torch.equal(model.state_dict()[k], v) for k, v in snapshots[2].items())


def test_equal_objective_does_not_replace_the_best(tmp_path, monkeypatch):
    scripted(monkeypatch, [0.4, 0.4, 0.4])

    _, result, _ = fit_with_snapshots(tmp_path, train_config(epochs=3, patience=5))

    assert result.best_epoch == 1
    assert len(result.history) == 3


def test_null_objective_never_beats_a_known_one(tmp_path, monkeypatch):
    scripted(monkeypatch, [None, 0.3, None, float("nan")])

    _, result, _ = fit_with_snapshots(tmp_path, train_config(epochs=4, patience=5))

    assert result.best_epoch == 2
    assert result.best_objective == 0.3


def test_history_records_losses_and_valid_metrics(tmp_path):
    _, result, _ = fit_with_snapshots(tmp_path, train_config(epochs=2))

    record = result.history[0]
    assert set(record["train_task_loss"]) == {"click", "rating"}
    assert record["train_loss"] > 0
    assert set(record["valid"]) == {"click", "rating"}
    assert record["objective"] == record["valid"]["click"]["auc"]
    assert result.seconds > 0


def test_training_lowers_the_loss(tmp_path):
    config = train_config(epochs=3, patience=3, grad_clip_norm=1.0)

    _, result, _ = fit_with_snapshots(tmp_path, config)

    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < losses[0]


def test_fit_needs_labels(tmp_path):
    model, loss, data = setup()
    unlabelled = EncodedData(data.categorical, data.dense)
    trainer = Trainer(model, loss, train_config(), tmp_path / "w.safetensors")

    with pytest.raises(ValueError, match=r"need labels"):
        trainer.fit(data, unlabelled)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("sgd", torch.optim.SGD),
    ],
)
def test_build_optimizer(name, cls):
    model, _, _ = setup()

    optimizer = build_optimizer(
        model, OptimizerConfig(name=name, lr=0.05, weight_decay=0.1)
    )

    # Dense parameters only here, so one optimiser of the named kind.
    (inner,) = getattr(optimizer, "optimizers", [optimizer])
    assert type(inner) is cls
    assert inner.param_groups[0]["lr"] == 0.05
    assert inner.param_groups[0]["weight_decay"] == 0.1
    count = sum(len(g["params"]) for g in inner.param_groups)
    assert count == len(list(model.parameters()))


@pytest.mark.parametrize("sparse", [False, True])
def test_sparse_embeddings_leave_untouched_rows_alone(tmp_path, sparse):
    # Only ids 0 and 1 occur; weight decay moves every row of a dense table.
    model, loss, data = setup(sparse=sparse, max_id=2)
    config = train_config(
        epochs=1, sparse_embeddings=sparse, optimizer={"lr": 0.01, "weight_decay": 0.5}
    )
    table = model.inputs.embedding.table.weight
    before = table.detach().clone()

    Trainer(model, loss, config, tmp_path / "w.safetensors").fit(data, data)

    assert not torch.equal(table[:2], before[:2])
    assert torch.equal(table[2:], before[2:]) is sparse


def test_bfloat16_autocast_trains(tmp_path):
    config = train_config(epochs=2, precision="bfloat16")

    model, result, _ = fit_with_snapshots(tmp_path, config)

    assert all(np.isfinite(r["train_loss"]) for r in result.history)
    assert next(model.parameters()).dtype == torch.float32


def test_batch_norm_model_skips_a_last_batch_of_one_row(tmp_path):
    # 33 rows in batches of 16: the last batch holds one row, which batch
    # normalisation cannot take in training mode.
    _, loss, data = setup(num_rows=33)
    torch.manual_seed(0)
    model = MMoE(
        loss.spec,
        MMoEConfig(num_experts=2, expert_units=[8], tower_units=[4], batch_norm=True),
    )
    trainer = Trainer(model, loss, train_config(epochs=1), tmp_path / "w.safetensors")

    result = trainer.fit(data, data)

    assert result.best_epoch == 1
    assert np.isfinite(result.history[0]["train_loss"])


def test_train_step_is_one_adam_step_on_the_batch_loss(tmp_path):
    model, loss, data = setup()
    reference = copy.deepcopy(model)
    before = copy.deepcopy(model.state_dict())
    trainer = Trainer(model, loss, train_config(), tmp_path / "best.safetensors")
    batch = next(iterate_batches(data, 16, shuffle=False))

    step_loss, per_task = trainer.train_step(batch)

    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01)
    expected_loss, expected_tasks = loss(reference(batch), batch.labels)
    expected_loss.backward()
    optimizer.step()
    torch.testing.assert_close(step_loss.detach(), expected_loss.detach())
    torch.testing.assert_close(per_task.detach(), expected_tasks.detach())
    after = model.state_dict()
    for name, want in reference.state_dict().items():
        torch.testing.assert_close(after[name], want, msg=name)
    # Every weight moved: the step updated the model, not only a copy.
    assert all(not torch.equal(after[n], before[n]) for n in before if "weight" in n)
