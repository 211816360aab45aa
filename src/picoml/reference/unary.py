"""Elementwise unary math ops: ABS, NEG, EXP, LOG, SQRT, RSQRT, SQUARE, SIN, COS, FLOOR, CEIL,
ROUND.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/elementwise.cc`` (ABS, SIN, COS, LOG,
SQRT, RSQRT, SQUARE), ``neg.cc``, ``exp.cc``, ``floor.cc``, ``ceil.cc``, ``round.cc`` and the
reference functions they call.

float32, as TFLM and LiteRT compute it: one IEEE float32 operation per element (``-x``, ``|x|``,
``x·x``, ``sqrt``, ``floor``, ``ceil``; ``1 / sqrt(x)`` as two), the C library's ``expf`` /
``logf`` / ``sinf`` / ``cosf`` (``reference/cmath.py``), and ROUND to nearest with ties to even
(TFLite's RoundToNearest, which gives +0 for a negative value that rounds to zero; NaN
and ±inf pass through).

int8 (``OpDef.int8_kernel``):

- ABS: ``v = |x - in_zp|``; with equal input and output scales (float32 comparison) ``out = v +
  out_zp``, else ``MultiplyByQuantizedMultiplier(v, in_scale / out_scale) + out_zp`` (quotient of
  the scales in double), clamped to int8.
- EXP and SQRT (tflite-micro has no int8 kernel for them: LiteRT, ``exp.cc`` / ``elementwise.cc``,
  is the oracle): a float32 function of the dequantized input ``in_scale · (x - in_zp)``, whose
  result is requantized in float32. EXP is LiteRT's LUTPopulate: ``(int)(round(expf(v) · (1 /
  out_scale)) + out_zp)``, round half away from zero. SQRT is computed per element:
  ``(int)(sqrtf(v) / out_scale) + out_zp`` (truncation, no rounding), and an input below the zero
  point (a negative value) fails the inference, as in LiteRT. Both clamped to int8; a table entry
  beyond int32 (a C cast LiteRT leaves undefined) is refused at prepare.
- RSQRT: ``v = x - in_zp`` must be ≥ 0 for every element (TFLM's Eval fails on a negative one:
  picoml raises UnsupportedError at run time); ``v = 0`` gives 127. Otherwise TFLM's integer
  inverse square root (GetInvSqrtQuantizedMultiplierExp, ``rsqrt_int8``) rescaled by ``1 /
  (sqrt(in_scale) · out_scale)`` through two MultiplyByQuantizedMultiplier steps with a 2^20
  headroom shift.

Every int8 output depends only on the input code: the generated C is a 256-entry table filled by
``evaluate`` (codegen/emit_activation.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    INT32_MAX,
    count_leading_zeros_u32,
    fp_mul,
    multiply_by_quantized_multiplier,
    quantize_multiplier_checked,
    rescale,
    saturating_rounding_multiply_by_pot,
)
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import cmath
from picoml.reference.common import INT8_MAX, INT8_MIN

F32 = np.float32


def _round_half_even(x: np.ndarray) -> np.ndarray:
    """TFLite's RoundToNearest: floor(x), plus 1 when x - floor(x) is above 0.5 or exactly 0.5
    with an odd floor. Not np.rint: a negative x that rounds to zero gives +0 (-1 + 1), not -0."""
    with np.errstate(invalid="ignore"):
        f = np.floor(x)
        d = x - f
        keep = (d < F32(0.5)) | ((d == F32(0.5)) & (np.fmod(f, F32(2)) == 0))
        return np.where(keep, f, f + F32(1)).astype(np.float32)


def _rsqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return F32(1) / np.sqrt(x)


def _sqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(x)


def _square(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return x * x


FLOAT_FUNCTIONS: dict[OpType, Callable[[np.ndarray], np.ndarray]] = {
    OpType.ABS: np.abs,
    OpType.NEG: np.negative,
    OpType.EXP: cmath.expf,
    OpType.LOG: cmath.logf,
    OpType.SQRT: _sqrt,
    OpType.RSQRT: _rsqrt,
    OpType.SQUARE: _square,
    OpType.SIN: cmath.sinf,
    OpType.COS: cmath.cosf,
    OpType.FLOOR: np.floor,
    OpType.CEIL: np.ceil,
    OpType.ROUND: _round_half_even,
}


@dataclass(frozen=True)
class UnaryParams:
    op: OpType
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    rescale: bool = False
    multiplier: int = 0
    shift: int = 0
    label: str = ""
    table: np.ndarray | None = None  # EXP / SQRT: the int8 output of each input code -128..127


def prepare(op: Op) -> UnaryParams:
    x, y = op.inputs[0], op.outputs[0]
    t = OpType(op.type)
    if x.dtype != "int8":
        return UnaryParams(t, False)
    s_in, s_out = F32(x.scale[0]), F32(y.scale[0])
    where = f"{op.label}: output {y.name!r}"
    zi, zo = int(x.zero_point[0]), int(y.zero_point[0])
    if t == OpType.ABS:
        if s_in == s_out:
            return UnaryParams(t, True, zi, zo, label=op.label)
        m, s = quantize_multiplier_checked(float(s_in) / float(s_out), where, "input scale / output scale")
        return UnaryParams(t, True, zi, zo, True, m, s, op.label)
    if t in (OpType.EXP, OpType.SQRT):
        return UnaryParams(t, True, zi, zo, label=op.label, table=_float_table(t, s_in, zi, s_out, zo, where))
    if t == OpType.RSQRT:
        real = 1.0 / (math.sqrt(float(s_in)) * float(s_out))
        m, s = quantize_multiplier_checked(real, where, "1 / (sqrt(input scale) * output scale)")
        return UnaryParams(t, True, zi, zo, True, m, s, op.label)
    raise UnsupportedError(f"{op.label}: int8 {t} is not supported (TFLite Micro has no int8 kernel for it)")


def _round_away(x: np.ndarray) -> np.ndarray:
    """C's roundf: half away from zero."""
    return (np.sign(x) * np.floor(np.abs(x) + F32(0.5))).astype(np.float32)


