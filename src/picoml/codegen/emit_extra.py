"""C emitters of the int8 ADD_N, MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX, GELU,
RELU_N1_TO_1, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, CUMSUM, GATHER_ND and EMBEDDING_LOOKUP kernels (merged into ``generate.EMITTERS`` / ``KERNEL_FILES`` like
``emit_nonlinear``'s tables). Every parameter comes from the reference kernel's ``prepare``:

- ADD_N: ``pm_add_n_s8`` (one pointer per input, tflite-micro's 2^20 fixed-point sum);
- MIRROR_PAD, PADV2, REVERSE_V2: ``pm_axis_gather_s8`` walks the reference's per-dimension index
  tables (flash: the sum of the output's dimensions, in int32);
- L2_NORMALIZATION, LOG_SOFTMAX: row kernels in gemmlowp fixed point (``pm_fixedpoint_math.h``);
- GELU, RELU_N1_TO_1: the reference kernel on all 256 codes, one ``pm_lut_s8`` call;
- SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND: ``pm_pixel_copy_s8`` with the reference's table of source
  pixels (one int32 per output pixel, channels copied as runs);
- CUMSUM: ``pm_cumsum_s8`` (ADD_N's arithmetic along one axis);
- GATHER_ND, EMBEDDING_LOOKUP: ``pm_gather_nd_s8`` (constant or computed int32 indices; a slice
  outside the tensor makes invoke() fail, as tflite-micro's inference does).

L2_POOL_2D is float32 only (tflite-micro has no int8 kernel): no C.

Float graphs are refused here as everywhere in the generated C (``only int8 ... compiles to C``).
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.emit_nonlinear import MAX_DIMS, _int32
from picoml.errors import UnsupportedError
from picoml.graph.extra_ops import log_softmax_rows
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS, axis_gather

EXTRA_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.ADD_N: ("pm_add_n_s8",),
    OpType.MIRROR_PAD: ("pm_axis_gather",),
    OpType.PADV2: ("pm_axis_gather",),
    OpType.REVERSE_V2: ("pm_axis_gather",),
    OpType.L2_NORMALIZATION: ("pm_l2norm_s8",),
    OpType.LOG_SOFTMAX: ("pm_log_softmax_s8",),
    OpType.GELU: ("pm_lut_s8",),
    OpType.RELU_N1_TO_1: ("pm_lut_s8",),
    OpType.SPACE_TO_BATCH_ND: ("pm_pixel_copy_s8",),
    OpType.BATCH_TO_SPACE_ND: ("pm_pixel_copy_s8",),
    OpType.CUMSUM: ("pm_cumsum_s8",),
    OpType.GATHER_ND: ("pm_gather_nd_s8",),
    OpType.EMBEDDING_LOOKUP: ("pm_gather_nd_s8",),
}


def _int8_only(op: Op) -> None:
    if op.inputs[0].dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")


def emit_add_n(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    fields = {
        "count": len(op.inputs),
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "input_multiplier": _int32(op, "multiplier", p.input_multiplier),
        "input_shift": p.input_shift,
        "output_multiplier": _int32(op, "multiplier", p.output_multiplier),
        "output_shift": p.output_shift,
    }
    prm = c.struct("pm_add_n_params", f"l{i}_params", fields)
    srcs = []
    for k, t in enumerate(op.inputs):
        srcs.append(
            c.const_array(f"l{i}_in{k}", np.asarray(t.data).astype(np.int8)) if t.data is not None else c.ptr(t, True)
        )
    y = op.outputs[0]
    c.body.append(f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{', '.join(srcs)}}};")
    c.body.append(f"  status |= pm_add_n_s8(&{prm}, {y.size}, ins, {c.ptr(y)}); }}")


def emit_axis_gather(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    rank = len(p.in_shape)
    if rank > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: {op.type} of rank {rank} (the C kernel takes up to {MAX_DIMS})")
    strides = [int(np.prod(p.in_shape[d + 1 :], dtype=np.int64)) for d in range(rank)]
    fill = [0] * (MAX_DIMS - rank)
    fields = {
        "rank": rank,
        "out_shape": [len(t) for t in p.tables] + fill,
        "in_stride": [_int32(op, "stride", s) for s in strides] + fill,
        "value": int(axis_gather.pad_value(op)) if p.padded else 0,
    }
    prm = c.struct("pm_axis_gather_params", f"l{i}_params", fields)
    flat = [v for t in p.tables for v in t] or [0]
    tables = c.const_array(f"l{i}_tables", np.asarray(flat, np.int32))
    src = c.const_array(f"l{i}_in", np.asarray(x.data).astype(np.int8)) if x.data is not None else c.ptr(x, True)
    c.body.append(f"status |= pm_axis_gather_s8(&{prm}, {tables}, {src}, {c.ptr(y)});")


def emit_l2norm(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    depth = int(x.shape[-1])
    rows = x.size // depth
    c.body.append(f"status |= pm_l2norm_s8({rows}, {depth}, {p.input_zp}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_log_softmax(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    rows, depth = log_softmax_rows(op)
    fields = {
        "input_multiplier": _int32(op, "multiplier", p.input_multiplier),
        "input_left_shift": p.input_left_shift,
        "reverse_multiplier": _int32(op, "multiplier", p.reverse_multiplier),
        "reverse_shift": p.reverse_shift,
        "diff_min": _int32(op, "diff_min", p.diff_min),
    }
    prm = c.struct("pm_log_softmax_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_log_softmax_s8(&{prm}, {rows}, {depth}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_lut(c, op: Op, i: int) -> None:
    """GELU, RELU_N1_TO_1: the reference kernel on every int8 code (exact by construction)."""
    _int8_only(op)
    k = KERNELS[op.type]
    x, y = op.inputs[0], op.outputs[0]
    table = k.evaluate(k.prepare(op), [np.arange(-128, 128, dtype=np.int8)]).astype(np.int8)
    lut = c.const_array(f"l{i}_lut", table)
    c.body.append(f"status |= pm_lut_s8({lut}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def _src(c, t, sym: str) -> str:
    return c.const_array(sym, np.asarray(t.data).astype(np.int8)) if t.data is not None else c.ptr(t, True)


def emit_pixel_copy(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    table = c.const_array(f"l{i}_pixels", np.asarray(p.table, np.int32))
    c.body.append(
        f"status |= pm_pixel_copy_s8({len(p.table)}, {p.depth}, {table}, {int(p.value)}, "
        f"{_src(c, x, f'l{i}_in')}, {c.ptr(y)});"
    )


def emit_cumsum(c, op: Op, i: int) -> None:
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    fields = {
        "outer": int(np.prod(x.shape[: p.axis], dtype=np.int64)),
        "depth": int(x.shape[p.axis]),
        "inner": int(np.prod(x.shape[p.axis + 1 :], dtype=np.int64)),
        "exclusive": int(p.exclusive),
        "reverse": int(p.reverse),
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "input_multiplier": _int32(op, "multiplier", p.input_multiplier),
        "input_shift": p.input_shift,
        "output_multiplier": _int32(op, "multiplier", p.output_multiplier),
        "output_shift": p.output_shift,
    }
    prm = c.struct("pm_cumsum_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_cumsum_s8(&{prm}, {_src(c, x, f'l{i}_in')}, {c.ptr(y)});")


def emit_gather_nd(c, op: Op, i: int) -> None:
    """GATHER_ND, EMBEDDING_LOOKUP: params an activation or a constant table (flash); the int32
    indices a constant array or an activation (a model input, an ARG_MAX)."""
    _int8_only(op)
    p = KERNELS[op.type].prepare(op)
    x, idx, y = op.inputs[0], op.inputs[1], op.outputs[0]
    fields = {
        "count": int(idx.size // p.depth),
        "depth": p.depth,
        "stride": [_int32(op, "stride", s) for s in p.strides] + [0] * (5 - p.depth),
        "slice": _int32(op, "slice", p.slice_size),
        "total": _int32(op, "size", p.total),
    }
    prm = c.struct("pm_gather_nd_params", f"l{i}_params", fields)
    if idx.data is not None:
        ids = c.const_array(f"l{i}_indices", np.asarray(idx.data).astype(np.int32).reshape(-1))
    else:
        ids = f"(const int32_t *)(const void *)(pm_arena.bytes + {c.plan.offset_of(idx)})"
    c.body.append(f"status |= pm_gather_nd_s8(&{prm}, {_src(c, x, f'l{i}_table')}, {ids}, {c.ptr(y)});")


EXTRA_EMITTERS = {
    OpType.ADD_N: emit_add_n,
    OpType.MIRROR_PAD: emit_axis_gather,
    OpType.PADV2: emit_axis_gather,
    OpType.REVERSE_V2: emit_axis_gather,
    OpType.L2_NORMALIZATION: emit_l2norm,
    OpType.LOG_SOFTMAX: emit_log_softmax,
    OpType.GELU: emit_lut,
    OpType.RELU_N1_TO_1: emit_lut,
    OpType.SPACE_TO_BATCH_ND: emit_pixel_copy,
    OpType.BATCH_TO_SPACE_ND: emit_pixel_copy,
    OpType.CUMSUM: emit_cumsum,
    OpType.GATHER_ND: emit_gather_nd,
    OpType.EMBEDDING_LOOKUP: emit_gather_nd,
}
