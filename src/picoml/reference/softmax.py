"""SOFTMAX reference kernel (softmax over the last axis).

Sources: tflite-micro ``tensorflow/lite/micro/kernels/softmax.cc`` and
``softmax_common.cc`` (CalculateSoftmaxParams), TFLite
``kernels/internal/reference/softmax.h`` (the templated quantized ``Softmax``),
``kernels/internal/quantization_util.cc`` (PreprocessSoftmaxScaling,
CalculateInputRadius), ``kernels/internal/common.h`` (GetReciprocal) and gemmlowp
``fixedpoint/fixedpoint.h`` (exp_on_negative_values, one_over_one_plus_x_for_x_in_0_1).

int8 → int8 in TFLM takes the gemmlowp fixed-point path (no lookup table; the LUTs in
softmax_common.cc are only built for int16 inputs):

- Prepare (double precision): ``m = min(beta · in_scale · 2^(31-5), 2^31 - 1)``
  quantized with QuantizeMultiplierGreaterThanOne (frexp + round half away; the shift
  is *not* clamped to 30 in the double-rounding build), and
  ``diff_min = -floor(31 · 2^26 / 2^shift)`` (CalculateInputRadius(5, shift)).
  TFLM requires the int8 output to be exactly scale 1/256 (float compare) and zero
  point -128.
- Eval, per row: ``diff = x - max(row)``; entries with ``diff < diff_min`` give -128.
  The others are rescaled to Q5.26 (``SRDHM(diff · 2^shift, m)``; cannot overflow
  since |diff| <= radius), exponentiated to Q0.31, and summed in Q12.19 after a
  rounding right shift by 12 (int32 sum; wraps only for rows longer than 4096).
  GetReciprocal gives 1/sum in Q0.31 plus ``num_bits_over_unit``; the output is
  ``RoundingDivideByPOT(SRDHM(recip, exp), num_bits_over_unit + 23) - 128`` clamped to
  int8. All rounding is gemmlowp's (round half away from zero). TFLM checks that this
  shift is <= 31, i.e. that the row's sum of exponentials is below 512 (only possible
  for rows of >= 512 entries that are nearly flat after beta · scale); otherwise it
  aborts. picoml raises UnsupportedError for such rows instead.

float32: TFLM's reference: ``exp((x - max) · beta)`` in float, summed in float, divided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    calculate_input_radius,
    exp_on_negative_values,
    fp_mul,
    get_reciprocal,
    multiply_by_quantized_multiplier_greater_than_one,
    quantize_multiplier,
    rescale,
    rounding_divide_by_pot,
    wrap_int32,
)
from picoml.graph.ir import Op

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


@dataclass(frozen=True)
class SoftmaxParams:
    label: str
    quantized: bool
    beta: float = 1.0
    input_multiplier: int = 0
    input_left_shift: int = 0
    diff_min: int = 0


def prepare(op: Op) -> SoftmaxParams:
    x, y = op.inputs[0], op.outputs[0]
    beta = float(np.float32(op.attrs["beta"]))
    if len(x.shape) < 1:
        raise UnsupportedError(f"{op.label}: SOFTMAX needs an input of rank >= 1")
    if x.dtype != "int8":
        return SoftmaxParams(op.label, False, beta=beta)
    if y.dtype != "int8":
        raise UnsupportedError(f"{op.label}: int8 SOFTMAX only supports an int8 output, not {y.dtype}")
    if int(y.zero_point[0]) != -128 or np.float32(y.scale[0]) != np.float32(1.0 / 256):
        raise UnsupportedError(
            f"{op.label}: int8 SOFTMAX output must have scale 1/256 and zero point -128 "
            f"(has {float(y.scale[0])!r}, {int(y.zero_point[0])}), as TFLite Micro requires"
        )
    # PreprocessSoftmaxScaling, in double: beta and the scale are widened from float.
    real = min(beta * float(np.float32(x.scale[0])) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise UnsupportedError(
            f"{op.label}: beta × scale of input {x.name!r} = {real / (1 << 26):.3g} is too small for TFLite "
            "Micro's int8 SOFTMAX (QuantizeMultiplierGreaterThanOne needs > 2^-26)"
        )
    m, shift = quantize_multiplier(real)  # real <= 2^31 - 1: shift <= 31
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift)
    return SoftmaxParams(op.label, True, beta, m, shift, diff_min)


def evaluate(p: SoftmaxParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        x = x.astype(np.float32)
        e = np.exp((x - x.max(axis=-1, keepdims=True)) * np.float32(p.beta)).astype(np.float32)
        return (e / e.sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float32)

    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    live = diff >= p.diff_min
    # Masked-out entries are never rescaled in C; zero them so the fixed point stays in range.
    diff = np.where(live, diff, 0)
    scaled_diff = multiply_by_quantized_multiplier_greater_than_one(diff, p.input_multiplier, p.input_left_shift)
    exp_q0 = exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS)  # Q0.31
    exp_q12 = rescale(exp_q0, 0, ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(live, exp_q12, 0).sum(axis=-1, keepdims=True))
    shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - 8
    if (exponent < 0).any() or (exponent > 31).any():
        # TFLITE_CHECK(0 <= exponent <= 31) in the reference kernel: TFLM aborts the process.
        raise UnsupportedError(
            f"{p.label}: a row's sum of exponentials reaches 512, which TFLite Micro's int8 SOFTMAX "
            "cannot represent (it aborts); use shorter rows or a larger beta × input scale"
        )
    unsat = rounding_divide_by_pot(fp_mul(shifted_scale, exp_q0), exponent)
    out = np.clip(unsat - 128, -128, 127)
    return np.where(live, out, -128).astype(np.int8)
