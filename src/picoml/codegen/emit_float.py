"""C emitters of the float32 layers: float models, and the QUANTIZE / DEQUANTIZE edges of int8
models with a float interface. ``generate.py`` sends every layer that reads or writes a float32
tensor here (``uses_float``); the int8 path never reaches this module, so an int8 model's
library contains no float code (the ELF symbol scan of tests/codegen/test_codegen.py).

Parameters come from the reference kernel's ``prepare`` (the same geometry, activation range and
quantization the interpreter uses). The kernels are runtime/pm_nn_f32.[ch] (window and matrix
ops, resize), runtime/pm_elementwise_f32.[ch] (binary, unary, QUANTIZE, DEQUANTIZE, SOFTMAX,
reductions) and runtime/pm_math_f32.[ch] (freestanding expf, logf, ... in float only: no libm
on the bare-metal targets). Data-movement ops move bytes and are dtype-agnostic: the int8
emitters serve float32 unchanged (``BYTE_OPS``), CONCATENATION and PAD here with the element
size (PAD's float value 0.0 is all-zero bytes).

QUANTIZE and DEQUANTIZE are exact (one IEEE division / multiplication and TFLite's rounding);
the other float kernels accumulate in float32 in their own loop order, so they agree with the
reference interpreter within the tolerance ``picoml verify`` states (``FLOAT_RTOL``)."""

from __future__ import annotations

import math

import numpy as np

from picoml.codegen.emit_binary import broadcast_struct
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType, concat_axis
from picoml.graph.resize_ops import TC_INPUT
from picoml.reference import KERNELS
from picoml.reference.common import window_geometry
from picoml.reference.conv2d import HYBRID_PER_TENSOR

MAX_DIMS = 6  # PM_MAX_DIMS in pm_common.h
NN, ELEMENTWISE, MATH = "pm_nn_f32", "pm_elementwise_f32", "pm_math_f32"
BYTES = "pm_data_s8"  # byte copies of any element size

# ops whose int8 emitter moves bytes (element size from the tensor): used as they are for float32
BYTE_OPS = frozenset(
    {
        OpType.RESHAPE,
        OpType.SQUEEZE,
        OpType.EXPAND_DIMS,
        OpType.STRIDED_SLICE,
        OpType.SLICE,
        OpType.TRANSPOSE,
        OpType.SPLIT,
        OpType.SPLIT_V,
        OpType.UNPACK,
        OpType.PACK,
        OpType.TILE,
    }
)

UNARY = {  # op -> PM_F32_* kind of pm_unary_f32
    OpType.RELU: 0,
    OpType.RELU6: 1,
    OpType.RELU_N1_TO_1: 2,
    OpType.LEAKY_RELU: 3,
    OpType.HARD_SWISH: 4,
    OpType.ELU: 5,
    OpType.LOGISTIC: 6,
    OpType.TANH: 7,
    OpType.ABS: 8,
    OpType.NEG: 9,
    OpType.EXP: 10,
    OpType.LOG: 11,
    OpType.SQRT: 12,
    OpType.RSQRT: 13,
    OpType.SQUARE: 14,
    OpType.SIN: 15,
    OpType.COS: 16,
    OpType.FLOOR: 17,
    OpType.CEIL: 18,
    OpType.ROUND: 19,
}
BINARY = {  # op -> PM_F32_* kind of pm_binary_f32
    OpType.ADD: 0,
    OpType.SUB: 1,
    OpType.MUL: 2,
    OpType.DIV: 3,
    OpType.MAXIMUM: 4,
    OpType.MINIMUM: 5,
    OpType.SQUARED_DIFFERENCE: 6,
    OpType.PRELU: 7,
}
REDUCE = {OpType.SUM: 0, OpType.MEAN: 1, OpType.REDUCE_MAX: 2, OpType.REDUCE_MIN: 3}


def uses_float(op: Op) -> bool:
    """True when the layer reads or writes a float32 tensor (it is generated here)."""
    return any(t is not None and t.dtype == "float32" for t in op.inputs + op.outputs)


