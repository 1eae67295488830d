"""RowwiseAdam against torch.optim.Adam on dense gradients."""

import pytest
import torch
from torch import nn

from mtlrec.training import RowwiseAdam
from mtlrec.training._sparse_adam import unique_rows


def run_steps(ids_per_step, sparse, optimizer_cls, rows=6, dim=3):
    torch.manual_seed(0)
    table = nn.Embedding(rows, dim, sparse=sparse)
    targets = torch.randn(len(ids_per_step[0]), dim)
    optimizer = optimizer_cls([table.weight], lr=0.05)
    for ids in ids_per_step:
        optimizer.zero_grad(set_to_none=True)
        ((table(ids) - targets) ** 2).sum().backward()
        optimizer.step()
    return table.weight.detach(), optimizer


def test_matches_adam_when_every_row_is_touched():
    # Every row appears in every step, some twice: lazy Adam is then plain
    # Adam, duplicates included (their gradients add up).
    steps = [torch.tensor([0, 1, 2, 3, 4, 5, 2, 2])] * 7
    dense, _ = run_steps(steps, False, torch.optim.Adam)
    rowwise, _ = run_steps(steps, True, RowwiseAdam)
    torch.testing.assert_close(rowwise, dense, rtol=0, atol=1e-6)


def test_untouched_rows_keep_weights_and_moments():
    before, _ = run_steps([torch.tensor([0, 1])], True, RowwiseAdam)
    steps = [torch.tensor([0, 1]), torch.tensor([1, 1]), torch.tensor([0, 1])]
    after, optimizer = run_steps(steps, True, RowwiseAdam)
    torch.testing.assert_close(after[2:], before[2:], rtol=0, atol=0)
    state = next(iter(optimizer.state.values()))
    assert state["step"] == 3
    assert torch.count_nonzero(state["exp_avg"][2:]) == 0
    assert torch.count_nonzero(state["exp_avg_sq"][:2]) == 2 * 3


def test_row_skipped_in_a_step_is_not_updated_in_it():
    # Row 0 is missing from step 2: its weight after step 2 equals that
    # after step 1, unlike dense Adam whose momentum keeps moving it.
    first, _ = run_steps([torch.tensor([0, 1])], True, RowwiseAdam)
    second, _ = run_steps(
        [torch.tensor([0, 1]), torch.tensor([1, 1])], True, RowwiseAdam
    )
    torch.testing.assert_close(second[0], first[0], rtol=0, atol=0)
    assert not torch.equal(second[1], first[1])


def test_dense_gradient_is_refused():
    with pytest.raises(RuntimeError, match="needs sparse gradients"):
        run_steps([torch.tensor([0, 1])], False, RowwiseAdam)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="lr > 0"):
        RowwiseAdam([torch.zeros(2, 2, requires_grad=True)], lr=0.0)


@pytest.mark.parametrize("num_rows", [7, 50_000])
def test_unique_rows_both_methods_equal_torch_unique(num_rows):
    ids = torch.randint(0, num_rows, (300,), generator=torch.Generator().manual_seed(0))
    expected_rows, expected_inverse = torch.unique(ids, return_inverse=True)
    for mark in (True, False, None):
        rows, inverse = unique_rows(ids, num_rows, mark=mark)
        assert torch.equal(rows, expected_rows)
        assert torch.equal(inverse, expected_inverse)
