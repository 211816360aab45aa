"""HARD_SWISH reference kernel: ``x · relu6(x + 3) / 6``.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/hard_swish_common.cc`` (Prepare),
``hard_swish.cc`` (Eval) and ``HardSwish`` of ``tensorflow/lite/kernels/internal/reference/
hard_swish.h``.

float32: ``x · min(6, max(0, x + 3)) / 6`` in float32, one rounding per operation, left to right
(the product first, then the division by 6), as LiteRT's reference and TFLM compute it.

int8: TFLM's own 16-bit fixed-point arithmetic, reproduced step by step.

- Prepare. ``hires_input_scale = input_scale / 128``; ``output_multiplier = hires_input_scale /
  output_scale`` and ``reluish_multiplier = hires_input_scale / (3 / 32768)`` go through
  QuantizeMultiplier (Q31, exponent) and DownScaleInt32ToInt16Multiplier (Q15, rounding half
  up, INT16_MAX within 2^15 of INT32_MAX). TFLM requires the output exponent to be ≤ 0
  (``output_multiplier < 1``, i.e. ``input_scale < 128 · output_scale`` up to rounding):
  picoml refuses the rest, as TFLM's Prepare fails. The source divides C floats and widens the
  quotient to double, but, as for LEAKY_RELU, the tflite-micro oracle behaves as the quotients
  evaluated in double: of 20000 random configurations, 3 give different int8 outputs with float32
  or double quotients, and tflite-micro matched double on all 3, float32 on none
  (``tests/kernels/test_hard_swish.py::test_prepare_quotients_are_double``).
- Eval, per element: ``v = x - in_zp`` (int16); ``hires = v · 128``; ``pre_out =
  SRDHM16(hires, output_multiplier)``; the "reluish" value: ``hires`` shifted left saturating by
  ``exponent - 1`` when the reluish exponent is positive, ``SRDHM16`` by its multiplier, one
  more saturating left shift (positive exponent) or a rounding right shift (negative), then
  mapped from [-1, 1] to [0, 1] as ``(r + 2^15) >> 1``; the product ``SDHM16(reluish, pre_out)``
  (truncating, not rounding: TFLM keeps it to cancel the rounding bias of the SRDHM16 steps);
  a rounding right shift by ``-output_exponent``; plus ``out_zp``, clamped to int8.
  ``RoundingDivideByPOT`` on int16 values by 16 or more bits gives ±1 (gemmlowp's int16 mask;
  ``fixedpoint.rounding_divide_by_pot_int16``).

The output depends only on the input code, so the generated C is a 256-entry table filled by
this kernel (codegen/emit_activation.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    downscale_int32_to_int16_multiplier,
    quantize_multiplier_checked,
    rounding_divide_by_pot_int16,
    saturating_doubling_high_mul_int16,
    saturating_left_shift_int16,
    saturating_rounding_doubling_high_mul_int16,
)
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN

F32 = np.float32


@dataclass(frozen=True)
class HardSwishParams:
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    output_multiplier: int = 0  # Q15
    output_exponent: int = 0  # <= 0
    reluish_multiplier: int = 0  # Q15
    reluish_exponent: int = 0


def prepare(op: Op) -> HardSwishParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return HardSwishParams(False)
    where = f"{op.label}: output {y.name!r}"
    hires = float(F32(x.scale[0])) / 128.0  # exact: a power of two
    out_real = hires / float(F32(y.scale[0]))  # in double (module docstring)
    relu_real = hires / (3.0 / 32768.0)
    m_out, e_out = quantize_multiplier_checked(out_real, where, "input scale / 128 / output scale")
    if e_out > 0:
        raise UnsupportedError(
            f"{where}: HARD_SWISH needs input scale / 128 < output scale (multiplier {out_real:.6g}, "
            f"exponent {e_out}); TFLite Micro refuses it"
        )
    m_relu, e_relu = quantize_multiplier_checked(relu_real, where, "input scale / 128 / (3 / 32768)")
    return HardSwishParams(
        True,
        int(x.zero_point[0]),
        int(y.zero_point[0]),
        downscale_int32_to_int16_multiplier(m_out),
        e_out,
        downscale_int32_to_int16_multiplier(m_relu),
        e_relu,
    )


def evaluate(p: HardSwishParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        with np.errstate(invalid="ignore", over="ignore"):
            r = np.minimum(F32(6), np.maximum(F32(0), x + F32(3)))
            return ((x * r) / F32(6)).astype(np.float32)
    hires = (x.astype(np.int64) - p.input_zp) * 128  # |v| <= 255: fits int16
    pre_out = saturating_rounding_doubling_high_mul_int16(hires, p.output_multiplier)
    r = hires
    if p.reluish_exponent > 0:
        r = saturating_left_shift_int16(r, p.reluish_exponent - 1)
    r = saturating_rounding_doubling_high_mul_int16(r, p.reluish_multiplier)
    if p.reluish_exponent > 0:
        r = saturating_left_shift_int16(r, 1)
    elif p.reluish_exponent < 0:
        r = rounding_divide_by_pot_int16(r, -p.reluish_exponent)
    r = (r + (1 << 15)) >> 1
    out = rounding_divide_by_pot_int16(saturating_doubling_high_mul_int16(r, pre_out), -p.output_exponent)
    return np.clip(out + p.output_zp, INT8_MIN, INT8_MAX).astype(np.int8)
