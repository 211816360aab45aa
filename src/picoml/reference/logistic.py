"""LOGISTIC (sigmoid) reference kernel.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/logistic.cc`` and
``logistic_common.cc`` (CalculateArithmeticOpDataLogistic), the TFLM reference
``reference_integer_ops::Logistic`` (``kernels/internal/reference/integer_ops/logistic.h``)
and gemmlowp ``fixedpoint/fixedpoint.h`` (``logistic``).

int8 → int8 in TFLM is the gemmlowp fixed-point path (not a lookup table):

- Prepare, in double: ``r = in_scale · 2^(31-4)``; ``q, shift = frexp(r)``;
  ``multiplier = round_half_away(q · 2^31)`` (plain frexp, *not* QuantizeMultiplier;
  with a float32 scale q·2^31 can never round up to 2^31); ``radius =
  CalculateInputRadius(4, shift) = floor(15 · 2^27 / 2^shift)``. TFLM checks only the
  output zero point (-128); the kernel's arithmetic assumes output scale 1/256, so
  picoml rejects any other output scale instead of mislabelling the result.
- Eval: ``v = x - input_zp``; ``v <= -radius`` → -128, else ``v >= radius`` → 127
  (this order: a zero radius sends v = 0 to -128, as in C); otherwise
  ``MultiplyByQuantizedMultiplier(v, m, shift)`` (double rounding) gives Q4.27,
  gemmlowp logistic gives Q0.31, ``RoundingDivideByPOT(·, 23) - 128`` clamped to int8.
  The |v| < radius guard keeps the Q4.27 value in range, so nothing overflows.
  CalculateInputRadius shifts by ``shift``: negative (input scale < 2^-28) or above 62
  (input scale >= 2^35) is undefined in C, so picoml refuses those scales; from 31 to 62
  the radius is 0 and every input saturates (v <= 0 → -128, else 127), as in TFLM.

float32: the exact sigmoid, rounded once to float32. This matches LiteRT (the float
oracle) to float rounding. TFLM's float reference_ops::Logistic instead returns exp(x)
below -9 and 1 above 16.62, which is off by up to ~1.2e-4 *relative* (about 1.5e-8
absolute) for x < -9; picoml does not copy that shortcut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    calculate_input_radius,
    fixedpoint_logistic,
    multiply_by_quantized_multiplier,
    round_half_away,
    rounding_divide_by_pot,
)
from picoml.graph.ir import Op

INPUT_INTEGER_BITS = 4
MAX_RADIUS_SHIFT = 62  # 1LL << 63 overflows int64
OUTPUT_INTEGER_BITS = 8


@dataclass(frozen=True)
class LogisticParams:
    quantized: bool
    input_zp: int = 0
    input_multiplier: int = 0
    input_left_shift: int = 0
    input_range_radius: int = 0


def tanh_logistic_input_params(op: Op) -> tuple[int, int, int]:
    """(multiplier, left_shift, radius) of TFLM's int8 LOGISTIC/TANH Prepare (frexp, double)."""
    x = op.inputs[0]
    real = float(np.float32(x.scale[0])) * float(1 << (31 - INPUT_INTEGER_BITS))
    q, shift = math.frexp(real)
    if shift < 0:
        # CalculateInputRadius would shift by a negative amount (undefined in C).
        raise UnsupportedError(
            f"{op.label}: input {x.name!r} scale {float(x.scale[0])!r} is too small for TFLite Micro's int8 kernel "
            f"(input multiplier shift {shift} < 0: its input radius shifts an int64 by a negative amount, "
            "undefined in C)"
        )
    if shift > MAX_RADIUS_SHIFT:
        # CalculateInputRadius divides by (1LL << shift): undefined in C from 63 on. Up to 62 the
        # radius is 0 for shift >= 31, every input saturates and the multiplier is never applied.
        raise UnsupportedError(
            f"{op.label}: input {x.name!r} scale {float(x.scale[0])!r} is too large for TFLite Micro's int8 kernel "
            f"(input multiplier shift {shift} > {MAX_RADIUS_SHIFT}: its input radius shifts an int64 by {shift} bits, "
            "undefined in C)"
        )
    multiplier = int(round_half_away(np.float64(q) * (1 << 31)))
    return multiplier, shift, calculate_input_radius(INPUT_INTEGER_BITS, shift, 31)


def prepare(op: Op) -> LogisticParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return LogisticParams(False)
    if int(y.zero_point[0]) != -128 or np.float32(y.scale[0]) != np.float32(1.0 / 256):
        raise UnsupportedError(
            f"{op.label}: int8 LOGISTIC output must have scale 1/256 and zero point -128 "
            f"(has {float(y.scale[0])!r}, {int(y.zero_point[0])}), as TFLite Micro's kernel assumes"
        )
    m, shift, radius = tanh_logistic_input_params(op)
    return LogisticParams(True, int(x.zero_point[0]), m, shift, radius)


def evaluate(p: LogisticParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        # Evaluated in float64 from exp(-|x|) (never overflows), rounded once to float32.
        xd = x.astype(np.float64)
        e = np.exp(-np.abs(xd))
        return np.where(xd >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)
    v = x.astype(np.int64) - p.input_zp
    inside = (v > -p.input_range_radius) & (v < p.input_range_radius)
    v_in = np.where(inside, v, 0)  # out-of-range lanes are never rescaled in C
    q4 = multiply_by_quantized_multiplier(v_in, p.input_multiplier, p.input_left_shift)
    q0 = fixedpoint_logistic(q4, INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(q0, 31 - OUTPUT_INTEGER_BITS) - 128, -128, 127)
    out = np.where(v >= p.input_range_radius, 127, out)
    out = np.where(v <= -p.input_range_radius, -128, out)
    return out.astype(np.int8)
