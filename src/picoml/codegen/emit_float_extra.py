"""C emitters of float32 layers of the newer ops (merged into ``emit_float.FLOAT_EMITTERS`` /
``FLOAT_FILES`` by ``generate.py``, like the int8 ``emit_extra`` / ``emit_logic`` tables).

- copies, exact: MIRROR_PAD, PADV2, REVERSE_V2 (``pm_axis_gather_f32``: the reference's
  per-dimension index tables, a float pad value); SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND
  (``pm_pixel_copy_s8`` with a pixel of ``4 * depth`` bytes; the pad value 0.0 is all-zero bytes);
  GATHER_ND, EMBEDDING_LOOKUP (``pm_gather_nd_s8`` with strides, slice and bounds in bytes);
  FILL, ZEROS_LIKE, BROADCAST_TO (``pm_fill`` / ``pm_broadcast_to`` with 4-byte elements);
  SELECT_V2 (``pm_select_f32``);
- comparisons, exact: float operands, bool (uint8) output (``pm_compare_f32``);
- ADD_N: ``pm_add_n_f32`` sums in float32 in input order, as the reference;
- GELU (erf and tanh forms): ``pm_gelu_f32`` with its own freestanding ``pm_erff`` and
  ``pm_math_f32``'s tanhf (within ``verify.FLOAT_TOLERANCE``);
- FLOOR_DIV (the quotient in double, as the reference; a zero divisor fails invoke()), FLOOR_MOD
  (an exact freestanding fmodf moved to the divisor's sign);
- CAST to / from float32 (``pm_cast_f32``: C's conversions, out-of-range floats to INT32_MIN as
  the reference);
- L2_NORMALIZATION, LOG_SOFTMAX (rows of the last axis), CUMSUM and L2_POOL_2D: float32 sums in
  the reference's order with pm_math_f32's sqrtf / expf / logf (within the tolerance).

Runtime: runtime/pm_extra_f32.[ch] (no float in any int8 path: only float layers come here).
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.emit_float import MAX_DIMS, _window, f32, fptr
from picoml.codegen.emit_logic import _CMP_CODE, _bcast, _binary_bcast
from picoml.codegen.emit_nonlinear import _int32
from picoml.errors import UnsupportedError
from picoml.graph.extra_ops import log_softmax_rows
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS, axis_gather

EXTRA_F32 = "pm_extra_f32"
FLOAT_SIZE = 4


def _src(c, t: Tensor, sym: str) -> str:
    """float pointer to an activation, or a constant's static float array."""
    return fptr(c, t, True) if t.data is None else c.const_array(sym, np.asarray(t.data, np.float32))


def _bytes(c, t: Tensor, sym: str) -> str:
    """The same as int8 bytes (for the byte-copy kernels)."""
    return f"(const int8_t *)(const void *){_src(c, t, sym)}"


def _out(t: Tensor, c, ctype: str = "float") -> str:
    return f"({ctype} *)(void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def _bool_src(c, t: Tensor, sym: str) -> str:
    if t.data is not None:
        return c.const_array(sym, np.asarray(t.data).astype(np.uint8), "uint8_t")
    return f"(const uint8_t *)(const void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def emit_axis_gather(c, op: Op, i: int) -> None:
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
        "value": 0,
    }
    prm = c.struct("pm_axis_gather_params", f"l{i}_params", fields)
    tables = c.const_array(f"l{i}_tables", np.asarray([v for t in p.tables for v in t] or [0], np.int32))
    value = f32(axis_gather.pad_value(op) if p.padded else 0.0)
    c.body.append(f"status |= pm_axis_gather_f32(&{prm}, {tables}, {value}, {_src(c, x, f'l{i}_in')}, {_out(y, c)});")


