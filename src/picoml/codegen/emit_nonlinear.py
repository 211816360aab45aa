"""C emitters for the int8 SOFTMAX, LOGISTIC, TANH, MEAN and LEAKY_RELU kernels.

Same pattern as the emitters in ``generate.py``: the parameters come from the reference
kernel's ``prepare`` (bit-exact with TFLite Micro) and are written as ``static const``
structs; one ``pm_<op>_s8`` call per layer is appended to the body.

SOFTMAX, LOGISTIC and TANH use the header-only gemmlowp math of
``pm_fixedpoint_math.h`` (see ``FIXEDPOINT_USERS``): the generator must copy that header
whenever one of those kernels is used.
"""

from __future__ import annotations

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

MAX_DIMS = 6  # PM_MAX_DIMS in pm_common.h
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# op type -> runtime file stems (besides pm_common.h) its kernel needs (.h and .c each)
NONLINEAR_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.SOFTMAX: ("pm_softmax_s8",),
    OpType.LOGISTIC: ("pm_logistic_s8",),
    OpType.TANH: ("pm_tanh_s8",),
    OpType.MEAN: ("pm_mean_s8",),
    OpType.LEAKY_RELU: ("pm_lut_s8",),  # LUT_FILE: a table on every ISA, portable C included
}

# elementwise ops that MCU targets compute through a 256-entry table (pm_lut_s8); portable C
# keeps the gemmlowp kernels
LUT_OPS = (OpType.LOGISTIC, OpType.TANH)
LUT_FILE = "pm_lut_s8"

# header-only runtime file and the kernels that include it
FIXEDPOINT_HEADER = "pm_fixedpoint_math.h"
FIXEDPOINT_USERS = {"pm_softmax_s8", "pm_logistic_s8", "pm_tanh_s8", "pm_l2norm_s8", "pm_log_softmax_s8"}


def _int32(op: Op, what: str, v: int) -> int:
    v = int(v)
    if not INT32_MIN <= v <= INT32_MAX:
        raise UnsupportedError(f"{op.label}: {what} {v} does not fit the C kernel's int32")
    return v


def _quantized(op: Op, p) -> None:
    if not p.quantized:
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")


def emit_softmax(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    x, y = op.inputs[0], op.outputs[0]
    depth = int(x.shape[-1])
    rows = x.size // depth if depth else 0
    fields = {
        "input_multiplier": _int32(op, "multiplier", p.input_multiplier),
        "input_left_shift": p.input_left_shift,
        "diff_min": _int32(op, "diff_min", p.diff_min),
    }
    prm = c.struct("pm_softmax_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_softmax_s8(&{prm}, {rows}, {depth}, {c.ptr(x, True)}, {c.ptr(y)});")


def _emit_logistic_tanh(c, op: Op, i: int, ctype: str, fn: str) -> None:
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    x, y = op.inputs[0], op.outputs[0]
    if c.isa.has("lut"):
        # the reference kernel on every int8 code: exact by construction, 256 bytes of flash
        table = KERNELS[op.type].evaluate(p, [np.arange(-128, 128, dtype=np.int8)]).astype(np.int8)
        lut = c.const_array(f"l{i}_lut", table, flash=True)
        c.body.append(f"status |= pm_lut_s8({lut}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")
        return
    fields = {
        "input_zp": p.input_zp,
        "input_multiplier": _int32(op, "multiplier", p.input_multiplier),
        "input_left_shift": _int32(op, "shift", p.input_left_shift),
        "input_range_radius": _int32(op, "input radius", p.input_range_radius),
    }
    prm = c.struct(ctype, f"l{i}_params", fields)
    c.body.append(f"status |= {fn}(&{prm}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_leaky_relu(c, op: Op, i: int) -> None:
    """int8 LEAKY_RELU on every ISA: the reference kernel on all 256 codes, one pm_lut_s8 call."""
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    x, y = op.inputs[0], op.outputs[0]
    lut = c.const_array(f"l{i}_lut", KERNELS[op.type].evaluate(p, [np.arange(-128, 128, dtype=np.int8)]), flash=True)
    c.body.append(f"status |= pm_lut_s8({lut}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_logistic(c, op: Op, i: int) -> None:
    _emit_logistic_tanh(c, op, i, "pm_logistic_params", "pm_logistic_s8")


def emit_tanh(c, op: Op, i: int) -> None:
    _emit_logistic_tanh(c, op, i, "pm_tanh_params", "pm_tanh_s8")


def mean_index_spaces(
    shape: tuple[int, ...], axes: tuple[int, ...]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The input of MEAN as (kept, reduced) lists of (extent, input element stride), outermost
    first: extent-1 dimensions dropped, adjacent dimensions of the same kind merged. The kept
    list enumerates the outputs in row-major order (with or without keep_dims)."""
    dims: list[list[int]] = []  # [extent, reduced?]
    for d, n in enumerate(shape):
        n, red = int(n), int(d in axes)
        if n == 1:
            continue
        if dims and dims[-1][1] == red:
            dims[-1][0] *= n
        else:
            dims.append([n, red])
    kept: list[tuple[int, int]] = []
    reduced: list[tuple[int, int]] = []
    stride = 1
    for n, red in reversed(dims):
        (reduced if red else kept).insert(0, (n, stride))
        stride *= n
    return kept, reduced


def emit_mean(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    _quantized(op, p)
    x, y = op.inputs[0], op.outputs[0]
    kept, reduced = mean_index_spaces(tuple(x.shape), tuple(p.axes))
    if len(kept) > MAX_DIMS or len(reduced) > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: MEAN over more than {MAX_DIMS} merged dimensions")
    if x.size == 0:
        raise UnsupportedError(f"{op.label}: MEAN of an empty tensor")

    def padded(pairs: list[tuple[int, int]], k: int) -> list[int]:
        return [pr[k] for pr in pairs] + [0] * (MAX_DIMS - len(pairs))

    fields = {
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "multiplier": _int32(op, "multiplier", p.multiplier),
        "shift": p.shift,
        "count": _int32(op, "element count", p.count),
        "outer_rank": len(kept),
        "outer_shape": padded(kept, 0),
        "outer_stride": padded(kept, 1),
        "inner_rank": len(reduced),
        "inner_shape": padded(reduced, 0),
        "inner_stride": padded(reduced, 1),
    }
    prm = c.struct("pm_mean_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_mean_s8(&{prm}, {c.ptr(x, True)}, {c.ptr(y)});")


NONLINEAR_EMITTERS = {
    OpType.SOFTMAX: emit_softmax,
    OpType.LOGISTIC: emit_logistic,
    OpType.TANH: emit_tanh,
    OpType.MEAN: emit_mean,
    OpType.LEAKY_RELU: emit_leaky_relu,
}

__all__ = [
    "FIXEDPOINT_HEADER",
    "FIXEDPOINT_USERS",
    "LUT_FILE",
    "LUT_OPS",
    "NONLINEAR_EMITTERS",
    "NONLINEAR_FILES",
    "emit_leaky_relu",
    "emit_logistic",
    "emit_mean",
    "emit_softmax",
    "emit_tanh",
    "mean_index_spaces",
]
