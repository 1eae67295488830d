"""Tests of ESMM (Ma et al., SIGIR 2018): pCTCVR = pCTR x pCVR and its loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from mtlrec.config import TaskConfig
from mtlrec.data import Batch, EncodedData
from mtlrec.layers import InputSpec
from mtlrec.losses import MultiTaskLoss, task_probabilities
from mtlrec.models import ESMM, ESMMConfig, ModelSpec, TaskSpec
from mtlrec.training import predict_scores

TASKS = (TaskSpec("ctr"), TaskSpec("cvr", parent="ctr"))
INPUTS = InputSpec((5, 4, 3), 8, 2)


def build(seed=0) -> ESMM:
    torch.manual_seed(seed)
    return ESMM(ModelSpec(INPUTS, TASKS), ESMMConfig(hidden_units=[8, 4]))


def batch(labels):
    g = torch.Generator().manual_seed(1)
    ids = torch.stack([torch.randint(0, v, (8,), generator=g) for v in (5, 4, 3)], 1)
    return Batch(ids, torch.randn(8, 2, generator=g), torch.tensor(labels))


LABELS = [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]] * 2


def esmm_loss(model):
    configs = [
        TaskConfig(name="ctr", label="click"),
        TaskConfig(name="cvr", label="conv", parent="ctr"),
    ]
    return MultiTaskLoss(
        model.spec, configs, model.output_space, model.child_loss_space
    )


def test_shares_one_embedding_table_between_two_nets():
    model = build()

    tables = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]

    assert len(tables) == 1
    assert model.ctr_net is not model.cvr_net
    assert model.child_loss_space == "joint"
    assert model.output_space == "conditional"


def test_ctcvr_is_the_product_of_probabilities():
    model = build().eval()
    b = batch(LABELS)
    outputs = model(b)

    conditional, joint = task_probabilities(model.spec, outputs, model.output_space)
    scores = predict_scores(
        model, EncodedData(b.categorical, b.dense, b.labels), batch_size=3
    )

    p_ctr = torch.sigmoid(outputs["ctr"])
    p_cvr = torch.sigmoid(outputs["cvr"])
    torch.testing.assert_close(conditional["cvr"], p_cvr)
    torch.testing.assert_close(joint["cvr"], p_ctr * p_cvr)
    torch.testing.assert_close(torch.from_numpy(scores["cvr@entire"]), p_ctr * p_cvr)
    torch.testing.assert_close(torch.from_numpy(scores["ctr"]), p_ctr)
    torch.testing.assert_close(torch.from_numpy(scores["cvr"]), p_cvr)


def test_loss_is_ctr_bce_plus_ctcvr_bce_on_all_rows():
    model = build()
    b = batch(LABELS)
    outputs = model(b)

    total, per_task = esmm_loss(model)(outputs, b.labels)

    click, conv = b.labels[:, 0], b.labels[:, 1]
    p_ctr = torch.sigmoid(outputs["ctr"])
    p_ctcvr = p_ctr * torch.sigmoid(outputs["cvr"])
    ctr_term = F.binary_cross_entropy(p_ctr, click)
    ctcvr_term = F.binary_cross_entropy(p_ctcvr, click * conv)
    torch.testing.assert_close(per_task[0], ctr_term)
    torch.testing.assert_close(per_task[1], ctcvr_term)
    torch.testing.assert_close(total, ctr_term + ctcvr_term)


def test_conversion_labels_on_unclicked_rows_are_never_used():
    model = build()
    b = batch(LABELS)
    outputs = model(b)
    loss = esmm_loss(model)
    odd = b.labels.clone()
    odd[2, 1] = 1.0  # a conversion without a click

    torch.testing.assert_close(loss(outputs, odd)[0], loss(outputs, b.labels)[0])


def test_cvr_net_learns_only_through_the_product():
    model = build()
    b = batch(LABELS)
    outputs = model(b)
    cvr_params = list(model.cvr_net.parameters())
    _, per_task = esmm_loss(model)(outputs, b.labels)

    ctr_grads = torch.autograd.grad(
        per_task[0], cvr_params, retain_graph=True, allow_unused=True
    )
    loss_grads = torch.autograd.grad(per_task[1], cvr_params, retain_graph=True)
    click, conv = b.labels[:, 0], b.labels[:, 1]
    product = torch.sigmoid(outputs["ctr"]) * torch.sigmoid(outputs["cvr"])
    hand = F.binary_cross_entropy(product, click * conv)
    hand_grads = torch.autograd.grad(hand, cvr_params)

    # The CTR term never reaches the CVR net (no gradient, or an exact zero).
    assert all(g is None or not g.any() for g in ctr_grads)
    assert any(g.abs().sum() > 0 for g in loss_grads)
    for got, expected in zip(loss_grads, hand_grads, strict=True):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(
    "tasks",
    [
        (TaskSpec("ctr"), TaskSpec("cvr")),
        (TaskSpec("cvr", parent="ctr"), TaskSpec("ctr")),
        (TaskSpec("ctr"), TaskSpec("cvr", "regression", parent="ctr")),
        (TaskSpec("ctr"),),
        (TaskSpec("a"), TaskSpec("b", parent="a"), TaskSpec("c", parent="b")),
    ],
)
def test_other_task_layouts_are_refused(tasks):
    with pytest.raises(ValueError, match=r"esmm needs two binary tasks"):
        ESMM(ModelSpec(INPUTS, tasks), ESMMConfig())
