"""LEAKY_RELU reference kernel: ``x if x > 0 else alpha * x``.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/leaky_relu_common.cc`` (Prepare),
``leaky_relu.cc`` (Eval) and the reference functions ``LeakyRelu`` / ``QuantizeLeakyRelu`` of
``tensorflow/lite/kernels/internal/reference/leaky_relu.h``.

float32: ``x > 0 ? x : x * alpha``, one float32 multiply, as TFLite does it (alpha may be
negative or above 1, so this is not ``max(x, alpha * x)``). The same IEEE operation as LiteRT's.

int8, as TFLM computes it:

- Prepare. ``alpha_multiplier = in_scale * alpha / out_scale`` and ``identity_multiplier =
  in_scale / out_scale``, each through QuantizeMultiplier. The scales and ``alpha`` are float32
  values, and picoml evaluates both quotients in *double* (left to right). TFLM's source reads
  as float arithmetic widened afterwards (``static_cast<double>(in_scale * alpha / out_scale)``
  on C floats), but the tflite-micro oracle behaves as double: on 40 of 40 configurations chosen
  because the two evaluations give different int8 outputs, tflite-micro matched double and never
  float32 (``tests/kernels/test_leaky_relu.py::test_prepare_multipliers_are_double`` keeps 5).
  A negative alpha gives a negative double, which QuantizeMultiplier takes through frexp like
  any other (mantissa in (-1, -0.5], the exponent of |alpha_multiplier|, no bump at -2^31): the
  Q31 multiplier is the negation of |alpha|'s, same shift (``quantize_multiplier`` makes no sign
  assumption and matches it). ``alpha = 0`` gives the multiplier 0 (negative inputs map to the
  output zero point); a tiny |alpha| whose exponent is below -31 flushes to 0 in both.
- Eval: ``v = x - in_zp``; ``out = out_zp + MultiplyByQuantizedMultiplier(v, v >= 0 ?
  identity : alpha)`` (double rounding), clamped to [-128, 127]; no activation clamp.

Negative multiplier. Taken literally, gemmlowp's SaturatingRoundingDoublingHighMul rounds a
tie of ``v * m`` up (toward +inf) whatever the sign of m. tflite-micro does not: with a
negative alpha multiplier its output is exactly ``-MultiplyByQuantizedMultiplier(v, -m,
shift)``, the product rounded on its magnitude and negated, so a tie goes toward -inf (toward
the output zero point). E.g. in scale 1, zero points 0, alpha -0.5: x = -127 gives 63 (63.5
rounded down), not 64. Ties need a multiplier with few significant bits (power-of-two scales,
alphas like -0.5 or -2.5): on 600 such configurations, 237 of which tell the two apart,
tflite-micro matched the negated form every time and the literal one never (on 250 random
configurations there were no ties: both matched). picoml computes the negated form
(``tests/kernels/test_leaky_relu.py::test_negative_alpha_ties_round_toward_zero_point``).

Refused (UnsupportedError) where TFLM is undefined: a NaN or infinite alpha (QuantizeMultiplier
would convert NaN/inf to an integer) and a multiplier of 2^30 or more
(``quantize_multiplier_checked``: TFLM would shift int32 values left by 31 or more bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN


@dataclass(frozen=True)
class LeakyReluParams:
    quantized: bool
    alpha: np.float32 = np.float32(0)
    input_zp: int = 0
    output_zp: int = 0
    identity_multiplier: int = 0
    identity_shift: int = 0
    alpha_multiplier: int = 0
    alpha_shift: int = 0


def _multiplier(op: Op, real: float, formula: str) -> tuple[int, int]:
    where = f"{op.label}: output {op.outputs[0].name!r}"
    if not np.isfinite(real):
        raise UnsupportedError(
            f"{where}: requantization multiplier {real} ({formula}) is not finite; TFLite Micro would "
            "convert it to an integer, which is undefined in C"
        )
    return quantize_multiplier_checked(real, where, formula)


def prepare(op: Op) -> LeakyReluParams:
    x, y = op.inputs[0], op.outputs[0]
    alpha = np.float32(op.attrs["alpha"])
    if x.dtype != "int8":
        return LeakyReluParams(False, alpha)
    s_in, s_out = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
    m_id, sh_id = _multiplier(op, s_in / s_out, "input scale / output scale")
    m_a, sh_a = _multiplier(op, s_in * float(alpha) / s_out, "input scale * alpha / output scale")
    return LeakyReluParams(True, alpha, int(x.zero_point[0]), int(y.zero_point[0]), m_id, sh_id, m_a, sh_a)


def evaluate(p: LeakyReluParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        with np.errstate(invalid="ignore", over="ignore"):  # inf alpha times 0, as in C: NaN
            return np.where(x > 0, x, x * p.alpha).astype(np.float32)
    v = x.astype(np.int64) - p.input_zp
    pos = v >= 0
    # a negative alpha multiplier: the product with its magnitude, negated (module docstring)
    sign = np.where(pos, 1, -1 if p.alpha_multiplier < 0 else 1)
    m = np.where(pos, p.identity_multiplier, abs(p.alpha_multiplier))
    s = np.where(pos, p.identity_shift, p.alpha_shift)
    out = sign * multiply_by_quantized_multiplier(v, m, s) + p.output_zp
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)
