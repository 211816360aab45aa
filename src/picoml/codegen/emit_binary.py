"""C emitters for the int8 binary elementwise ops ADD, MUL, SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE
and DIV, and the broadcast description every binary kernel shares.

Same pattern as ``generate.py``: parameters come from the reference kernel's ``prepare`` and are
written as ``static const`` structs; one ``pm_<op>_s8`` call per layer. Broadcasting is one
``pm_broadcast`` record per layer (``broadcast_struct``), walked in C by ``PM_BROADCAST_EACH``
(``pm_common.h``); a constant operand becomes a ``static const`` array (``operand``).
"""

from __future__ import annotations

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.add import LEFT_SHIFT
from picoml.reference.div import divisor_tables

MAX_DIMS = 6  # PM_MAX_DIMS in pm_common.h

# op type -> runtime file stems (besides pm_common.h) its kernel needs (.h and .c each)
BINARY_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.ADD: ("pm_add_s8",),
    OpType.MUL: ("pm_mul_s8",),
    OpType.SUB: ("pm_add_s8",),  # ADD's arithmetic and parameters
    OpType.MAXIMUM: ("pm_binary_s8",),
    OpType.MINIMUM: ("pm_binary_s8",),
    OpType.SQUARED_DIFFERENCE: ("pm_binary_s8",),
    OpType.DIV: ("pm_div_s8",),
}


def broadcast_struct(c, op: Op, i: int) -> str:
    """The layer's ``pm_broadcast``: output extents and each operand's element strides (0 along a
    broadcast dimension), ranks aligned at the end as TFLite does."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    rank = max(len(y.shape), 1)
    if rank > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: broadcasting over more than {MAX_DIMS} dimensions")
    shape = (1,) * (rank - len(y.shape)) + tuple(y.shape)

    def strides(t: Tensor) -> list[int]:
        s = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        st, acc = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            st[d] = 0 if s[d] == 1 and shape[d] != 1 else acc
            acc *= s[d]
        return st

    pad = [0] * (MAX_DIMS - rank)
    fields = {
        "rank": rank,
        "size": y.size,
        "shape": list(shape) + pad,
        "stride_a": strides(a) + pad,
        "stride_b": strides(b) + pad,
        "same_shape": int(a.shape == b.shape == y.shape),
    }
    return c.struct("pm_broadcast", f"l{i}_bcast", fields)


def operand(c, t: Tensor, sym: str) -> str:
    """A binary kernel's operand: the arena pointer of an activation, or the constant's array."""
    if t.data is not None:
        return c.const_array(sym, t.data)
    return c.ptr(t, True)


def _prepared(op: Op):
    p = KERNELS[op.type].prepare(op)
    if getattr(p, "quantized", True) is False or op.outputs[0].dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")
    return p


def _operands(c, op: Op, i: int) -> str:
    a = operand(c, op.inputs[0], f"l{i}_a")
    b = operand(c, op.inputs[1], f"l{i}_b")
    return f"&{broadcast_struct(c, op, i)}, {a}, {b}, {c.ptr(op.outputs[0])}"


def _add_params(c, p, i: int) -> str:
    """The ``pm_add_params`` of ADD and SUB (the reference's arithmetic: both inputs shifted left by
    LEFT_SHIFT, rescaled, summed, rescaled)."""
    fields = {
        "input1_zp": p.input1_zp,
        "input2_zp": p.input2_zp,
        "output_zp": p.output_zp,
        "left_shift": LEFT_SHIFT,
        "input1_multiplier": p.input1_multiplier,
        "input1_shift": p.input1_shift,
        "input2_multiplier": p.input2_multiplier,
        "input2_shift": p.input2_shift,
        "output_multiplier": p.output_multiplier,
        "output_shift": p.output_shift,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
    }
    return c.struct("pm_add_params", f"l{i}_params", fields)


def emit_add_mul(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    bc = broadcast_struct(c, op, i)  # the struct first, then the operands (the order of model.c's tables)
    a = operand(c, op.inputs[0], f"l{i}_a")
    b = operand(c, op.inputs[1], f"l{i}_b")
    if op.type == OpType.ADD:
        prm, fn = _add_params(c, p, i), "pm_add_s8"
    else:
        fields = {
            "input1_zp": p.input1_zp,
            "input2_zp": p.input2_zp,
            "output_zp": p.output_zp,
            "multiplier": p.multiplier,
            "shift": p.shift,
            "act_min": int(p.act_min),
            "act_max": int(p.act_max),
        }
        prm, fn = c.struct("pm_mul_params", f"l{i}_params", fields), "pm_mul_s8"
    c.body.append(f"status |= {fn}(&{prm}, &{bc}, {a}, {b}, {c.ptr(op.outputs[0])});")


def emit_sub(c, op: Op, i: int) -> None:
    prm = _add_params(c, _prepared(op), i)
    c.body.append(f"status |= pm_sub_s8(&{prm}, {_operands(c, op, i)});")


def emit_maximum_minimum(c, op: Op, i: int) -> None:
    _prepared(op)
    fn = "pm_maximum_s8" if op.type == OpType.MAXIMUM else "pm_minimum_s8"
    c.body.append(f"status |= {fn}({_operands(c, op, i)});")


def emit_squared_difference(c, op: Op, i: int) -> None:
    p = _prepared(op)
    fields = {
        "input1_zp": p.input1_zp,
        "input2_zp": p.input2_zp,
        "output_zp": p.output_zp,
        "input1_multiplier": p.input1_multiplier,
        "input1_shift": p.input1_shift,
        "input2_multiplier": p.input2_multiplier,
        "input2_shift": p.input2_shift,
        "output_multiplier": p.output_multiplier,
        "output_shift": p.output_shift,
    }
    prm = c.struct("pm_squared_difference_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_squared_difference_s8(&{prm}, {_operands(c, op, i)});")


def emit_div(c, op: Op, i: int) -> None:
    p = _prepared(op)
    inv, recip_shift, negative = divisor_tables(p)
    fields = {
        "input1_zp": p.input1_zp,
        "output_zp": p.output_zp,
        "multiplier": p.multiplier,
        "shift": p.shift,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
        "reciprocal": c.const_array(f"l{i}_reciprocal", inv),
        "recip_shift": c.const_array(f"l{i}_recip_shift", recip_shift),
        "negative": c.const_array(f"l{i}_negative", negative),
    }
    prm = c.struct("pm_div_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_div_s8(&{prm}, {_operands(c, op, i)});")


BINARY_EMITTERS = {
    OpType.ADD: emit_add_mul,
    OpType.MUL: emit_add_mul,
    OpType.SUB: emit_sub,
    OpType.MAXIMUM: emit_maximum_minimum,
    OpType.MINIMUM: emit_maximum_minimum,
    OpType.SQUARED_DIFFERENCE: emit_squared_difference,
    OpType.DIV: emit_div,
}
