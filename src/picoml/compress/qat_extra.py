"""QAT's float computations of ADD_N, MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX,
GELU, RELU_N1_TO_1, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, CUMSUM, GATHER_ND and EMBEDDING_LOOKUP (merged into ``compress.qat.FLOAT_OPS``). Same signature as the others there:
``(model, op, x, values, plan)`` with ``x`` the op's first input batched over a leading axis. The
int8 forward value still comes from the reference kernel; these give the gradient.

MIRROR_PAD, PADV2 and REVERSE_V2 index with the reference kernel's own per-dimension tables
(``reference.axis_gather``), so QAT moves exactly the elements the interpreter moves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import axis_gather, cumsum, gather_nd, space_batch
from picoml.reference.l2_normalization import EPSILON


def _add_n(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    y = x
    for t in op.inputs[1:]:
        y = y + m._value(t, values, plan, like=x)
    return y


def _axis_gather(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    p = axis_gather.prepare(op)
    y = x
    mask = None
    for d, table in enumerate(p.tables):
        idx = torch.as_tensor(np.asarray(table, np.int64), device=x.device)
        y = y.index_select(d + 1, idx.clamp(min=0))
        if (idx < 0).any():
            shape = [1] * (len(p.tables) + 1)
            shape[d + 1] = -1
            md = (idx < 0).reshape(shape)
            mask = md if mask is None else (mask | md)
    if mask is None:
        return y
    if op.type == OpType.PADV2 and len(op.inputs) > 2 and op.inputs[2] is not None:
        value = m._value(op.inputs[2], values, plan, like=x).reshape(-1)[0].to(y.dtype)
    else:
        value = torch.zeros((), dtype=y.dtype, device=y.device)
    return torch.where(mask, value, y)


def _l2norm(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    n = torch.sqrt((x * x).sum(dim=-1, keepdim=True)).clamp(min=float(EPSILON))
    return x / n


def _pixel_copy(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    p = space_batch.prepare(op)
    t = torch.as_tensor(np.asarray(p.table, np.int64), device=x.device)
    y = x.reshape(x.shape[0], -1, p.depth).index_select(1, t.clamp(min=0))
    y = torch.where((t < 0)[None, :, None], torch.zeros((), dtype=y.dtype, device=y.device), y)
    return y.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _cumsum(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    p = cumsum.prepare(op)
    ax = p.axis + 1
    v = x.flip(ax) if p.reverse else x
    y = v.cumsum(ax)
    if p.exclusive:
        y = y - v
    return y.flip(ax) if p.reverse else y


def _gather_nd(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    """GATHER_ND / EMBEDDING_LOOKUP at constant positions (computed ones: not in QAT, as GATHER)."""
    idx = op.inputs[1]
    if idx.data is None:
        raise UnsupportedError(f"QAT: {op.label} with computed indices is not supported")
    p = gather_nd.prepare(op)
    pos = gather_nd.positions(p, np.asarray(idx.data)[None])[0]
    take = (pos[:, None] + np.arange(p.slice_size)[None, :]).reshape(-1)
    y = x.reshape(x.shape[0], -1).index_select(1, torch.as_tensor(take, device=x.device))
    return y.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


EXTRA_FLOAT_OPS: dict[OpType, Callable[..., torch.Tensor]] = {
    OpType.ADD_N: _add_n,
    OpType.MIRROR_PAD: _axis_gather,
    OpType.PADV2: _axis_gather,
    OpType.REVERSE_V2: _axis_gather,
    OpType.L2_NORMALIZATION: _l2norm,
    OpType.LOG_SOFTMAX: lambda m, op, x, values, plan: torch.log_softmax(x, dim=-1),
    OpType.GELU: lambda m, op, x, values, plan: F.gelu(x, approximate="tanh" if op.attrs["approximate"] else "none"),
    OpType.RELU_N1_TO_1: lambda m, op, x, values, plan: x.clamp(-1.0, 1.0),
    OpType.SPACE_TO_BATCH_ND: _pixel_copy,
    OpType.BATCH_TO_SPACE_ND: _pixel_copy,
    OpType.CUMSUM: _cumsum,
    OpType.GATHER_ND: _gather_nd,
    OpType.EMBEDDING_LOOKUP: _gather_nd,
}
