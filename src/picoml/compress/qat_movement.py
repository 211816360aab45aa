"""QAT's float computation of the data-movement ops (``qat.FLOAT_OPS`` merges ``MOVEMENT_FLOAT_OPS``):
STRIDED_SLICE, SLICE, TRANSPOSE gather the elements the reference kernel reads (one index map
from its ``prepare``: the same resolution the interpreter and the C run); SPLIT, SPLIT_V, UNPACK
return one tensor per output; PACK stacks; SQUEEZE and EXPAND_DIMS reshape; TILE is ``Tensor.repeat``. Gradients flow through
the gathers unchanged. Each function takes (model, op, input 0, values, plan) as qat's do."""

from __future__ import annotations

from collections.abc import Callable

import torch

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.slicing import source_index


def _gather(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    idx = torch.from_numpy(source_index(KERNELS[op.type].prepare(op))).to(x.device)
    return x.reshape(x.shape[0], -1)[:, idx].reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _split(m, op: Op, x: torch.Tensor, values, plan) -> list[torch.Tensor]:
    p = KERNELS[op.type].prepare(op)
    parts = torch.split(x, list(p.sizes), dim=p.axis + 1)
    return [v if p.keep_axis else v.squeeze(p.axis + 1) for v in parts]


def _pack(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    parts = [m._value(t, values, plan, like=x) for t in op.inputs]
    n = max(v.shape[0] for v in parts)
    parts = [v.expand((n,) + tuple(v.shape[1:])) for v in parts]
    return torch.stack(parts, dim=KERNELS[op.type].prepare(op).axis + 1)


def _reshape(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    return x.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _tile(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    return x.repeat((1, *KERNELS[op.type].prepare(op).multiples))


MOVEMENT_FLOAT_OPS: dict[OpType, Callable] = {
    OpType.STRIDED_SLICE: _gather,
    OpType.SLICE: _gather,
    OpType.TRANSPOSE: _gather,
    OpType.SPLIT: _split,
    OpType.SPLIT_V: _split,
    OpType.UNPACK: _split,
    OpType.PACK: _pack,
    OpType.SQUEEZE: _reshape,
    OpType.EXPAND_DIMS: _reshape,
    OpType.TILE: _tile,
}
