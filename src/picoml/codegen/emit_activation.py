"""C emitters for the int8 HARD_SWISH, ELU, ABS, RSQRT, EXP, SQRT and PRELU kernels.

Same pattern as ``emit_nonlinear.py``; ``generate.py`` merges ``ACTIVATION_FILES`` and
``ACTIVATION_EMITTERS`` into its tables.

- HARD_SWISH, ELU, ABS, EXP: the output depends only on the input code, so the emitter runs the
  reference kernel (bit-exact with TFLite Micro) on all 256 codes and the C is one
  ``pm_lut_s8`` call on a 256-byte table: exact by construction on every ISA.
- RSQRT, SQRT: the same table, except that TFLM (LiteRT for SQRT) fails an inference with an input below the zero point
  (a negative real value): ``pm_lut_from_s8`` returns PM_ERROR when an input code is below the
  first valid one, as ``picoml.run`` raises.
- PRELU: with one alpha value it is a table too; with several (per-channel alpha) it is a real
  kernel, ``pm_prelu_s8`` (two requantization multipliers, alpha broadcast against the input),
  smaller than one table per alpha value from two values on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

MAX_DIMS = 6  # PM_MAX_DIMS in pm_common.h
CODES = np.arange(-128, 128, dtype=np.int8)

# op type -> runtime file stems (besides pm_common.h) its kernel needs (.h and .c each)
ACTIVATION_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.HARD_SWISH: ("pm_lut_s8",),
    OpType.ELU: ("pm_lut_s8",),
    OpType.ABS: ("pm_lut_s8",),
    OpType.RSQRT: ("pm_lut_s8",),
    OpType.EXP: ("pm_lut_s8",),
    OpType.SQRT: ("pm_lut_s8",),
    OpType.PRELU: ("pm_lut_s8", "pm_prelu_s8"),
}


def _prepared(op: Op):
    p = KERNELS[op.type].prepare(op)
    if not p.quantized:
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")
    return p


def _table(op: Op, p, codes: np.ndarray = CODES) -> np.ndarray:
    """The reference kernel's int8 output for each of ``codes``."""
    return np.asarray(KERNELS[op.type].evaluate(p, [codes[None]])[0], np.int8).reshape(-1)


def emit_lut(c, op: Op, i: int) -> None:
    """int8 HARD_SWISH / ELU / ABS on every ISA: the reference kernel on all 256 codes."""
    p = _prepared(op)
    x, y = op.inputs[0], op.outputs[0]
    lut = c.const_array(f"l{i}_lut", _table(op, p), flash=True)
    c.body.append(f"status |= pm_lut_s8({lut}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def emit_rsqrt(c, op: Op, i: int) -> None:
    """int8 RSQRT: the table of the codes at or above the input zero point (the others are
    refused at run time, as TFLM fails the inference); codes below it hold 0 and are never read."""
    p = _prepared(op)
    x, y = op.inputs[0], op.outputs[0]
    table = np.zeros(256, np.int8)
    table[p.input_zp + 128 :] = _table(op, p, CODES[p.input_zp + 128 :])
    lut = c.const_array(f"l{i}_lut", table, flash=True)
    c.body.append(f"status |= pm_lut_from_s8({lut}, {p.input_zp}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def _broadcast_fields(op: Op) -> dict:
    """pm_broadcast of the input (operand a) and alpha (operand b) against the output."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    rank = max(len(y.shape), 1)
    shape = (1,) * (rank - len(y.shape)) + tuple(y.shape)

    def strides(t) -> list[int]:
        s = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        st, acc = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            st[d] = 0 if s[d] == 1 and shape[d] != 1 else acc
            acc *= s[d]
        return st

    pad = [0] * (MAX_DIMS - rank)
    return {
        "rank": rank,
        "size": y.size,
        "shape": list(shape) + pad,
        "stride_a": strides(a) + pad,
        "stride_b": strides(b) + pad,
        "same_shape": int(a.shape == b.shape == y.shape),
    }


def emit_prelu(c, op: Op, i: int) -> None:
    p = _prepared(op)
    x, alpha, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if alpha.size == 1 and x.shape == y.shape:  # one alpha value: a table (256 bytes, one load)
        lut = c.const_array(f"l{i}_lut", _table(op, replace(p, out_shape=(256,))), flash=True)
        c.body.append(f"status |= pm_lut_s8({lut}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")
        return
    fields = {
        "input_zp": p.input_zp,
        "alpha_zp": p.alpha_zp,
        "output_zp": p.output_zp,
        "multiplier_1": p.multiplier_1,
        "shift_1": p.shift_1,
        "multiplier_2": p.multiplier_2,
        "shift_2": p.shift_2,
    }
    prm = c.struct("pm_prelu_params", f"l{i}_params", fields)
    bc = c.struct("pm_broadcast", f"l{i}_bcast", _broadcast_fields(op))
    a = c.const_array(f"l{i}_alpha", np.asarray(alpha.data, np.int8).reshape(-1))
    c.body.append(f"status |= pm_prelu_s8(&{prm}, &{bc}, {c.ptr(x, True)}, {a}, {c.ptr(y)});")


ACTIVATION_EMITTERS = {
    OpType.HARD_SWISH: emit_lut,
    OpType.ELU: emit_lut,
    OpType.ABS: emit_lut,
    OpType.RSQRT: emit_rsqrt,
    OpType.EXP: emit_lut,
    OpType.SQRT: emit_rsqrt,  # codes below the input zero point fail the inference, as in LiteRT
    OpType.PRELU: emit_prelu,
}

__all__ = ["ACTIVATION_EMITTERS", "ACTIVATION_FILES", "emit_lut", "emit_prelu", "emit_rsqrt"]
