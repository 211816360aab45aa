"""QAT's float computations of REDUCE_MAX, REDUCE_MIN, SUM, BATCH_MATMUL and GATHER (merged into
``compress.qat.FLOAT_OPS``). Same signature as the others there: ``(model, op, x, values, plan)``
with ``x`` the op's first input batched over a leading axis; the second operand of BATCH_MATMUL
comes from ``model._value`` (fake-quantized like any activation or constant operand). The int8
forward value still comes from the reference kernel (``QATModel._int8_output``); these give the
gradient. ARG_MAX / ARG_MIN have none: their output is an int32 index.

PyTorch is imported here, so only ``compress.qat`` imports this module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType, reduce_axes
from picoml.graph.reduce_ops import gather_geometry


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


def _gather(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    """GATHER at constant positions (computed ones come from ARG_MAX, which QAT does not run)."""
    pos = op.inputs[1]
    if pos.data is None:
        raise UnsupportedError(f"QAT: {op.label} with computed positions is not supported")
    g = gather_geometry(op)
    n = x.shape[0]
    idx = torch.as_tensor(np.asarray(pos.data, np.int64).reshape(g.batch, g.coords), device=x.device)
    idx = idx[None, :, None, :, None].expand(n, g.batch, g.outer, g.coords, g.inner)
    xs = x.reshape(n, g.batch, g.outer, g.axis_size, g.inner)
    return torch.gather(xs, 3, idx).reshape((n,) + tuple(op.outputs[0].shape))


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
    OpType.GATHER: _gather,
}
