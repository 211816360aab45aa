"""TANH reference kernel.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/tanh.cc``
(CalculateArithmeticOpData), the TFLM reference ``reference_integer_ops::Tanh``
(``kernels/internal/reference/integer_ops/tanh.h``) and gemmlowp
``fixedpoint/fixedpoint.h`` (``tanh``).

int8 → int8 in TFLM is the gemmlowp fixed-point path:

- Prepare, in double: ``r = in_scale · 2^(31-4)``; ``q, shift = frexp(r)``;
  ``multiplier = round_half_away(q · 2^31)`` (frexp, not QuantizeMultiplier);
  ``radius = floor(15 · 2^27 / 2^shift)``. TFLM does not check the int8 output
  quantization, but its kernel writes tanh in Q0.7 with no zero point, i.e. it assumes
  scale 1/128 and zero point 0; picoml rejects anything else.
- Eval: ``v = x - input_zp``; ``v <= -radius`` → -128, else ``v >= radius`` → 127;
  otherwise MultiplyByQuantizedMultiplier (double rounding) to Q4.27, gemmlowp tanh to
  Q0.31, ``RoundingDivideByPOT(·, 24)`` clamped to int8 (tanh → 1 rounds to 128 → 127).

float32: ``tanh`` in float (TFLM's reference_ops::Tanh uses std::tanh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import fixedpoint_tanh, multiply_by_quantized_multiplier, rounding_divide_by_pot
from picoml.graph.ir import Op
from picoml.reference.logistic import INPUT_INTEGER_BITS, tanh_logistic_input_params

OUTPUT_FRACTIONAL_BITS = 7


@dataclass(frozen=True)
class TanhParams:
    quantized: bool
    input_zp: int = 0
    input_multiplier: int = 0
    input_left_shift: int = 0
    input_range_radius: int = 0


def prepare(op: Op) -> TanhParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return TanhParams(False)
    if int(y.zero_point[0]) != 0 or np.float32(y.scale[0]) != np.float32(1.0 / 128):
        raise UnsupportedError(
            f"{op.label}: int8 TANH output must have scale 1/128 and zero point 0 "
            f"(has {float(y.scale[0])!r}, {int(y.zero_point[0])}), as TFLite Micro's kernel assumes"
        )
    m, shift, radius = tanh_logistic_input_params(op)
    return TanhParams(True, int(x.zero_point[0]), m, shift, radius)


def evaluate(p: TanhParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        return np.tanh(x.astype(np.float32)).astype(np.float32)
    v = x.astype(np.int64) - p.input_zp
    inside = (v > -p.input_range_radius) & (v < p.input_range_radius)
    v_in = np.where(inside, v, 0)  # out-of-range lanes are never rescaled in C
    q4 = multiply_by_quantized_multiplier(v_in, p.input_multiplier, p.input_left_shift)
    q0 = fixedpoint_tanh(q4, INPUT_INTEGER_BITS)
    out = np.clip(rounding_divide_by_pot(q0, 31 - OUTPUT_FRACTIONAL_BITS), -128, 127)
    out = np.where(v >= p.input_range_radius, 127, out)
    out = np.where(v <= -p.input_range_radius, -128, out)
    return out.astype(np.int8)
