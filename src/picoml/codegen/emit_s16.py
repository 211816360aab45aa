"""C emitters of the int16-activation (16x8) layers and of the int16 edges: FULLY_CONNECTED,
CONV_2D, DEPTHWISE_CONV_2D (runtime/pm_layers_s16.[ch]), QUANTIZE between int8 / int16 / int32
(runtime/pm_quantize_s16.[ch]), float32 → int16 and DEQUANTIZE int16 → float32
(runtime/pm_float_s16.[ch]), and the int16
PAD and CONCATENATION (byte kernels of pm_data_s8 on 2-byte elements).

``generate.py`` merges these with ``wrap_s16``: each op listed here dispatches on its tensors'
dtypes (``handles``), so the int8 and float emitters stay as they are. The parameters come from
the reference kernels' ``prepare`` (reference/s16.py, reference/quantize.py), as everywhere.
The 16x8 kernels are portable C99 on every ISA: int32 products, int64 accumulators where
tflite-micro has them, explicit int32_t / int64_t everywhere (int is 16 bits on AVR), no float.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from picoml.codegen.emit_binary import broadcast_struct
from picoml.codegen.emit_nonlinear import mean_index_spaces
from picoml.errors import UnsupportedError
from picoml.graph.int16_ops import is_int16_op
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType, concat_axis
from picoml.reference import KERNELS
from picoml.reference.common import window_geometry
from picoml.reference.s16_softmax import EXP_LUT, RECIP_LUT

LAYERS_FILE = "pm_layers_s16"
QUANTIZE_FILE = "pm_quantize_s16"
FLOAT_EDGE_FILE = "pm_float_s16"  # float32 <-> int16: the only float in this module's kernels
SIGMOID_FILE = "pm_sigmoid_s16"
OPS_FILE = "pm_ops_s16"
MEAN_HEADER_FILE = "pm_mean_s8"  # pm_mean_params (MEAN's index spaces), shared with the int8 kernel
DATA_FILE = "pm_data_s8"
RESIZE_FILE = "pm_resize_s8"  # its nearest-neighbour gather moves bytes
BATCH_MATMUL_HEADER_FILE = "pm_batch_matmul_s8"  # pm_batch_matmul_params (the geometry)
#: runtime files of this module (.h and .c each)
S16_FILES = (LAYERS_FILE, QUANTIZE_FILE, FLOAT_EDGE_FILE, SIGMOID_FILE, OPS_FILE)

INT64_MIN = -(1 << 63)
_CTYPE = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}
_TYPE_CODE = {"int8": 1, "int16": 2, "int32": 4}  # PM_Q_S8 / PM_Q_S16 / PM_Q_S32: the element size


def _ptr(c: Any, t: Tensor, const: bool = False) -> str:
    if t.data is not None:
        raise UnsupportedError(f"tensor {t.name!r}: constant used where an activation is expected")
    q = "const " if const else ""
    return f"({q}{_CTYPE[t.dtype]} *)({q}void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def int64_array(c: Any, sym: str, values: np.ndarray) -> str:
    """``static const int64_t`` values written with INT64_C (C99 <stdint.h>): exact for any int64."""
    name = f"{c.name}_{sym}"
    items = [
        "(-INT64_C(9223372036854775807) - 1)" if int(v) == INT64_MIN else f"INT64_C({int(v)})"
        for v in np.asarray(values, np.int64).reshape(-1)
    ]
    body = ",\n  ".join(", ".join(items[k : k + 8]) for k in range(0, len(items), 8)) or "0"
    c.decls.append(f"static const int64_t {name}[{max(len(items), 1)}] = {{\n  {body}\n}};\n")
    c.weight_bytes += 8 * len(items)
    return name


def _rescale(c: Any, i: int, p: Any) -> str:
    mult = c.const_array(f"l{i}_mult", np.asarray(p.multiplier, np.int64).astype(np.int32))
    shift = c.const_array(f"l{i}_shift", np.asarray(p.shift, np.int64).astype(np.int32))
    return c.struct("pm_rescale_s16", f"l{i}_rq", {"multiplier": mult, "shift": shift})


def _dims(shape: tuple[int, ...]) -> dict[str, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return {"n": s[0], "h": s[1], "w": s[2], "c": s[3]}


def emit_fc_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    units, depth = p.weights.shape
    c.files.update((LAYERS_FILE, BATCH_MATMUL_HEADER_FILE))  # pm_layers_s16.h includes its header
    fields = {
        "batches": x.size // depth,
        "depth": depth,
        "units": units,
        "act_min": p.act_min,
        "act_max": p.act_max,
        "acc64": int(not p.acc32),
    }
    prm = c.struct("pm_fully_connected_s16_params", f"l{i}_params", fields)
    w = c.const_array(f"l{i}_weights", p.weights)
    b = int64_array(c, f"l{i}_bias", p.bias)
    rq = _rescale(c, i, p)
    c.body.append(f"status |= pm_fully_connected_s16(&{prm}, &{rq}, {_ptr(c, x, True)}, {w}, {b}, {_ptr(c, y)});")


def emit_conv_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    kh, kw = p.weights.shape[1], p.weights.shape[2]
    _, _, pad_h, pad_w = window_geometry(
        x.shape[1], x.shape[2], kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding
    )
    c.files.update((LAYERS_FILE, BATCH_MATMUL_HEADER_FILE))  # pm_layers_s16.h includes its header
    fields = {
        "stride_h": p.stride_h,
        "stride_w": p.stride_w,
        "dilation_h": p.dilation_h,
        "dilation_w": p.dilation_w,
        "pad_h": pad_h,
        "pad_w": pad_w,
        "depth_multiplier": op.attrs.get("depth_multiplier", 1),
        "per_group": y.shape[3] // p.groups,
        "act_min": p.act_min,
        "act_max": p.act_max,
        "acc64": int(not p.acc32),
    }
    prm = c.struct("pm_conv_s16_params", f"l{i}_params", fields)
    w = c.const_array(f"l{i}_filter", p.weights)
    b = int64_array(c, f"l{i}_bias", p.bias)
    rq = _rescale(c, i, p)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    df = c.struct("pm_dims", f"l{i}_f_dims", _dims(p.weights.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    fn = "pm_depthwise_conv2d_s16" if op.type == OpType.DEPTHWISE_CONV_2D else "pm_conv2d_s16"
    c.body.append(f"status |= {fn}(&{prm}, &{rq}, &{di}, {_ptr(c, x, True)}, &{df}, {w}, {b}, &{do}, {_ptr(c, y)});")


def emit_transpose_conv_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    g = p.geometry
    x, y = op.inputs[0], op.outputs[0]
    c.files.update((LAYERS_FILE, BATCH_MATMUL_HEADER_FILE))  # pm_layers_s16.h includes its header
    fields = {
        "stride_h": g.stride_h,
        "stride_w": g.stride_w,
        "q0_h": g.pad_h // g.stride_h,
        "r0_h": g.pad_h % g.stride_h,
        "q0_w": g.pad_w // g.stride_w,
        "r0_w": g.pad_w % g.stride_w,
        "act_min": p.act_min,
        "act_max": p.act_max,
    }
    if g.pad_h < 0 or g.pad_w < 0:
        raise UnsupportedError(f"{op.label}: negative TRANSPOSE_CONV padding has no int16 C kernel")
    prm = c.struct("pm_transpose_conv_s16_params", f"l{i}_params", fields)
    w = c.const_array(f"l{i}_filter", g.filter)
    b = int64_array(c, f"l{i}_bias", p.bias)
    rq = _rescale(c, i, p)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    df = c.struct("pm_dims", f"l{i}_f_dims", _dims(g.filter.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    c.body.append(
        f"status |= pm_transpose_conv_s16(&{prm}, &{rq}, &{di}, {_ptr(c, x, True)}, &{df}, {w}, {b}, &{do}, "
        f"{_ptr(c, y)});"
    )


def emit_batch_matmul_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    g = p.base.geometry
    lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]
    c.files.update((LAYERS_FILE, BATCH_MATMUL_HEADER_FILE))  # pm_layers_s16.h includes its header
    rhs_depth, rhs_col = g.rhs_depth, g.rhs_col
    if rhs.data is not None:  # stored with each column's depth contiguous, as adj_y keeps it
        data = np.asarray(rhs.data)
        stored = data if p.base.adj_y else np.swapaxes(data, -1, -2)
        rhs_arg = c.const_array(f"l{i}_rhs", np.ascontiguousarray(stored).astype(np.int16))
        rhs_depth, rhs_col = 1, g.depth
    else:
        rhs_arg = _ptr(c, rhs, True)
    lhs_arg = c.const_array(f"l{i}_lhs", np.asarray(lhs.data).astype(np.int16)) if lhs.data is not None else None
    fields = {
        "batch": list(g.batch),
        "lhs_batch": list(g.lhs_batch),
        "rhs_batch": list(g.rhs_batch),
        "rows": g.rows,
        "cols": g.cols,
        "depth": g.depth,
        "lhs_row": g.lhs_row,
        "lhs_depth": g.lhs_depth,
        "rhs_depth": rhs_depth,
        "rhs_col": rhs_col,
        "lhs_zp": 0,
        "rhs_zp": 0,
        "output_zp": 0,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "bounded": 0,
    }
    prm = c.struct("pm_batch_matmul_params", f"l{i}_params", fields)
    left = lhs_arg if lhs_arg is not None else _ptr(c, lhs, True)
    c.body.append(f"status |= pm_batch_matmul_s16(&{prm}, {left}, {rhs_arg}, {_ptr(c, y)});")


def emit_quantize_s16(c: Any, op: Op, i: int) -> None:
    """QUANTIZE int8 / int16 / int32 → int8 / int16, and float32 → int16."""
    x, y = op.inputs[0], op.outputs[0]
    p = KERNELS[op.type].prepare(op)
    if x.dtype == "float32":
        c.files.add(FLOAT_EDGE_FILE)
        scale = c.const_array(f"l{i}_scale", np.asarray([p.scale], np.float32))
        c.body.append(
            f"status |= pm_quantize_f32_s16({scale}[0], {p.output_zp}, {x.size}, {_ptr(c, x, True)}, {_ptr(c, y)});"
        )
        return
    c.files.add(QUANTIZE_FILE)
    info = np.iinfo(y.np_dtype)
    fields = {
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "act_min": int(info.min),
        "act_max": int(info.max),
    }
    prm = c.struct("pm_requantize_s16_params", f"l{i}_params", fields)
    c.body.append(
        f"status |= pm_requantize_s16(&{prm}, {x.size}, {_TYPE_CODE[x.dtype]}, {_ptr(c, x, True)}, "
        f"{_TYPE_CODE[y.dtype]}, {_ptr(c, y)});"
    )


def emit_dequantize_s16(c: Any, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    p = KERNELS[op.type].prepare(op)
    c.files.add(FLOAT_EDGE_FILE)
    scale = c.const_array(f"l{i}_scale", np.asarray([p.scale], np.float32))
    c.body.append(
        f"status |= pm_dequantize_s16_f32({scale}[0], {p.zero_point}, {x.size}, {_ptr(c, x, True)}, {_ptr(c, y)});"
    )


def emit_sigmoid_s16(c: Any, op: Op, i: int) -> None:
    """int16 LOGISTIC / TANH (reference/s16_nonlinear.py)."""
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.files.add(SIGMOID_FILE)
    c.body.append(
        f"status |= pm_sigmoid_s16({int(p.tanh)}, {p.multiplier}, {p.left_shift}, {x.size}, {_ptr(c, x, True)}, "
        f"{_ptr(c, y)});"
    )


def _operand16(c: Any, t: Tensor, sym: str) -> str:
    return c.const_array(sym, t.data) if t.data is not None else _ptr(c, t, True)


def emit_binary_s16(c: Any, op: Op, i: int) -> None:
    """int16 ADD / SUB / MUL with broadcasting (reference/s16_ops.py)."""
    p = KERNELS[op.type].prepare(op)
    c.files.add(OPS_FILE)
    c.files.add(MEAN_HEADER_FILE)
    kind = {OpType.ADD: 0, OpType.SUB: 1, OpType.MUL: 2, OpType.MAXIMUM: 3, OpType.MINIMUM: 4}[op.type]
    fields = {"kind": kind}
    if kind < 3:  # MAXIMUM / MINIMUM have no parameters
        fields.update(m1=p.m1, s1=p.s1, m2=p.m2, s2=p.s2, mo=p.mo, so=p.so, act_min=p.act_min, act_max=p.act_max)
    prm = c.struct("pm_binary_s16_params", f"l{i}_params", fields)
    bc = broadcast_struct(c, op, i)
    a = _operand16(c, op.inputs[0], f"l{i}_a")
    b = _operand16(c, op.inputs[1], f"l{i}_b")
    c.body.append(f"status |= pm_binary_s16(&{prm}, &{bc}, {a}, {b}, {_ptr(c, op.outputs[0])});")


def emit_pool_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    _, _, pad_h, pad_w = window_geometry(
        x.shape[1], x.shape[2], p.filter_h, p.filter_w, p.stride_h, p.stride_w, 1, 1, p.padding
    )
    c.files.add(OPS_FILE)
    c.files.add(MEAN_HEADER_FILE)
    fields = {
        "average": int(p.average),
        "filter_h": p.filter_h,
        "filter_w": p.filter_w,
        "stride_h": p.stride_h,
        "stride_w": p.stride_w,
        "pad_h": pad_h,
        "pad_w": pad_w,
        "act_min": p.act_min,
        "act_max": p.act_max,
    }
    prm = c.struct("pm_pool_s16_params", f"l{i}_params", fields)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    c.body.append(f"status |= pm_pool_s16(&{prm}, &{di}, {_ptr(c, x, True)}, &{do}, {_ptr(c, y)});")


def emit_mean_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    kept, reduced = mean_index_spaces(tuple(x.shape), tuple(p.axes))
    if len(kept) > 6 or len(reduced) > 6:
        raise UnsupportedError(f"{op.label}: MEAN over more than 6 merged dimensions")
    c.files.add(OPS_FILE)
    c.files.add(MEAN_HEADER_FILE)

    def padded(pairs: list[tuple[int, int]], k: int) -> list[int]:
        return [pr[k] for pr in pairs] + [0] * (6 - len(pairs))

    fields = {
        "input_zp": 0,
        "output_zp": 0,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "count": p.count,
        "outer_rank": len(kept),
        "outer_shape": padded(kept, 0),
        "outer_stride": padded(kept, 1),
        "inner_rank": len(reduced),
        "inner_shape": padded(reduced, 0),
        "inner_stride": padded(reduced, 1),
    }
    prm = c.struct("pm_mean_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_mean_s16(&{prm}, {_ptr(c, x, True)}, {_ptr(c, y)});")


def emit_softmax_s16(c: Any, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.files.add(OPS_FILE)
    c.files.add(MEAN_HEADER_FILE)
    depth = int(x.shape[-1])
    exp_lut = c.const_array(f"l{i}_exp_lut", EXP_LUT.astype(np.int16))
    recip_lut = c.const_array(f"l{i}_recip_lut", RECIP_LUT.astype(np.int16))
    c.body.append(
        f"status |= pm_softmax_s16({p.multiplier}, {p.shift}, {x.size // depth}, {depth}, {exp_lut}, {recip_lut}, "
        f"{_ptr(c, x, True)}, {_ptr(c, y)});"
    )


def emit_activation_s16(c: Any, op: Op, i: int) -> None:
    """int16 RELU, RELU6, LEAKY_RELU (reference/s16_ops.py)."""
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.files.add(OPS_FILE)
    c.files.add(MEAN_HEADER_FILE)
    kind = {OpType.RELU: 0, OpType.RELU6: 1, OpType.LEAKY_RELU: 2, OpType.ABS: 3}[op.type]
    fields = {
        "kind": kind,
        "act_min": p.act_min,
        "act_max": p.act_max,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "alpha_multiplier": p.alpha_multiplier,
        "alpha_shift": p.alpha_shift,
    }
    prm = c.struct("pm_act_s16_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_act_s16(&{prm}, {x.size}, {_ptr(c, x, True)}, {_ptr(c, y)});")


def emit_resize_nearest_s16(c: Any, op: Op, i: int) -> None:
    """int16 RESIZE_NEAREST_NEIGHBOR: the int8 pixel gather on twice the channels (each int16 code is
    two bytes that move together)."""
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.files.add(RESIZE_FILE)
    di = c.struct("pm_dims", f"l{i}_in_dims", {**_dims(x.shape), "c": 2 * int(x.shape[3])})
    do = c.struct("pm_dims", f"l{i}_out_dims", {**_dims(y.shape), "c": 2 * int(y.shape[3])})
    rows = c.const_array(f"l{i}_rows", np.asarray(p.rows, np.int64).astype(np.int16))
    cols = c.const_array(f"l{i}_cols", np.asarray(p.cols, np.int64).astype(np.int16))
    c.body.append(f"status |= pm_resize_nearest_s8(&{di}, {c.ptr(x, True)}, &{do}, {rows}, {cols}, {c.ptr(y)});")


def emit_pad_s16(c: Any, op: Op, i: int) -> None:
    """int16 PAD as a byte PAD of the tensor seen with its last dimension doubled (fill 0 = the
    zero point of a 16x8 tensor; other fills are refused)."""
    x, y = op.inputs[0], op.outputs[0]
    if y.quantized and int(y.zero_point[0]) != 0:
        raise UnsupportedError(f"{op.label}: int16 PAD with zero point {int(y.zero_point[0])} has no C kernel")
    pads = np.asarray(op.inputs[1].data).reshape(-1, 2).astype(np.int64)
    rank = len(x.shape)
    if rank > 6 or rank == 0:
        raise UnsupportedError(f"{op.label}: int16 PAD over {rank} dimensions has no C kernel")
    shape = list(x.shape)
    shape[-1] *= 2
    pads[-1] *= 2
    fill = [0] * (6 - rank)
    fields = {
        "rank": rank,
        "in_shape": shape + fill,
        "before": [int(v) for v in pads[:, 0]] + fill,
        "after": [int(v) for v in pads[:, 1]] + fill,
        "value": 0,
    }
    c.files.add(DATA_FILE)
    prm = c.struct("pm_pad_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_pad_s8(&{prm}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_concat_s16(c: Any, op: Op, i: int) -> None:
    """int16 CONCATENATION: the byte kernel on blocks twice as long (codes are copied as they are;
    validate has checked the inputs share the output's quantization where tflite-micro needs it)."""
    ax = concat_axis(op)
    y = op.outputs[0]
    outer = int(np.prod(y.shape[:ax], dtype=np.int64))
    inner = [2 * int(np.prod(t.shape[ax:], dtype=np.int64)) for t in op.inputs]
    c.files.add(DATA_FILE)
    sizes = c.const_array(f"l{i}_inner", np.array(inner, np.int32))
    ptrs = []
    for k, t in enumerate(op.inputs):
        if t.data is not None:
            ptrs.append(f"(const int8_t *)(const void *){c.const_array(f'l{i}_in{k}', t.data)}")
        else:
            ptrs.append(c.ptr(t, True))
    c.body.append(f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{', '.join(ptrs)}}};")
    c.body.append(f"  status |= pm_concatenation_s8({len(op.inputs)}, {outer}, {sizes}, ins, {c.ptr(y)}); }}")