def f32(v) -> str:
    """A float32 value as a C float expression that reads back exactly (shortest round-trip
    decimal; infinities as PM_F32_INF, NaN refused)."""
    v = np.float32(v)
    if np.isnan(v):
        raise UnsupportedError("a NaN constant cannot be written to C")
    if np.isinf(v):
        return "PM_F32_INF" if v > 0 else "(-PM_F32_INF)"
    s = str(v)
    if "e" not in s and "." not in s:
        s += ".0"
    return f"{s}f" if not s.startswith("-") else f"({s}f)"


def _literal(s: str) -> str:
    return f"{s}f" if ("." in s or "e" in s) else f"{s}.0f"


def float_array(name: str, values: np.ndarray, per_line: int = 8) -> str:
    """``static const float name[N] = {...};`` with exact, deterministic literals."""
    flat = np.asarray(values, np.float32).reshape(-1)
    if not np.isfinite(flat).all():
        raise UnsupportedError(f"{name}: a constant holds NaN or infinity")
    items = [_literal(str(v)) for v in flat]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)] or ["0.0f"]
    body = ",\n  ".join(lines)
    return f"static const float {name}[{max(len(items), 1)}] = {{\n  {body}\n}};\n"


def fptr(c, t: Tensor, const: bool = False) -> str:
    """A float pointer to an activation in the arena."""
    if t.data is not None:
        raise UnsupportedError(f"tensor {t.name!r}: constant used where an activation is expected")
    q = "const " if const else ""
    return f"({q}float *)({q}void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def _operand(c, t: Tensor, sym: str) -> str:
    return fptr(c, t, True) if t.data is None else c.const_array(sym, np.asarray(t.data, np.float32))


def _not_hybrid(op: Op, p) -> None:
    if getattr(p, "hybrid", ""):
        raise UnsupportedError(f"{op.label}: hybrid {op.type} (float32 input, int8 weights) has no C kernel yet")


def _window(
    x: Tensor, y: Tensor, kh: int, kw: int, a: dict, lo: float, hi: float, groups: int = 1, mult: int = 1
) -> dict:
    sh, sw = a.get("stride_h", 1), a.get("stride_w", 1)
    dh, dw = a.get("dilation_h", 1), a.get("dilation_w", 1)
    _, _, pad_h, pad_w = window_geometry(x.shape[1], x.shape[2], kh, kw, sh, sw, dh, dw, a.get("padding", "VALID"))
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    return {
        **dict(n=n, ih=ih, iw=iw, ic=ic, oh=oh, ow=ow, oc=oc, kh=kh, kw=kw),
        **dict(stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw, pad_h=pad_h, pad_w=pad_w),
        "groups": groups,
        "depth_multiplier": mult,
        "act_min": f32(lo),
        "act_max": f32(hi),
    }


def _act(p) -> tuple[str, str]:
    return f32(p.act_min), f32(p.act_max)