def _float_table(t: OpType, s_in: np.float32, zi: int, s_out: np.float32, zo: int, where: str) -> np.ndarray:
    """LiteRT's int8 EXP (LUTPopulate) / SQRT (SqrtEvalQuantized) output for each code -128..127; for
    SQRT the codes below the input zero point are 0 (never read: the inference fails on them)."""
    codes = np.arange(-128, 128)
    with np.errstate(all="ignore"):
        v = (s_in * (codes - zi).astype(np.float32)).astype(np.float32)
        if t == OpType.EXP:
            q = _round_away(cmath.expf(v) * (F32(1) / s_out)) + F32(zo)
        else:
            q = np.trunc(np.sqrt(np.maximum(v, F32(0))) / s_out) + F32(zo)
        q = q.astype(np.float32)
    valid = codes >= zi if t == OpType.SQRT else np.ones(256, bool)
    bad = valid & ~(np.isfinite(q) & (q > -(2.0**31) - 1) & (q < 2.0**31))
    if bad.any():
        raise UnsupportedError(
            f"{where}: int8 {t} of input code {int(codes[bad][0])} gives {float(q[bad][0]):g} output codes, beyond "
            "int32 (LiteRT's conversion is undefined there)"
        )
    out = np.where(valid, np.trunc(np.where(valid, q, 0)), 0)
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)


def inv_sqrt_multiplier_exp(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GetInvSqrtQuantizedMultiplierExp (common.h) with reverse_shift -1, for int32 v ≥ 0:
    (Q31 multiplier, shift) with 1/sqrt(v) ≈ multiplier · 2^shift / 2^31, by five Newton steps in
    gemmlowp fixed point (3 integer bits). v ≤ 1 gives (INT32_MAX, 0)."""
    v = np.asarray(v, np.int64)
    small = v <= 1
    x = np.where(small, 2, v)
    shift = np.full(x.shape, 11, np.int64)
    while np.any(x >= 1 << 29):
        big = x >= 1 << 29
        x = np.where(big, x // 4, x)
        shift += big
    pairs = (count_leading_zeros_u32(x).astype(np.int64) - 1) // 2 - 1
    shift -= pairs
    x = x << (2 * pairs)
    half_input = saturating_rounding_multiply_by_pot(x >> 1, -1)
    half_three = np.int64((1 << 28) + (1 << 27))
    r = np.full(x.shape, 1 << 28, np.int64)  # F3 one
    for _ in range(5):
        r3 = rescale(fp_mul(fp_mul(r, r), r), 9, 3)
        r = rescale(fp_mul(half_three, r) - fp_mul(half_input, r3), 6, 3)
    r = fp_mul(r, np.int64(1518500250))  # sqrt(2) / 2 in Q0.31
    neg = shift < 0
    r = np.where(neg, r << np.where(neg, -shift, 0), r)
    shift = np.where(neg, 0, shift)
    return np.where(small, INT32_MAX, r), np.where(small, 0, -shift)


def _rsqrt_int8(p: UnaryParams, v: np.ndarray) -> np.ndarray:
    if np.any(v < 0):
        raise UnsupportedError(
            f"{p.label}: RSQRT of a negative value (input code below the zero point {p.input_zp}); "
            "TFLite Micro fails the inference"
        )
    m, s = inv_sqrt_multiplier_exp(v)
    data = multiply_by_quantized_multiplier(np.ones_like(v), m, s + 20)
    out = multiply_by_quantized_multiplier(data, p.multiplier, p.shift - 20) + p.output_zp
    return np.where(v == 0, INT8_MAX, out)


def evaluate(p: UnaryParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        return np.asarray(FLOAT_FUNCTIONS[p.op](x), np.float32)
    if p.table is not None:
        if p.op == OpType.SQRT and np.any(x < p.input_zp):
            raise UnsupportedError(
                f"{p.label}: SQRT of a negative value (input code below the zero point {p.input_zp}); "
                "LiteRT fails the inference"
            )
        return p.table[x.astype(np.int64) + 128]
    v = x.astype(np.int64) - p.input_zp
    if p.op == OpType.RSQRT:
        out = _rsqrt_int8(p, v)
    else:
        v = np.abs(v)
        out = multiply_by_quantized_multiplier(v, p.multiplier, p.shift) if p.rescale else v
        out = out + p.output_zp
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)
