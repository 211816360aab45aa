"""QAT's float computations of REDUCE_MAX, REDUCE_MIN, SUM and BATCH_MATMUL (merged into
``compress.qat.FLOAT_OPS``). Same signature as the others there: ``(model, op, x, values, plan)``
with ``x`` the op's first input batched over a leading axis; the second operand of BATCH_MATMUL
comes from ``model._value`` (fake-quantized like any activation or constant operand). The int8
forward value still comes from the reference kernel (``QATModel._int8_output``); these give the
gradient. ARG_MAX / ARG_MIN have none: their output is an int32 index.

PyTorch is imported here, so only ``compress.qat`` imports this module.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from picoml.graph.ir import Op
from picoml.graph.ops import OpType, reduce_axes


def _reduce(op: Op, x: torch.Tensor) -> torch.Tensor:
    axes = [a + 1 for a in reduce_axes(op)]
    keep = bool(op.attrs["keep_dims"])
    if not axes:
        y = x
    elif op.type == OpType.SUM:
        y = x.sum(dim=axes, keepdim=keep)
    elif op.type == OpType.REDUCE_MAX:
        y = x.amax(dim=axes, keepdim=keep)
    else:
        y = x.amin(dim=axes, keepdim=keep)
    return y.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _matrices(v: torch.Tensor, rank: int, adj: bool) -> torch.Tensor:
    """(n, *shape) with unit batch axes inserted after the leading one up to ``rank`` + 1 axes."""
    v = v.reshape(tuple(v.shape[:1]) + (1,) * (rank + 1 - v.dim()) + tuple(v.shape[1:]))
    return v.transpose(-1, -2) if adj else v


def _batch_matmul(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    b = m._value(op.inputs[1], values, plan, like=x).to(x.dtype)
    rank = max(len(op.inputs[0].shape), len(op.inputs[1].shape))
    y = torch.matmul(_matrices(x, rank, bool(op.attrs["adj_x"])), _matrices(b, rank, bool(op.attrs["adj_y"])))
    return y.reshape((y.shape[0],) + tuple(op.outputs[0].shape))


REDUCE_FLOAT_OPS: dict[OpType, Callable[..., torch.Tensor]] = {
    OpType.REDUCE_MAX: lambda m, op, x, values, plan: _reduce(op, x),
    OpType.REDUCE_MIN: lambda m, op, x, values, plan: _reduce(op, x),
    OpType.SUM: lambda m, op, x, values, plan: _reduce(op, x),
    OpType.BATCH_MATMUL: _batch_matmul,
}