def emit_conv(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    if p.hybrid == HYBRID_PER_TENSOR and op.type == OpType.CONV_2D:
        _emit_hybrid_conv(c, op, i, p)
        return
    _not_hybrid(op, p)
    x, y = op.inputs[0], op.outputs[0]
    if len(x.shape) != 4:
        raise UnsupportedError(f"{op.label}: float {op.type} needs a 4-D NHWC input")
    depthwise = op.type == OpType.DEPTHWISE_CONV_2D
    kh, kw = p.filter.shape[1], p.filter.shape[2]
    mult = y.shape[3] // x.shape[3] if depthwise else 1
    fields = _window(x, y, kh, kw, op.attrs, p.act_min, p.act_max, p.groups, mult)
    prm = c.struct("pm_window_f32_params", f"l{i}_params", fields)
    w = c.const_array(f"l{i}_filter", np.asarray(p.filter, np.float32))
    b = c.const_array(f"l{i}_bias", np.asarray(p.bias, np.float32))
    fn = "pm_depthwise_conv2d_f32" if depthwise else "pm_conv2d_f32"
    c.body.append(f"status |= {fn}(&{prm}, {fptr(c, x, True)}, {w}, {b}, {fptr(c, y)});")


def _emit_hybrid_conv(c, op: Op, i: int, p) -> None:
    """CONV_2D with int8 weights of one scale on a float32 input (LiteRT's per-tensor hybrid path:
    pm_conv2d_hybrid_f32 runs the reference's float32 operations, so it is exact)."""
    x, y = op.inputs[0], op.outputs[0]
    kh, kw = p.filter.shape[1], p.filter.shape[2]
    prm = c.struct(
        "pm_window_f32_params", f"l{i}_params", _window(x, y, kh, kw, op.attrs, p.act_min, p.act_max, p.groups)
    )
    w = c.const_array(f"l{i}_filter", np.asarray(p.filter, np.int8))
    b = c.const_array(f"l{i}_bias", np.asarray(p.bias, np.float32))
    c.body.append(
        f"status |= pm_conv2d_hybrid_f32(&{prm}, {fptr(c, x, True)}, {w}, {f32(p.filter_scale[0])}, {b}, {fptr(c, y)});"
    )


def emit_fc(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    _not_hybrid(op, p)
    x, y = op.inputs[0], op.outputs[0]
    units, depth = p.weights.shape
    w = c.const_array(f"l{i}_weights", np.asarray(p.weights, np.float32))
    b = c.const_array(f"l{i}_bias", np.asarray(p.bias, np.float32))
    lo, hi = _act(p)
    c.body.append(
        f"status |= pm_fully_connected_f32({x.size // depth}, {depth}, {units}, {fptr(c, x, True)}, {w}, {b}, "
        f"{lo}, {hi}, {fptr(c, y)});"
    )


def emit_pool(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    fields = _window(x, y, p.filter_h, p.filter_w, op.attrs, p.act_min, p.act_max)
    prm = c.struct("pm_window_f32_params", f"l{i}_params", fields)
    fn = "pm_average_pool2d_f32" if op.type == OpType.AVERAGE_POOL_2D else "pm_max_pool2d_f32"
    c.body.append(f"status |= {fn}(&{prm}, {fptr(c, x, True)}, {fptr(c, y)});")


def emit_binary(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    bc = broadcast_struct(c, op, i)
    lo, hi = (f32(p.act_min), f32(p.act_max)) if hasattr(p, "act_min") else ("(-PM_F32_INF)", "PM_F32_INF")
    pa = _operand(c, a, f"l{i}_a")
    pb = c.const_array(f"l{i}_alpha", np.asarray(p.alpha, np.float32)) if op.type == OpType.PRELU else None
    pb = pb or _operand(c, b, f"l{i}_b")
    c.body.append(f"status |= pm_binary_f32({BINARY[op.type]}, &{bc}, {pa}, {pb}, {lo}, {hi}, {fptr(c, y)});")


def emit_unary(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    alpha = f32(p.alpha) if op.type == OpType.LEAKY_RELU else "0.0f"
    c.body.append(f"status |= pm_unary_f32({UNARY[op.type]}, {alpha}, {x.size}, {fptr(c, x, True)}, {fptr(c, y)});")


def emit_quantize(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "float32" or y.dtype != "int8" or x.data is not None:
        raise UnsupportedError(f"{op.label}: only float32 → int8 QUANTIZE of an activation compiles to C")
    p = KERNELS[op.type].prepare(op)
    c.body.append(
        f"status |= pm_quantize_f32_s8({f32(p.scale)}, {p.output_zp}, {x.size}, {fptr(c, x, True)}, {c.ptr(y)});"
    )


def emit_dequantize(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8" or y.dtype != "float32" or x.data is not None:
        raise UnsupportedError(f"{op.label}: only int8 → float32 DEQUANTIZE of an activation compiles to C")
    p = KERNELS[op.type].prepare(op)
    c.body.append(
        f"status |= pm_dequantize_s8_f32({f32(p.scale)}, {p.zero_point}, {x.size}, {c.ptr(x, True)}, {fptr(c, y)});"
    )


def emit_softmax(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    depth = int(x.shape[-1]) if x.shape else 1
    rows = x.size // depth if depth else 0
    c.body.append(f"status |= pm_softmax_f32({rows}, {depth}, {f32(p.beta)}, {fptr(c, x, True)}, {fptr(c, y)});")


def emit_reduce(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    shape = list(x.shape) or [1]
    if len(shape) > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: reducing over more than {MAX_DIMS} dimensions")
    axes = {a % len(shape) for a in p.axes} if x.shape else set()
    kept = [d for d in range(len(shape)) if d not in axes]
    stride, acc = [0] * len(shape), 1
    for d in reversed(kept):
        stride[d] = acc
        acc *= shape[d]
    count = math.prod(shape[d] for d in axes) if axes else 1
    if acc * count != x.size or acc != y.size:
        raise UnsupportedError(f"{op.label}: reduction shapes do not match the C kernel's layout")
    fill = [0] * (MAX_DIMS - len(shape))
    fields = {"rank": len(shape), "shape": shape + fill, "out_stride": stride + fill, "out_size": acc, "count": count}
    prm = c.struct("pm_reduce_f32_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_reduce_f32({REDUCE[op.type]}, &{prm}, {fptr(c, x, True)}, {fptr(c, y)});")


def emit_concat(c, op: Op, i: int) -> None:
    ax = concat_axis(op)
    y = op.outputs[0]
    size = y.np_dtype.itemsize
    outer = math.prod(y.shape[:ax])
    inner = [math.prod(t.shape[ax:]) * size for t in op.inputs]
    sizes = c.const_array(f"l{i}_inner", np.array(inner, np.int32))
    ptrs = ", ".join(
        f"(const int8_t *){c.const_array(f'l{i}_in{k}', np.asarray(t.data, np.float32))}"
        if t.data is not None
        else c.ptr(t, True)
        for k, t in enumerate(op.inputs)
    )
    c.body.append(f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{ptrs}}};")
    c.body.append(f"  status |= pm_concatenation_s8({len(op.inputs)}, {outer}, {sizes}, ins, {c.ptr(y)}); }}")


def emit_pad(c, op: Op, i: int) -> None:
    """PAD with 0.0: the innermost dimension counted in bytes, pad bytes zero."""
    x, y = op.inputs[0], op.outputs[0]
    if len(op.inputs) > 2 and op.inputs[2] is not None and np.any(np.asarray(op.inputs[2].data) != 0):
        raise UnsupportedError(f"{op.label}: float PAD with a nonzero value has no C kernel yet")
    pads = np.asarray(op.inputs[1].data).reshape(-1, 2).astype(np.int64)
    rank = len(x.shape)
    if rank > MAX_DIMS or rank == 0:
        raise UnsupportedError(f"{op.label}: PAD over {rank} dimensions")
    size = x.np_dtype.itemsize
    shape, before, after = list(x.shape), [int(v) for v in pads[:, 0]], [int(v) for v in pads[:, 1]]
    shape[-1], before[-1], after[-1] = shape[-1] * size, before[-1] * size, after[-1] * size
    fill = [0] * (MAX_DIMS - rank)
    fields = {"rank": rank, "in_shape": shape + fill, "before": before + fill, "after": after + fill, "value": 0}
    prm = c.struct("pm_pad_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_pad_s8(&{prm}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_resize(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    n, ih, iw, ch = x.shape
    oh, ow = y.shape[1], y.shape[2]
    geo = f"{n}, {ih}, {iw}, {ch}, {oh}, {ow}"

    def idx(sym: str, v) -> str:
        return c.const_array(f"l{i}_{sym}", np.asarray(v, np.int32))

    if not p.bilinear:
        c.body.append(
            f"status |= pm_resize_nearest_f32({geo}, {idx('rows', p.rows)}, {idx('cols', p.cols)}, "
            f"{fptr(c, x, True)}, {fptr(c, y)});"
        )
        return
    fy = c.const_array(f"l{i}_fy", np.asarray(p.frac_y, np.float32))
    fx = c.const_array(f"l{i}_fx", np.asarray(p.frac_x, np.float32))
    c.body.append(
        f"status |= pm_resize_bilinear_f32({geo}, {idx('y0', p.rows)}, {idx('y1', p.rows_hi)}, {fy}, "
        f"{idx('x0', p.cols)}, {idx('x1', p.cols_hi)}, {fx}, {fptr(c, x, True)}, {fptr(c, y)});"
    )


def emit_batch_matmul(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]

    def mats(shape: tuple[int, ...], adj: bool) -> tuple[np.ndarray, int, int, int, int]:
        full = (1,) * (5 - len(shape)) + tuple(shape)
        rows, cols = full[-2], full[-1]
        batch = np.arange(math.prod(full[:-2]), dtype=np.int64).reshape(full[:-2]) * rows * cols
        r, k = (cols, rows) if adj else (rows, cols)
        rs, ks = (1, cols) if adj else (cols, 1)
        return batch, r, k, rs, ks

    ba, m, k, a_row, a_col = mats(p.lhs_shape, p.adj_x)
    bb, k2, n, b_row, b_col = mats(p.rhs_shape, p.adj_y)
    if k != k2:
        raise UnsupportedError(f"{op.label}: inner dimensions {k} and {k2} differ")
    shape = np.broadcast_shapes(ba.shape, bb.shape)
    off_a = np.broadcast_to(ba, shape).reshape(-1)
    off_b = np.broadcast_to(bb, shape).reshape(-1)
    if off_a.size * m * n != y.size:
        raise UnsupportedError(f"{op.label}: output size does not match the C kernel's layout")
    fields = dict(batches=off_a.size, m=m, k=k, n=n, lhs_row=a_row, lhs_col=a_col, rhs_row=b_row, rhs_col=b_col)
    prm = c.struct("pm_matmul_f32_params", f"l{i}_params", fields)
    oa = c.const_array(f"l{i}_lhs_off", off_a.astype(np.int32))
    ob = c.const_array(f"l{i}_rhs_off", off_b.astype(np.int32))
    pa, pb = _operand(c, lhs, f"l{i}_lhs"), _operand(c, rhs, f"l{i}_rhs")
    c.body.append(f"status |= pm_batch_matmul_f32(&{prm}, {oa}, {ob}, {pa}, {pb}, {fptr(c, y)});")


def emit_transpose_conv(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[TC_INPUT], op.outputs[0]
    kh, kw = p.filter.shape[1], p.filter.shape[2]
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    fields = {
        **dict(n=n, ih=ih, iw=iw, ic=ic, oh=oh, ow=ow, oc=oc, kh=kh, kw=kw),
        **dict(stride_h=p.stride_h, stride_w=p.stride_w, dilation_h=1, dilation_w=1, pad_h=p.pad_h, pad_w=p.pad_w),
        **dict(groups=1, depth_multiplier=1, act_min=f32(p.act_min), act_max=f32(p.act_max)),
    }
    prm = c.struct("pm_window_f32_params", f"l{i}_params", fields)
    w = c.const_array(f"l{i}_filter", np.asarray(p.filter, np.float32))
    b = c.const_array(f"l{i}_bias", np.asarray(p.bias, np.float32))
    c.body.append(f"status |= pm_transpose_conv_f32(&{prm}, {fptr(c, x, True)}, {w}, {b}, {fptr(c, y)});")


def emit_arg(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    if y.dtype != "int32":
        raise UnsupportedError(f"{op.label}: {op.type} to {y.dtype} has no C kernel (int32 indices only)")
    outer, inner = math.prod(x.shape[: p.axis]), math.prod(x.shape[p.axis + 1 :])
    out = f"(int32_t *)(void *)(pm_arena.bytes + {c.plan.offset_of(y)})"
    c.body.append(
        f"status |= pm_arg_min_max_f32({outer}, {x.shape[p.axis]}, {inner}, {int(p.is_max)}, {fptr(c, x, True)}, {out});"
    )


def emit_gather(c, op: Op, i: int) -> None:
    """GATHER of float32 rows: pm_gather_s8's byte copies with the slice counted in bytes."""
    p = KERNELS[op.type].prepare(op)
    x, pos, y = op.inputs[0], op.inputs[1], op.outputs[0]
    g = p.geometry
    fields = {"batch": g.batch, "outer": g.outer, "axis_size": g.axis_size, "coords": g.coords, "inner": g.inner * 4}
    prm = c.struct("pm_gather_params", f"l{i}_params", fields)
    if x.data is not None:
        src = f"(const int8_t *){c.const_array(f'l{i}_table', np.asarray(x.data, np.float32))}"
    else:
        src = c.ptr(x, True)
    if pos.data is not None:
        positions = c.const_array(f"l{i}_positions", np.asarray(pos.data).astype(np.int32).reshape(-1))
    else:
        positions = f"(const int32_t *)(const void *)(pm_arena.bytes + {c.plan.offset_of(pos)})"
    c.body.append(f"status |= pm_gather_s8(&{prm}, {src}, {positions}, {c.ptr(y)});")


def emit_depth_space(c, op: Op, i: int) -> None:
    """DEPTH_TO_SPACE / SPACE_TO_DEPTH move whole channel runs: the int8 kernel with each float as 4
    one-byte channels (the channel index splits as (block row, block column, channel), the
    channel innermost, so its bytes stay together)."""
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]

    def dims(sym: str, shape) -> str:
        n, h, w, ch = shape
        return c.struct("pm_dims", sym, {"n": n, "h": h, "w": w, "c": ch * 4})

    di, do = dims(f"l{i}_in_dims", x.shape), dims(f"l{i}_out_dims", y.shape)
    c.body.append(
        f"status |= pm_depth_space_s8({int(p.to_space)}, {p.block}, &{di}, {c.ptr(x, True)}, &{do}, {c.ptr(y)});"
    )


FLOAT_EMITTERS = {
    OpType.CONV_2D: emit_conv,
    OpType.DEPTHWISE_CONV_2D: emit_conv,
    OpType.FULLY_CONNECTED: emit_fc,
    OpType.AVERAGE_POOL_2D: emit_pool,
    OpType.MAX_POOL_2D: emit_pool,
    **{t: emit_binary for t in BINARY},
    **{t: emit_unary for t in UNARY},
    **{t: emit_reduce for t in REDUCE},
    OpType.QUANTIZE: emit_quantize,
    OpType.DEQUANTIZE: emit_dequantize,
    OpType.SOFTMAX: emit_softmax,
    OpType.CONCATENATION: emit_concat,
    OpType.PAD: emit_pad,
    OpType.RESIZE_NEAREST_NEIGHBOR: emit_resize,
    OpType.RESIZE_BILINEAR: emit_resize,
    OpType.BATCH_MATMUL: emit_batch_matmul,
    OpType.TRANSPOSE_CONV: emit_transpose_conv,
    OpType.ARG_MAX: emit_arg,
    OpType.ARG_MIN: emit_arg,
    OpType.GATHER: emit_gather,
    OpType.DEPTH_TO_SPACE: emit_depth_space,
    OpType.SPACE_TO_DEPTH: emit_depth_space,
}
FLOAT_FILES: dict[OpType, tuple[str, ...]] = {
    **{t: (NN, MATH) for t in FLOAT_EMITTERS},
    **{t: (ELEMENTWISE, MATH) for t in (*BINARY, *UNARY, *REDUCE, OpType.QUANTIZE, OpType.DEQUANTIZE)},
    OpType.SOFTMAX: (ELEMENTWISE, MATH),
    OpType.CONCATENATION: (BYTES,),
    OpType.PAD: (BYTES,),
    OpType.GATHER: ("pm_gather_s8",),
    OpType.DEPTH_TO_SPACE: ("pm_resize_s8",),
    OpType.SPACE_TO_DEPTH: ("pm_resize_s8",),
}
