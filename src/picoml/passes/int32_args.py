"""Constant int64 arguments as int32, for the C generator.

Converters write some shape arguments as int64 (TILE's multiples, BROADCAST_TO's shape, PAD and
MIRROR_PAD paddings, reduction axes); the C kernels take int32. A constant int64 tensor whose
values fit int32 is replaced by an int32 copy (same values: the generated C computes the same);
one that does not fit, or a computed int64 tensor, is refused with one line naming op and tensor.
The graph given is not changed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.int16_ops import is_int16_op
from picoml.graph.ir import Graph, Op, Tensor

INT32 = np.iinfo(np.int32)


def int32_arguments(g: Graph) -> Graph:
    """``g`` with every constant int64 op input as an int32 tensor (``g`` itself when there is none)."""
    conv: dict[int, Tensor] = {}
    for op in g.ops:
        if is_int16_op(op):
            continue  # 16x8 layers keep their int64 bias (codegen/emit_s16.py)
        for t in op.inputs + op.outputs:
            if t is None or t.dtype != "int64" or id(t) in conv:
                continue
            if t.data is None:
                raise UnsupportedError(
                    f"{op.label}: {t.name!r} is a computed int64 tensor; the C kernels take int32 (int64 only as "
                    "a constant argument)"
                )
            v = np.asarray(t.data, np.int64)
            if v.size and (v.min() < INT32.min or v.max() > INT32.max):
                raise UnsupportedError(
                    f"{op.label}: int64 constant {t.name!r} holds {int(v.max() if v.max() > INT32.max else v.min())}, "
                    "beyond the C kernels' int32"
                )
            conv[id(t)] = replace(t, dtype="int32", data=v.astype(np.int32))
    if not conv:
        return g
    ops = [
        Op(op.type, [None if t is None else conv.get(id(t), t) for t in op.inputs], list(op.outputs), op.attrs, op.name)
        for op in g.ops
    ]
    return Graph([conv.get(id(t), t) for t in g.tensors], ops, g.inputs, g.outputs, g.name, g.description)
