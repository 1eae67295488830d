"""The shared suite every registered model must pass.

Each model is built on every task layout it accepts among a few common ones
(two binary tasks, binary plus regression, a CTR -> CVR parent chain); a model
that accepts none of them fails the suite.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtlrec.config import TaskConfig
from mtlrec.data import Batch
from mtlrec.layers import InputLayer, InputSpec, _fused, reuse_casts
from mtlrec.losses import MultiTaskLoss
from mtlrec.models import (
    ModelSpec,
    MultiTaskModel,
    TaskSpec,
    get_model_class,
    list_models,
)

MODEL_NAMES = sorted(list_models())
# F=3, D=8, plus a training-only context field and a 2-channel history of
# length L=3, so models that read them run too; the others ignore them.
INPUTS = InputSpec(
    vocab_sizes=(5, 4, 3),
    embedding_dim=8,
    num_dense=2,
    context_vocab_sizes=(4,),
    sequence_vocab_sizes=(6, 3),
    sequence_length=3,
)
DOMAINS = ("d0", "d1")
LAYOUTS = {
    "binary_regression": (TaskSpec("click"), TaskSpec("rating", "regression")),
    "two_binary": (TaskSpec("click"), TaskSpec("like")),
    "parent_chain": (TaskSpec("ctr"), TaskSpec("cvr", parent="ctr")),
}
B = 4


def make_config(cls: type[MultiTaskModel], **overrides):
    fields = cls.config_class.model_fields
    if "dropout" in fields and "dropout" not in overrides:
        overrides["dropout"] = 0.3
    return cls.config_class(**overrides)


def build(name: str, tasks, seed: int = 0, inputs: InputSpec = INPUTS):
    # "mmoe+batch_norm" is MMoE with batch_norm=True.
    base, *flags = name.split("+")
    cls = get_model_class(base)
    torch.manual_seed(seed)
    config = make_config(cls, **dict.fromkeys(flags, True))
    return cls(ModelSpec(inputs, tasks, DOMAINS), config)


def accepted_layouts(name: str) -> list[str]:
    accepted = []
    for layout, tasks in LAYOUTS.items():
        try:
            build(name, tasks)
        except ValueError:
            continue
        accepted.append(layout)
    return accepted


def make_batch(tasks, seed: int = 0, inputs: InputSpec = INPUTS) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    ids = (
        torch.stack(
            [
                torch.randint(0, v, (B,), generator=generator)
                for v in inputs.vocab_sizes
            ],
            dim=1,
        )
        if inputs.vocab_sizes
        else torch.zeros(B, 0, dtype=torch.long)
    )
    dense = torch.randn(B, inputs.num_dense, generator=generator)
    labels = torch.zeros(B, len(tasks))
    names = [t.name for t in tasks]
    for k, task in enumerate(tasks):
        if task.type == "regression":
            labels[:, k] = torch.randn(B, generator=generator)
        else:
            labels[:, k] = torch.tensor([1.0, 0.0, 1.0, 1.0])[
                torch.randperm(B, generator=generator)
            ]
        if task.parent is not None:
            labels[:, k] *= labels[:, names.index(task.parent)]
    batch = Batch(ids, dense, labels, domains=torch.arange(B) % len(DOMAINS))
    if inputs.context_vocab_sizes:
        batch.context = torch.stack(
            [
                torch.randint(1, v, (B,), generator=generator)
                for v in inputs.context_vocab_sizes
            ],
            dim=1,
        )
    if inputs.sequence_vocab_sizes:
        length = inputs.sequence_length
        channels = [
            torch.randint(1, v, (B, length), generator=generator)
            for v in inputs.sequence_vocab_sizes
        ]
        batch.history_lengths = torch.tensor([0, 1, length, 2])  # one empty
        keep = torch.arange(length) < batch.history_lengths[:, None]
        batch.history = torch.stack(channels, dim=2) * keep[:, :, None]
    return batch


def task_configs(tasks) -> list[TaskConfig]:
    return [
        TaskConfig(name=t.name, label=t.name, type=t.type, parent=t.parent)
        for t in tasks
    ]


def cases():
    for name in MODEL_NAMES:
        layouts = accepted_layouts(name) or ["none"]
        for layout in layouts:
            yield pytest.param(name, layout, id=f"{name}-{layout}")
        # The batch-normalised variant, on the first layout the model takes.
        if "batch_norm" in get_model_class(name).config_class.model_fields:
            variant = f"{name}+batch_norm"
            yield pytest.param(variant, layouts[0], id=f"{variant}-{layouts[0]}")


CASES = list(cases())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_accepts_a_common_task_layout(name):
    assert accepted_layouts(name), (
        f"model {name!r} accepts none of the suite's task layouts {list(LAYOUTS)}; "
        "add a layout it accepts"
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_registry_entry(name):
    cls = get_model_class(name)

    assert issubclass(cls, MultiTaskModel)
    assert cls.config_class().name == name
    assert cls.paper and cls.summary
    assert cls.output_space in ("conditional", "joint")
    assert cls.child_loss_space in ("conditional", "joint")


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_output_keys_and_shapes(name, layout):
    tasks = LAYOUTS[layout]
    model = build(name, tasks)

    outputs = model(make_batch(tasks))

    assert list(outputs) == [t.name for t in tasks]
    for value in outputs.values():
        assert value.shape == (B,)
        assert value.dtype == torch.float32
        assert torch.isfinite(value).all()


@pytest.mark.parametrize(
    "inputs",
    [InputSpec((5, 4, 3), 8, 0), InputSpec((), 8, 3)],
    ids=["categorical-only", "dense-only"],
)
@pytest.mark.parametrize(("name", "layout"), CASES)
def test_categorical_only_and_dense_only_inputs(name, layout, inputs):
    tasks = LAYOUTS[layout]
    try:
        model = build(name, tasks, inputs=inputs)
    except ValueError as exc:
        # A model may need a kind of input (context, several fields); it must
        # then refuse at construction with a message naming it.
        assert "needs" in str(exc)
        return

    outputs = model(make_batch(tasks, inputs=inputs))

    assert all(v.shape == (B,) for v in outputs.values())


@pytest.mark.parametrize("objective", ["loss", "summed_outputs"])
@pytest.mark.parametrize(("name", "layout"), CASES)
def test_every_parameter_gets_a_finite_gradient(name, layout, objective):
    tasks = LAYOUTS[layout]
    model = build(name, tasks)
    batch = make_batch(tasks)
    outputs = model(batch)
    if objective == "loss":
        loss = MultiTaskLoss(
            model.spec, task_configs(tasks), model.output_space, model.child_loss_space
        )
        total, per_task = loss(outputs, batch.labels)
    else:
        total = sum(v.sum() for v in outputs.values())
        per_task = torch.stack([v.sum() for v in outputs.values()])
    # A model's own loss term (AITM's calibrator, learnt task weights) is part
    # of what it trains on.
    extra = model.auxiliary_loss(outputs, batch, per_task)
    if extra is not None:
        total = total + extra

    total.backward()

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert named
    missing = [n for n, p in named if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in named if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_state_dict_round_trip_gives_identical_outputs(name, layout):
    tasks = LAYOUTS[layout]
    original = build(name, tasks, seed=0).eval()
    fresh = build(name, tasks, seed=1).eval()
    batch = make_batch(tasks)

    fresh.load_state_dict(original.state_dict())

    for key, value in original(batch).items():
        torch.testing.assert_close(fresh(batch)[key], value, rtol=0, atol=0)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_same_seed_same_outputs_other_seed_other_outputs(name, layout):
    tasks = LAYOUTS[layout]
    batch = make_batch(tasks)

    first = build(name, tasks, seed=3).eval()(batch)
    second = build(name, tasks, seed=3).eval()(batch)
    other = build(name, tasks, seed=4).eval()(batch)

    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)
    assert any(not torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_eval_mode_is_deterministic(name, layout):
    tasks = LAYOUTS[layout]
    model = build(name, tasks).eval()
    batch = make_batch(tasks)

    first = model(batch)
    torch.manual_seed(123)
    second = model(batch)

    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


@pytest.mark.skipif(not _fused._available(), reason="no oneDNN bfloat16 here")
@pytest.mark.parametrize(("name", "layout"), CASES)
def test_bfloat16_inference_equals_autocast_without_the_fused_path(
    name, layout, monkeypatch
):
    # The fused path (mtlrec.layers.fused_linear) is an inference shortcut
    # only: it must give what bfloat16 autocast gives without it.
    tasks = LAYOUTS[layout]
    model = build(name, tasks).eval()
    batch = make_batch(tasks)

    def predict() -> dict[str, torch.Tensor]:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            with reuse_casts():
                return model(batch)

    fused = predict()
    monkeypatch.setattr(_fused, "_available", lambda: False)
    plain = predict()

    for key in plain:
        torch.testing.assert_close(fused[key], plain[key], rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_rows_do_not_influence_each_other_in_eval(name, layout):
    tasks = LAYOUTS[layout]
    model = build(name, tasks).eval()
    batch = make_batch(tasks)

    whole = model(batch)
    alone = model(
        Batch(
            **{
                f.name: getattr(batch, f.name)[2:3]
                for f in dataclasses.fields(batch)
                if getattr(batch, f.name) is not None
            }
        )
    )

    for key in whole:
        torch.testing.assert_close(alone[key], whole[key][2:3])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_wrong_config_class_is_a_type_error(name):
    cls = get_model_class(name)
    other = next(c for n, c in list_models().items() if n != name).config_class

    with pytest.raises(TypeError, match=rf"{cls.__name__} takes a"):
        cls(ModelSpec(INPUTS, LAYOUTS[accepted_layouts(name)[0]], DOMAINS), other())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_no_tasks_is_an_error(name):
    cls = get_model_class(name)

    with pytest.raises(ValueError, match=r"at least one task|needs"):
        cls(ModelSpec(INPUTS, ()), make_config(cls))


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_sparse_embedding_gradients(name, layout):
    tasks = LAYOUTS[layout]
    inputs = dataclasses.replace(INPUTS, sparse_gradients=True)
    model = build(name, tasks, inputs=inputs)

    sum(v.sum() for v in model(make_batch(tasks, inputs=inputs)).values()).backward()

    # The fused table of the categorical fields: the one that holds most rows.
    tables = [
        m.embedding.table
        for m in model.modules()
        if isinstance(m, InputLayer) and m.embedding is not None
    ]
    assert tables and all(t.weight.grad.is_sparse for t in tables)
    for t in tables:
        assert torch.isfinite(t.weight.grad.coalesce().values()).all()
