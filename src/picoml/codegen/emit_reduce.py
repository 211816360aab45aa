"""C emitters for the int8 REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX, ARG_MIN, BATCH_MATMUL and GATHER kernels
(merged into ``generate.EMITTERS`` / ``KERNEL_FILES`` like ``emit_nonlinear``'s tables).

Every parameter comes from the reference kernel's ``prepare`` (bit-exact with tflite-micro):

- SUM is MEAN's kernel (``pm_mean_s8``) with SUM's multiplier (no 1/count folded in): the
  reference ``prepare`` returns MEAN's parameter record and ``emit_mean`` writes it;
- REDUCE_MAX / REDUCE_MIN walk MEAN's index spaces (``mean_index_spaces``, ``pm_mean_params``)
  with ``pm_reduce_min_max_s8`` in the same runtime file;
- ARG_MAX / ARG_MIN view the input as [outer, axis, inner] and write int32 indices
  (``pm_arg_min_max_s8``); the arena keeps every buffer 16-byte aligned (``plan.ALIGN``);
- BATCH_MATMUL (``pm_batch_matmul_s8``): the resolved loops of ``graph.reduce_ops`` as strides; a
  constant right operand is stored in flash with each column's depth contiguous; the accumulator
  bound |acc| ≤ depth · max|lhs - zp| · max|rhs - zp| (per column for a constant rhs) is proven
  below 2^29 (after the multiplier's left shift) to requantize with the pm_requant record, the
  fast path of every other layer; a layer that may exceed it keeps TFLite's general
  MultiplyByQuantizedMultiplier (``pm_scale_to_s8``), exact for any int32 accumulator;
- GATHER copies slices (``pm_gather_s8``) from an activation or a constant table (an embedding)
  at int32 positions, constant or computed; a position out of range makes invoke() fail.
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.emit_nonlinear import MAX_DIMS, _int32, _quantized, emit_mean, mean_index_spaces
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

REQUANT_BOUND = 1 << 29  # pm_requant_s8 is exact for |acc << max(shift, 0)| below it (pm_common.h)

REDUCE_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.REDUCE_MAX: ("pm_mean_s8",),
    OpType.REDUCE_MIN: ("pm_mean_s8",),
    OpType.SUM: ("pm_mean_s8",),
    OpType.ARG_MAX: ("pm_arg_min_max_s8",),
    OpType.ARG_MIN: ("pm_arg_min_max_s8",),
    OpType.BATCH_MATMUL: ("pm_batch_matmul_s8",),
    OpType.GATHER: ("pm_gather_s8",),
}


def _ptr32(c, t: Tensor) -> str:
    """An int32 activation in the arena (every buffer starts on a 16-byte boundary)."""
    if t.data is not None:
        raise UnsupportedError(f"tensor {t.name!r}: constant used where an activation is expected")
    return f"(int32_t *)(void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def emit_min_max(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    x, y = op.inputs[0], op.outputs[0]
    kept, reduced = mean_index_spaces(tuple(x.shape), tuple(p.axes))
    if len(kept) > MAX_DIMS or len(reduced) > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: {op.type} over more than {MAX_DIMS} merged dimensions")

    def padded(pairs: list[tuple[int, int]], k: int) -> list[int]:
        return [pr[k] for pr in pairs] + [0] * (MAX_DIMS - len(pairs))

    fields = {
        "input_zp": 0,
        "output_zp": 0,
        "multiplier": 0,
        "shift": 0,
        "count": _int32(op, "element count", int(np.prod([x.shape[a] for a in p.axes], dtype=np.int64))),
        "outer_rank": len(kept),
        "outer_shape": padded(kept, 0),
        "outer_stride": padded(kept, 1),
        "inner_rank": len(reduced),
        "inner_shape": padded(reduced, 0),
        "inner_stride": padded(reduced, 1),
    }
    prm = c.struct("pm_mean_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_reduce_min_max_s8(&{prm}, {int(p.is_min)}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_arg(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")
    outer = int(np.prod(x.shape[: p.axis], dtype=np.int64))
    inner = int(np.prod(x.shape[p.axis + 1 :], dtype=np.int64))
    c.body.append(
        f"status |= pm_arg_min_max_s8({outer}, {x.shape[p.axis]}, {inner}, {int(p.is_max)}, "
        f"{c.ptr(x, True)}, {_ptr32(c, y)});"
    )


def _deviation(zp: int) -> int:
    """The largest |q - zp| of an int8 code q."""
    return max(127 - zp, zp + 128)


def emit_batch_matmul(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]
    g = p.geometry
    rhs_batch, rhs_depth, rhs_col = g.rhs_batch, g.rhs_depth, g.rhs_col
    if rhs.data is not None:
        # flash: each column's depth contiguous ([..., cols, depth]), as adj_y stores it
        data = np.asarray(rhs.data)
        stored = data if p.adj_y else np.swapaxes(data, -1, -2)
        rhs_arg = c.const_array(f"l{i}_rhs", np.ascontiguousarray(stored).astype(np.int8))
        rhs_depth, rhs_col = 1, g.depth
        cols = np.abs(stored.astype(np.int64) - p.rhs_zp).reshape(-1, g.depth).sum(axis=1)
        bound = _deviation(p.lhs_zp) * int(cols.max())
    else:
        rhs_arg = c.ptr(rhs, True)
        bound = g.depth * _deviation(p.lhs_zp) * _deviation(p.rhs_zp)
    lhs_arg = c.const_array(f"l{i}_lhs", np.asarray(lhs.data).astype(np.int8)) if lhs.data is not None else None
    bounded = (bound << max(p.shift, 0)) < REQUANT_BOUND
    fields = {
        "batch": list(g.batch),
        "lhs_batch": list(g.lhs_batch),
        "rhs_batch": list(rhs_batch),
        "rows": g.rows,
        "cols": g.cols,
        "depth": _int32(op, "depth", g.depth),
        "lhs_row": g.lhs_row,
        "lhs_depth": g.lhs_depth,
        "rhs_depth": rhs_depth,
        "rhs_col": rhs_col,
        "lhs_zp": p.lhs_zp,
        "rhs_zp": p.rhs_zp,
        "output_zp": p.output_zp,
        "multiplier": _int32(op, "multiplier", p.multiplier),
        "shift": p.shift,
        "bounded": int(bounded),
    }
    prm = c.struct("pm_batch_matmul_params", f"l{i}_params", fields)
    rq = c.requant(f"l{i}_rq", p.multiplier, p.shift, 1) if bounded else "NULL"
    left = lhs_arg if lhs_arg is not None else c.ptr(lhs, True)
    c.body.append(f"status |= pm_batch_matmul_s8(&{prm}, {rq}, {left}, {rhs_arg}, {c.ptr(y)});")


def emit_gather(c, op: Op, i: int) -> None:
    """GATHER: the input (an activation or a constant table in flash) and the positions (int32: a
    constant array, or an activation such as ARG_MAX's output or a model input)."""
    p = KERNELS[op.type].prepare(op)
    x, pos, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if x.dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 GATHER compiles to C")
    g = p.geometry
    fields = {"batch": g.batch, "outer": g.outer, "axis_size": g.axis_size, "coords": g.coords, "inner": g.inner}
    prm = c.struct("pm_gather_params", f"l{i}_params", fields)
    src = c.const_array(f"l{i}_table", np.asarray(x.data).astype(np.int8)) if x.data is not None else c.ptr(x, True)
    if pos.data is not None:
        positions = c.const_array(f"l{i}_positions", np.asarray(pos.data).astype(np.int32).reshape(-1))
    else:
        positions = f"(const int32_t *)(const void *)(pm_arena.bytes + {c.plan.offset_of(pos)})"
    c.body.append(f"status |= pm_gather_s8(&{prm}, {src}, {positions}, {c.ptr(y)});")


REDUCE_EMITTERS = {
    OpType.REDUCE_MAX: emit_min_max,
    OpType.REDUCE_MIN: emit_min_max,
    OpType.SUM: emit_mean,
    OpType.ARG_MAX: emit_arg,
    OpType.ARG_MIN: emit_arg,
    OpType.BATCH_MATMUL: emit_batch_matmul,
    OpType.GATHER: emit_gather,
}
