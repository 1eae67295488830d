"""bfloat16 inference on the CPU with each linear layer and its ReLU in one call.

Under bfloat16 autocast, ``relu(linear(x))`` is a product that first copies
the bias into its output, then a second pass over the output for the ReLU,
and every call casts the layer's float32 weights again. oneDNN's fused linear
(``torch.ops.mkldnn._linear_pointwise``, the kernel ``torch.compile`` emits
for CPU inference) adds the bias and applies the ReLU while the product
writes its output. The layers use it through :func:`fused_linear` when
:func:`fused_dtype` allows, that is, only where no gradient is recorded: the
kernel has no backward. A batch normalisation between a linear layer and its
ReLU is, in eval mode, a per-channel affine map, folded into the layer's
weights (:func:`norm_affine`).

Inside :func:`reuse_casts` (every whole-split prediction runs in one), each
parameter is cast to bfloat16 (and rearranged where a layer needs it, see
:func:`prepared`) once, not once per batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

__all__ = [
    "cast",
    "foldable",
    "fused_dtype",
    "fused_linear",
    "gather",
    "norm_affine",
    "prepared",
    "reuse_casts",
]

_T = TypeVar("_T")
_Reused = dict[tuple[str, int], tuple[torch.Tensor, Any]]  # (kind, id) -> result
_REUSED: contextvars.ContextVar[_Reused | None] = contextvars.ContextVar(
    "mtlrec_reused_casts", default=None
)


@functools.cache
def _available() -> bool:
    """Whether this PyTorch build has oneDNN's fused linear with bfloat16."""
    try:
        torch.ops.mkldnn._linear_pointwise  # noqa: B018  (raises when missing)
        return bool(
            torch.backends.mkldnn.is_available()
            and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):
        return False


def fused_dtype(x: torch.Tensor) -> torch.dtype | None:
    """bfloat16 where a layer reading ``x`` may use :func:`fused_linear`, else None.

    That is where no gradient is recorded, ``x`` is on the CPU, the layer
    computes in bfloat16 (CPU autocast to bfloat16 is on, or ``x`` is
    bfloat16) and oneDNN supports bfloat16. A layer also checks that it is
    in eval mode, so that dropout and batch statistics keep their training
    behaviour.
    """
    if torch.is_grad_enabled() or x.device.type != "cpu":
        return None
    autocast = (
        torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )
    if not (autocast or x.dtype == torch.bfloat16) or not _available():
        return None
    return torch.bfloat16


def fused_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    relu: bool = False,
) -> torch.Tensor:
    """``x @ weight.T + bias``, then ReLU if ``relu``, in bfloat16 in one oneDNN call.

    Equals ``torch.relu(nn.functional.linear(x, weight, bias))`` under
    bfloat16 autocast. Call only where :func:`fused_dtype` returns bfloat16.

    Args:
        x: ``(B, in)`` input, cast to bfloat16 if it is not.
        weight: ``(out, in)`` weight (a parameter or a view of one's cast).
        bias: ``(out,)`` bias, or None.
        relu: Apply ReLU to the result.

    Returns:
        ``(B, out)`` in bfloat16.
    """
    if x.dtype != torch.bfloat16:
        x = x.to(torch.bfloat16)
    return torch.ops.mkldnn._linear_pointwise(
        x,
        cast(weight),
        None if bias is None else cast(bias),
        "relu" if relu else "none",
        [],
        "",
    )


def cast(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` in bfloat16; inside :func:`reuse_casts`, each tensor is cast once."""
    if tensor.dtype == torch.bfloat16:
        return tensor
    return prepared("cast", tensor, lambda: tensor.to(torch.bfloat16))


def gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``nn.functional.embedding(index, table)`` in bfloat16.

    Outside :func:`reuse_casts` the gathered rows are cast. Inside, once as
    many rows have been gathered from ``table`` as it has, the table itself
    is cast (once) and later gathers read the half-size copy; scoring a few
    rows never pays for casting a large table.
    """
    gathered = prepared("gathered", table, lambda: [0])  # rows read so far
    if gathered[0] >= table.shape[0]:
        return nn.functional.embedding(index, cast(table))
    gathered[0] += index.numel()
    return nn.functional.embedding(index, table).to(torch.bfloat16)


def foldable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a ``BatchNorm1d`` in eval mode with running statistics."""
    return (
        isinstance(norm, nn.BatchNorm1d)
        and not norm.training
        and norm.running_mean is not None
        and norm.running_var is not None
    )


def norm_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A :func:`foldable` norm as ``x * scale + shift``, per channel.

    Folding it into the linear layer before it, ``W' = scale * W`` and
    ``b' = scale * b + shift``, gives a single linear layer (inference only).
    """
    assert isinstance(norm, nn.BatchNorm1d) and foldable(norm)
    assert norm.running_mean is not None and norm.running_var is not None
    scale = torch.rsqrt(norm.running_var + norm.eps)  # (channels,)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return scale, shift


def prepared(kind: str, tensor: torch.Tensor, make: Callable[[], _T]) -> _T:
    """``make()``, or inside :func:`reuse_casts` its first result for ``tensor``.

    ``kind`` names what ``make`` derives from ``tensor`` (a cast, a
    rearrangement), so that one tensor may have several.
    """
    reused = _REUSED.get()
    if reused is None:
        return make()
    key = (kind, id(tensor))
    found = reused.get(key)
    if found is None or found[0] is not tensor:
        # The tensor is kept with its result, so that its id is not reused.
        found = (tensor, make())
        reused[key] = found
    return found[1]  # type: ignore[no-any-return]  # stored by this function


@contextlib.contextmanager
def reuse_casts() -> Iterator[None]:
    """Within the block, :func:`cast` casts each tensor once and reuses the copy.

    For stretches where parameters do not change, such as predicting a whole
    split. The copies are dropped when the block ends; each thread keeps its
    own.
    """
    token = _REUSED.set({})
    try:
        yield
    finally:
        _REUSED.reset(token)