def _int16_edge(op: Op) -> bool:
    """A QUANTIZE / DEQUANTIZE the int8 and float emitters do not cover."""
    x, y = op.inputs[0], op.outputs[0]
    return "int16" in (x.dtype, y.dtype) or (x.dtype == "int32" and op.type == OpType.QUANTIZE)


def handles(op: Op) -> bool:
    """Whether this module emits ``op``."""
    if op.type in (OpType.QUANTIZE, OpType.DEQUANTIZE):
        return _int16_edge(op)
    if op.type in (OpType.PAD, OpType.CONCATENATION):
        return op.outputs[0].dtype == "int16"
    return is_int16_op(op)


S16_EMITTERS: dict[OpType, Callable[[Any, Op, int], None]] = {
    OpType.FULLY_CONNECTED: emit_fc_s16,
    OpType.CONV_2D: emit_conv_s16,
    OpType.DEPTHWISE_CONV_2D: emit_conv_s16,
    OpType.ADD: emit_binary_s16,
    OpType.SUB: emit_binary_s16,
    OpType.MUL: emit_binary_s16,
    OpType.MAXIMUM: emit_binary_s16,
    OpType.MINIMUM: emit_binary_s16,
    OpType.SUM: emit_mean_s16,
    OpType.AVERAGE_POOL_2D: emit_pool_s16,
    OpType.MAX_POOL_2D: emit_pool_s16,
    OpType.MEAN: emit_mean_s16,
    OpType.SOFTMAX: emit_softmax_s16,
    OpType.RELU: emit_activation_s16,
    OpType.RELU6: emit_activation_s16,
    OpType.LEAKY_RELU: emit_activation_s16,
    OpType.ABS: emit_activation_s16,
    OpType.RESIZE_NEAREST_NEIGHBOR: emit_resize_nearest_s16,
    OpType.LOGISTIC: emit_sigmoid_s16,
    OpType.TANH: emit_sigmoid_s16,
    OpType.TRANSPOSE_CONV: emit_transpose_conv_s16,
    OpType.BATCH_MATMUL: emit_batch_matmul_s16,
    OpType.QUANTIZE: emit_quantize_s16,
    OpType.DEQUANTIZE: emit_dequantize_s16,
    OpType.PAD: emit_pad_s16,
    OpType.CONCATENATION: emit_concat_s16,
}


def wrap_s16(table: dict) -> dict:
    """Entries for an emitter table (generate.EMITTERS or emit_float.FLOAT_EMITTERS): every op of
    S16_EMITTERS that ``table`` has goes to its int16 emitter when ``handles`` says so, else to
    the table's own."""

    def dispatch(own: Callable, mine: Callable) -> Callable:
        def emit(c: Any, op: Op, i: int) -> None:
            (mine if handles(op) else own)(c, op, i)

        emit.__wrapped__ = own  # type: ignore[attr-defined]  # the table's own emitter (tests/test_registry.py)
        return emit

    return {t: dispatch(table[t], S16_EMITTERS[t]) for t in S16_EMITTERS if t in table}
