"""Loss balancers against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mtlrec.losses import (
    DWABalancer,
    FixedBalancer,
    GradNormBalancer,
    PCGradBalancer,
    UncertaintyBalancer,
    dwa_weights,
    gradnorm_targets,
    pairwise_cosines,
    pcgrad_project,
)

NAMES = ["a", "b"]
ONES = torch.ones(2)


def test_pcgrad_projects_conflicting_pair() -> None:
    # g1.g2 = -1: g1 - (-1/2) g2 = (0.5, 0.5); g2 - (-1/1) g1 = (0, 1).
    grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    projected = pcgrad_project(grads, torch.Generator().manual_seed(0))
    assert torch.allclose(projected, torch.tensor([[0.5, 0.5], [0.0, 1.0]]))


def test_pcgrad_keeps_agreeing_pair() -> None:
    grads = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.equal(pcgrad_project(grads), grads)


def test_pcgrad_projects_against_original_gradients() -> None:
    # Three tasks; task 0 conflicts with 1 and 2, which are orthogonal, so
    # the order does not matter: g0 loses both components.
    grads = torch.tensor([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    for seed in range(3):
        projected = pcgrad_project(grads, torch.Generator().manual_seed(seed))
        assert torch.allclose(projected[0], torch.zeros(2))


def test_pairwise_cosines() -> None:
    cosines = pairwise_cosines(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    assert cosines[0, 1].item() == pytest.approx(1 / math.sqrt(2))
    assert cosines[0, 0].item() == pytest.approx(1.0)
    assert cosines[2, 0].item() == 0.0


def test_gradnorm_targets_on_known_losses() -> None:
    # r = (0.5, 1.0) / 0.75 = (2/3, 4/3); mean G = 3.
    targets = gradnorm_targets(torch.tensor([2.0, 4.0]), torch.tensor([0.5, 1.0]), 1.5)
    expected = [3 * (2 / 3) ** 1.5, 3 * (4 / 3) ** 1.5]
    assert targets.tolist() == pytest.approx(expected)
    assert expected == pytest.approx([1.632993, 4.618802], rel=1e-6)


def test_gradnorm_step_moves_weights_towards_equal_norms() -> None:
    # L_a = 3 t0 (norm 3), L_b = t1 (norm 1); targets are both 2, so Adam's
    # first step moves w_a down and w_b up by lr; the sum stays K = 2.
    theta = nn.Parameter(torch.ones(2))
    balancer = GradNormBalancer(NAMES, ONES, [theta], [theta], alpha=1.5, lr=0.025)
    losses = torch.stack([3 * theta[0], theta[1]])
    total = balancer.backward(losses)
    assert total.item() == pytest.approx(4.0)
    assert theta.grad.tolist() == pytest.approx([3.0, 1.0])
    assert balancer.weights().tolist() == pytest.approx([0.975, 1.025], abs=1e-6)
    record = balancer.end_epoch(losses.detach())
    assert record["grad_cosine"] == {"a/b": pytest.approx(0.0)}
    assert record["weights"] == {"a": 1.0, "b": 1.0}


def test_gradnorm_measures_last_shared_weight_by_default() -> None:
    first, last, bias = (nn.Parameter(torch.ones(2, 2)) for _ in range(3))
    balancer = GradNormBalancer(
        NAMES,
        ONES,
        [first, last, bias],
        [first, last, bias],
        shared_names=["l0.weight", "l1.weight", "l1.bias"],
    )
    assert balancer.measured == [last]


def test_dwa_weights_on_known_history() -> None:
    history = [torch.tensor([1.0, 2.0]), torch.tensor([0.5, 2.0])]
    # r = (0.5, 1.0); 2 * softmax(r / 2).
    low = math.exp(0.25) / (math.exp(0.25) + math.exp(0.5))
    weights = dwa_weights(history, 2.0)
    assert weights.tolist() == pytest.approx([2 * low, 2 * (1 - low)])
    assert weights.tolist() == pytest.approx([0.875647, 1.124353], abs=1e-6)
    assert dwa_weights(history[:1], 2.0).tolist() == [1.0, 1.0]


def test_dwa_balancer_updates_once_per_epoch() -> None:
    theta = nn.Parameter(torch.ones(2))
    balancer = DWABalancer(NAMES, torch.tensor([1.0, 3.0]), [theta], [theta], 2.0)
    balancer.end_epoch(torch.tensor([1.0, 2.0]))
    assert balancer.weights().tolist() == [1.0, 3.0]
    balancer.end_epoch(torch.tensor([0.5, 2.0]))
    assert balancer.weights().tolist() == pytest.approx(
        [0.875647, 3 * 1.124353], abs=1e-6
    )


def test_uncertainty_loss_on_known_log_variances() -> None:
    theta = nn.Parameter(torch.ones(2))
    balancer = UncertaintyBalancer(NAMES, ONES, [theta], [theta], [False, True])
    with torch.no_grad():
        balancer.log_vars.copy_(torch.tensor([0.0, math.log(2.0)]))
    losses = torch.tensor([0.5, 2.0])
    # binary: e^0 * 0.5 + 0; regression: 0.5 * 0.5 * 2 + 0.5 ln 2.
    total = balancer.combine(losses)
    assert total.item() == pytest.approx(1.0 + 0.5 * math.log(2.0))
    # s_k = log(2 L) (binary) and log(L) (regression) are stationary points.
    total.backward()
    assert balancer.log_vars.grad.tolist() == pytest.approx([0.0, 0.0], abs=1e-7)
    assert balancer.weights().tolist() == pytest.approx([1.0, 0.25])
    assert balancer.extra_parameters() == [balancer.log_vars]


def test_fixed_balancer_uses_task_weights_and_decay() -> None:
    theta = nn.Parameter(torch.ones(2))
    balancer = FixedBalancer(
        NAMES, torch.tensor([1.0, 2.0]), [theta], [theta], torch.tensor([0.5, 1.0])
    )
    total = balancer.backward(torch.stack([theta[0], 3 * theta[1]]))
    assert total.item() == pytest.approx(7.0)
    assert theta.grad.tolist() == [1.0, 6.0]
    record = balancer.end_epoch(torch.ones(2))
    assert record == {"name": "fixed", "weights": {"a": 1.0, "b": 2.0}}
    balancer.end_epoch(torch.ones(2))
    assert balancer.weights().tolist() == [0.25, 2.0]


def test_pcgrad_balancer_projects_shared_and_sums_the_rest() -> None:
    theta = nn.Parameter(torch.tensor([2.0, 3.0]))
    own_a, own_b = nn.Parameter(torch.tensor(1.0)), nn.Parameter(torch.tensor(2.0))
    balancer = PCGradBalancer(NAMES, ONES, [theta, own_a, own_b], [theta])
    # Shared gradients (1, 0) and (-1, 1) as in the projection test.
    losses = torch.stack([theta[0] + own_a**2, -theta[0] + theta[1] + own_b**2])
    total = balancer.backward(losses)
    assert total.item() == pytest.approx(2.0 + 1.0 + 1.0 + 4.0)
    assert theta.grad.tolist() == pytest.approx([0.5, 1.5])
    assert own_a.grad.item() == pytest.approx(2.0)
    assert own_b.grad.item() == pytest.approx(4.0)
    cosine = balancer.end_epoch(losses.detach())["grad_cosine"]["a/b"]
    assert cosine == pytest.approx(-1 / math.sqrt(2))


def test_balancer_rejects_mismatched_weights() -> None:
    theta = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="2 task names but 3 task weights"):
        FixedBalancer(NAMES, torch.ones(3), [theta], [theta])


@pytest.mark.parametrize("kind", ["fixed", "pcgrad", "gradnorm"])
def test_extra_loss_is_added_unweighted(kind: str) -> None:
    # Task losses 2 t0 and 3 t1 with weights (2, 1); extra t0 * t1.
    theta = nn.Parameter(torch.tensor([1.0, 2.0]))
    weights = torch.tensor([2.0, 1.0])
    if kind == "fixed":
        balancer = FixedBalancer(NAMES, weights, [theta], [theta])
    elif kind == "pcgrad":
        balancer = PCGradBalancer(NAMES, weights, [theta], [theta])
    else:
        balancer = GradNormBalancer(NAMES, 2 * weights / 3, [theta], [theta], lr=1e-9)
    losses = torch.stack([2 * theta[0], 3 * theta[1]])
    total = balancer.backward(losses, extra=theta[0] * theta[1])
    scale = [2.0, 1.0] if kind != "gradnorm" else [4 / 3, 2 / 3]
    expected_total = scale[0] * 2 + scale[1] * 6 + 2.0
    assert total.item() == pytest.approx(expected_total, rel=1e-6)
    # d/dt: task part (2 w0, 3 w1) + extra part (t1, t0) = (+2, +1).
    expected = [2 * scale[0] + 2.0, 3 * scale[1] + 1.0]
    assert theta.grad.tolist() == pytest.approx(expected, rel=1e-6)


def test_gradnorm_initial_loss_waits_for_a_positive_batch() -> None:
    theta = nn.Parameter(torch.ones(2))
    balancer = GradNormBalancer(NAMES, ONES, [theta], [theta])
    balancer.backward(torch.stack([2 * theta[0], 0 * theta[1]]))
    assert balancer.initial[0].item() == 2.0
    assert math.isnan(balancer.initial[1].item())
    balancer.backward(torch.stack([theta[0], 4 * theta[1]]))
    assert balancer.initial.tolist() == pytest.approx([2.0, 4.0])