def emit_pixel_copy(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    if float(p.value) != 0.0:
        raise UnsupportedError(f"{op.label}: float {op.type} with a nonzero pad value")
    table = c.const_array(f"l{i}_pixels", np.asarray(p.table, np.int32))
    c.body.append(
        f"status |= pm_pixel_copy_s8({len(p.table)}, {_int32(op, 'depth', p.depth * FLOAT_SIZE)}, {table}, 0, "
        f"{_bytes(c, x, f'l{i}_in')}, {c.ptr(y)});"
    )


def emit_gather_nd(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, idx, y = op.inputs[0], op.inputs[1], op.outputs[0]
    fields = {
        "count": int(idx.size // p.depth),
        "depth": p.depth,
        "stride": [_int32(op, "stride", s * FLOAT_SIZE) for s in p.strides] + [0] * (5 - p.depth),
        "slice": _int32(op, "slice", p.slice_size * FLOAT_SIZE),
        "total": _int32(op, "size", p.total * FLOAT_SIZE),
    }
    prm = c.struct("pm_gather_nd_params", f"l{i}_params", fields)
    if idx.data is not None:
        ids = c.const_array(f"l{i}_indices", np.asarray(idx.data).astype(np.int32).reshape(-1))
    else:
        ids = f"(const int32_t *)(const void *)(pm_arena.bytes + {c.plan.offset_of(idx)})"
    c.body.append(f"status |= pm_gather_nd_s8(&{prm}, {_bytes(c, x, f'l{i}_table')}, {ids}, {c.ptr(y)});")


def emit_fill(c, op: Op, i: int) -> None:
    """FILL (its scalar value), ZEROS_LIKE (0.0): pm_fill with 4-byte elements."""
    y = op.outputs[0]
    if op.type == OpType.ZEROS_LIKE:
        value = c.const_array(f"l{i}_zero", np.zeros(1, np.float32))
    else:
        value = _src(c, op.inputs[0], f"l{i}_value")
    c.body.append(f"status |= pm_fill({y.size}, {FLOAT_SIZE}, {value}, {_out(y, c)});")


def emit_broadcast_to(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    bc = _bcast(c, op, i, "pm_broadcast", {"stride_a": x.shape, "stride_b": ()})
    c.body.append(f"status |= pm_broadcast_to(&{bc}, {FLOAT_SIZE}, {_src(c, x, f'l{i}_x')}, {_out(y, c)});")


def emit_select(c, op: Op, i: int) -> None:
    cond, x, yv, out = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    bc = _bcast(c, op, i, "pm_select_broadcast", {"stride_c": cond.shape, "stride_x": x.shape, "stride_y": yv.shape})
    args = (_bool_src(c, cond, f"l{i}_c"), _src(c, x, f"l{i}_x"), _src(c, yv, f"l{i}_y"))
    c.body.append(f"status |= pm_select_f32(&{bc}, {', '.join(args)}, {_out(out, c)});")


def emit_compare(c, op: Op, i: int) -> None:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    bc = _binary_bcast(c, op, i)
    pa, pb = _src(c, a, f"l{i}_a"), _src(c, b, f"l{i}_b")
    c.body.append(f"status |= pm_compare_f32(&{bc}, {_CMP_CODE[op.type]}, {pa}, {pb}, {_out(y, c, 'uint8_t')});")


def emit_add_n(c, op: Op, i: int) -> None:
    y = op.outputs[0]
    srcs = [_src(c, t, f"l{i}_in{k}") for k, t in enumerate(op.inputs)]
    c.body.append(f"{{ const float *const ins[{len(srcs)}] = {{{', '.join(srcs)}}};")
    c.body.append(f"  status |= pm_add_n_f32({len(srcs)}, {y.size}, ins, {_out(y, c)}); }}")


def emit_gelu(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    approx = int(bool(KERNELS[op.type].prepare(op).approximate))
    c.body.append(f"status |= pm_gelu_f32({approx}, {y.size}, {_src(c, x, f'l{i}_x')}, {_out(y, c)});")


def emit_floor(c, op: Op, i: int) -> None:
    """FLOOR_DIV (fails the inference on a zero divisor, as tflite-micro), FLOOR_MOD."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    bc = _binary_bcast(c, op, i)
    pa, pb = _src(c, a, f"l{i}_a"), _src(c, b, f"l{i}_b")
    if op.type == OpType.FLOOR_DIV:
        c.body.append(f"status |= pm_floor_div_f32(&{bc}, {b.size}, {pa}, {pb}, {_out(y, c)});")
    else:
        c.body.append(f"status |= pm_floor_mod_f32(&{bc}, {pa}, {pb}, {_out(y, c)});")


_CAST_TYPE = {"int8": "PM_TYPE_INT8", "int32": "PM_TYPE_INT32", "bool": "PM_TYPE_BOOL", "float32": "PM_TYPE_FLOAT32"}
_CAST_CTYPE = {"int8": "int8_t", "int32": "int32_t", "bool": "uint8_t", "float32": "float"}


def emit_cast(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in _CAST_TYPE or y.dtype not in _CAST_TYPE or y.dtype == "bool":
        raise UnsupportedError(f"{op.label}: CAST {x.dtype} -> {y.dtype} has no C kernel")
    if x.data is not None:
        data = np.asarray(x.data)
        src = c.const_array(f"l{i}_x", data.astype(np.uint8) if x.dtype == "bool" else data, _CAST_CTYPE[x.dtype])
    else:
        src = f"(const void *)(pm_arena.bytes + {c.plan.offset_of(x)})"
    c.body.append(
        f"status |= pm_cast_f32({y.size}, {_CAST_TYPE[x.dtype]}, {_CAST_TYPE[y.dtype]}, {src}, "
        f"(void *)(pm_arena.bytes + {c.plan.offset_of(y)}));"
    )


def emit_rows(c, op: Op, i: int) -> None:
    """L2_NORMALIZATION, LOG_SOFTMAX over the last axis."""
    x, y = op.inputs[0], op.outputs[0]
    rows, depth = log_softmax_rows(op)
    fn = "pm_l2norm_f32" if op.type == OpType.L2_NORMALIZATION else "pm_log_softmax_f32"
    c.body.append(f"status |= {fn}({rows}, {depth}, {_src(c, x, f'l{i}_x')}, {_out(y, c)});")


def emit_cumsum(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    outer = _int32(op, "size", int(np.prod(x.shape[: p.axis], dtype=np.int64)))
    inner = _int32(op, "size", int(np.prod(x.shape[p.axis + 1 :], dtype=np.int64)))
    c.body.append(
        f"status |= pm_cumsum_f32({outer}, {int(x.shape[p.axis])}, {inner}, {int(p.exclusive)}, {int(p.reverse)}, "
        f"{_src(c, x, f'l{i}_x')}, {_out(y, c)});"
    )


def emit_l2_pool(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    if len(x.shape) != 4:
        raise UnsupportedError(f"{op.label}: L2_POOL_2D on a rank-{len(x.shape)} input (the C kernel takes NHWC)")
    fields = _window(x, y, p.kh, p.kw, {**op.attrs, "dilation_h": 1, "dilation_w": 1}, p.act_min, p.act_max)
    prm = c.struct("pm_window_f32_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_l2_pool2d_f32(&{prm}, {fptr(c, x, True)}, {_out(y, c)});")


FLOAT_EXTRA_EMITTERS = {
    OpType.MIRROR_PAD: emit_axis_gather,
    OpType.PADV2: emit_axis_gather,
    OpType.REVERSE_V2: emit_axis_gather,
    OpType.SPACE_TO_BATCH_ND: emit_pixel_copy,
    OpType.BATCH_TO_SPACE_ND: emit_pixel_copy,
    OpType.GATHER_ND: emit_gather_nd,
    OpType.EMBEDDING_LOOKUP: emit_gather_nd,
    OpType.FILL: emit_fill,
    OpType.ZEROS_LIKE: emit_fill,
    OpType.BROADCAST_TO: emit_broadcast_to,
    OpType.SELECT_V2: emit_select,
    **dict.fromkeys(_CMP_CODE, emit_compare),
    OpType.ADD_N: emit_add_n,
    OpType.GELU: emit_gelu,
    OpType.FLOOR_DIV: emit_floor,
    OpType.FLOOR_MOD: emit_floor,
    OpType.CAST: emit_cast,
    OpType.L2_NORMALIZATION: emit_rows,
    OpType.LOG_SOFTMAX: emit_rows,
    OpType.CUMSUM: emit_cumsum,
    OpType.L2_POOL_2D: emit_l2_pool,
}
FLOAT_EXTRA_FILES: dict[OpType, tuple[str, ...]] = {
    **dict.fromkeys(FLOAT_EXTRA_EMITTERS, (EXTRA_F32, "pm_axis_gather", "pm_logic", "pm_math_f32", "pm_nn_f32")),
    OpType.SPACE_TO_BATCH_ND: ("pm_pixel_copy_s8",),
    OpType.BATCH_TO_SPACE_ND: ("pm_pixel_copy_s8",),
    OpType.GATHER_ND: ("pm_gather_nd_s8",),
    OpType.EMBEDDING_LOOKUP: ("pm_gather_nd_s8",),
    OpType.FILL: ("pm_logic",),
    OpType.ZEROS_LIKE: ("pm_logic",),
    OpType.BROADCAST_TO: ("pm_logic",),
}
