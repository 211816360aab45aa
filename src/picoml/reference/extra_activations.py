"""GELU and RELU_N1_TO_1 reference kernels.

tflite-micro registers neither op (its op resolver has no GELU, RELU_N1_TO_1 or RELU_0_TO_1
kernel: a model with them does not run there), so picoml follows LiteRT (``kernels/gelu.cc``,
``kernels/activations.cc``), which is also the oracle of their tests, int8 included.

GELU float32: ``0.5f·x·(1 + erff(x·M_SQRT1_2))``; with ``approximate``: ``0.5f·x·(1 +
tanhf(c·(x + 0.044715f·x·x·x)))``, ``c = (float)(M_2_SQRTPI·M_SQRT1_2)`` — float32 operations in
C's left-to-right order. int8: a 256-entry table filled at Prepare (LUTPopulate): for each code
q, ``d = in_scale·(q - in_zp)`` (float32), ``r = roundf(gelu(d)·(1/out_scale))``, ``(int32)(r +
out_zp)`` clamped to int8 (the table ELU uses, ``reference.elu``'s rounding).

RELU_N1_TO_1 float32: ``min(max(x, -1), 1)``. int8 (LiteRT's QuantizedReluX): ``out = out_zp +
MultiplyByQuantizedMultiplier(x - in_zp, in_scale / out_scale)`` clamped to ``[max(-128, out_zp +
roundf(-1 / out_scale)), min(127, out_zp + roundf(1 / out_scale))]`` (float32 divisions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked, round_half_away
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import cmath
from picoml.reference.common import INT8_MAX, INT8_MIN

F32 = np.float32
CODES = np.arange(-128, 128, dtype=np.int64)
SQRT1_2 = F32(math.sqrt(0.5))
TANH_C = F32((2.0 / math.sqrt(math.pi)) * math.sqrt(0.5))
GELU_CUBIC = F32(0.044715)


def gelu_float(x: np.ndarray, approximate: bool) -> np.ndarray:
    x = np.asarray(x, F32)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate:
            cubic = (((GELU_CUBIC * x).astype(F32) * x).astype(F32) * x).astype(F32)
            t = cmath.tanhf((TANH_C * (x + cubic).astype(F32)).astype(F32))
        else:
            t = cmath.erff((x * SQRT1_2).astype(F32))
        half_x = (F32(0.5) * x).astype(F32)
        return (half_x * (F32(1) + t).astype(F32)).astype(F32)


@dataclass(frozen=True)
class ActParams:
    op: OpType
    quantized: bool
    approximate: bool = False
    table: tuple[int, ...] = ()  # GELU int8: output for input codes -128..127
    input_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0
    shift: int = 0
    act_min: int = 0
    act_max: int = 0


def gelu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int, approximate: bool) -> np.ndarray:
    d = F32(in_scale) * (CODES - in_zp).astype(F32)
    with np.errstate(over="ignore", invalid="ignore"):
        r = round_half_away(gelu_float(d, approximate) * (F32(1) / F32(out_scale))).astype(F32)
        q = r + F32(out_zp)
    q = np.clip(np.nan_to_num(q, nan=0.0), -(2.0**31), 2.0**31 - 128)
    return np.clip(np.trunc(q).astype(np.int64), INT8_MIN, INT8_MAX)


def prepare(op: Op) -> ActParams:
    x, y = op.inputs[0], op.outputs[0]
    t = OpType(op.type)
    approx = bool(op.attrs.get("approximate", False))
    if x.dtype != "int8":
        return ActParams(t, False, approx)
    zi, zo = int(x.zero_point[0]), int(y.zero_point[0])
    if t == OpType.GELU:
        table = gelu_table(float(x.scale[0]), zi, float(y.scale[0]), zo, approx)
        return ActParams(t, True, approx, tuple(int(v) for v in table))
    s_in, s_out = F32(x.scale[0]), F32(y.scale[0])
    m, s = quantize_multiplier_checked(
        float(s_in) / float(s_out), f"{op.label}: output {y.name!r}", "input / output scale"
    )
    lo = max(INT8_MIN, zo + int(round_half_away(np.asarray(F32(-1) / s_out))))
    hi = min(INT8_MAX, zo + int(round_half_away(np.asarray(F32(1) / s_out))))
    return ActParams(t, True, False, (), zi, zo, m, s, lo, hi)


def evaluate(p: ActParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        if p.op == OpType.GELU:
            return gelu_float(x, p.approximate)
        return np.clip(x, F32(-1), F32(1)).astype(F32)
    if p.op == OpType.GELU:
        return np.asarray(p.table, np.int8)[x.astype(np.int64) + 128]
    v = multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift) + p.output_zp
    return np.clip(v, p.act_min, p.act_max).astype(np.int8)
