"""LOG_SOFTMAX reference kernel: ``x - max - log(Σ exp(x - max))`` over the last axis.

Sources: tflite-micro ``micro/kernels/log_softmax.cc`` (CalculateOpData),
``reference/log_softmax.h`` (``LogSoftmax`` float and ``LogSoftmaxQuantized``),
``quantization_util.cc`` (PreprocessLogSoftmaxScalingExp, CalculateInputRadius) and
``kernels/internal/common.h`` (``log_x_for_x_greater_than_or_equal_to_1_impl``), gemmlowp
``fixedpoint.h`` (exp_on_negative_values).

float32, per row: ``max``; ``sum = Σ expf(x - max)`` in float32, in order; ``out = (x - max) -
logf(sum)`` (two float32 subtractions).

int8: tflite-micro requires the output scale to be exactly 16/256 (float compare) and the zero
point 127 (graph/extra_ops.py). Prepare (double): ``m, shift = QuantizeMultiplierGreaterThanOne(
min(in_scale · 2^26, 2^31 - 1))``; ``rev_m, rev_shift = QuantizeMultiplierSmallerThanOneExp(
2^(31 - shift) / m)``; ``diff_min = -CalculateInputRadius(5, shift)``. Eval per row: ``diff = x -
max``; the entries with ``diff >= diff_min`` add ``Rescale<12>(exp_on_negative_values(
MBQM(diff, m, shift)))`` (Q5.26 in, Q12.19 sum); ``L = log_x_for_x_greater_than_or_equal_to_1<5>(
sum)`` (Q5.26); ``adjusted = max(diff_min - 1, MBQM(L + INT32_MIN, rev_m, rev_shift))``; an entry
with ``diff > adjusted`` gives ``RoundingDivideByPOT(MBQM(diff, m, shift) - L, 22) + 127`` clamped
to int8, every other -128.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    calculate_input_radius,
    count_leading_zeros_u32,
    exp_on_negative_values,
    fp_mul,
    multiply_by_quantized_multiplier,
    one_over_one_plus_x_for_x_in_0_1,
    quantize_multiplier,
    rescale,
    rounding_divide_by_pot,
    rounding_half_sum,
    saturating_rounding_multiply_by_pot,
    wrap_int32,
)
from picoml.graph.ir import Op
from picoml.reference import cmath

INPUT_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12
OUTPUT_INTEGER_BITS = 4
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
#: rows longer than this may overflow the Q12.19 sum (tflite-micro: "safe ... in 2^12 steps")
MAX_DEPTH = 1 << 12


@dataclass(frozen=True)
class LogSoftmaxParams:
    quantized: bool
    input_multiplier: int = 0
    input_left_shift: int = 0
    reverse_multiplier: int = 0
    reverse_shift: int = 0
    diff_min: int = 0


def prepare(op: Op) -> LogSoftmaxParams:
    x = op.inputs[0]
    if x.dtype != "int8":
        return LogSoftmaxParams(False)
    if x.shape[-1] > MAX_DEPTH:
        raise UnsupportedError(
            f"{op.label}: rows of {x.shape[-1]} values overflow the Q12.19 sum (at most {MAX_DEPTH})"
        )
    real = min(float(np.float32(x.scale[0])) * (1 << (31 - INPUT_INTEGER_BITS)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise UnsupportedError(
            f"{op.label}: input scale of {x.name!r} is too small for int8 LOG_SOFTMAX "
            "(QuantizeMultiplierGreaterThanOne needs scale > 2^-26)"
        )
    m, shift = quantize_multiplier(real)
    rev_m, rev_shift = quantize_multiplier((1 << (31 - shift)) / m)
    if rev_shift > 0:
        raise UnsupportedError(f"{op.label}: reverse scaling of {x.name!r} is not below one")
    diff_min = -calculate_input_radius(INPUT_INTEGER_BITS, shift)
    return LogSoftmaxParams(True, m, shift, rev_m, rev_shift, diff_min)


def _sat(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT32_MIN, INT32_MAX)


# Q0.31 constants of log_x_for_x_greater_than_or_equal_to_1_impl (kernels/internal/common.h)
LOG_2, SQRT_SQRT_HALF, SQRT_HALF, ONE_QUARTER = 1488522236, 1805811301, 1518500250, 536870912
ALPHA_N, ALPHA_D, ALPHA_I, ALPHA_F = 117049297, 127690142, 1057819769, 638450708


def log_x_ge_1(z: np.ndarray, input_bits: int, output_bits: int) -> np.ndarray:
    """log(x) for a FixedPoint<int32, input_bits> x >= 1, as FixedPoint<int32, output_bits> raws."""
    accum_bits = output_bits + 1
    z = np.asarray(z, np.int64)
    shifted_quarter = rescale(np.int64(ONE_QUARTER), 0, accum_bits)
    headroom_a = count_leading_zeros_u32(z)
    r_a_tmp = _pot(z, headroom_a - 1)
    r_a = _pot(fp_mul(r_a_tmp, SQRT_HALF), np.ones_like(z))
    z_a_pow = _sat(_pot(input_bits - headroom_a, np.full_like(z, 31 - accum_bits)) + shifted_quarter)
    z_b = fp_mul(z, SQRT_HALF)
    headroom_b = count_leading_zeros_u32(z_b) - 1
    r_b = _pot(z, headroom_b)
    z_b_pow = _sat(_pot(input_bits - headroom_b, np.full_like(z, 31 - accum_bits)) - shifted_quarter)
    r = np.minimum(r_a, r_b)
    z_pow = np.maximum(z_a_pow, z_b_pow)
    p = rounding_half_sum(r, SQRT_SQRT_HALF)
    q = wrap_int32(r - SQRT_SQRT_HALF)
    q = wrap_int32(q + q)
    common_sq = fp_mul(q, q)
    num = wrap_int32(fp_mul(q, r) + fp_mul(fp_mul(q, common_sq), ALPHA_N))
    inner = wrap_int32(wrap_int32(ALPHA_I + q) + fp_mul(ALPHA_D, common_sq))
    denom_minus_one = wrap_int32(fp_mul(p, inner) + fp_mul(ALPHA_F, q))
    recip = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = rescale(num, 0, accum_bits)
    total = wrap_int32(fp_mul(z_pow, LOG_2) + fp_mul(num_scaled, recip))
    return rescale(total, accum_bits, output_bits)


def _pot(x, exponent) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOTParam with a per-element exponent >= 0."""
    x = np.asarray(x, np.int64)
    e = np.broadcast_to(np.asarray(exponent, np.int64), np.broadcast_shapes(x.shape, np.shape(exponent)))
    out = np.empty(e.shape, np.int64)
    xb = np.broadcast_to(x, e.shape)
    for v in np.unique(e):
        sel = e == v
        out[sel] = saturating_rounding_multiply_by_pot(xb[sel], int(v))
    return out


def evaluate(p: LogSoftmaxParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        x = x.astype(np.float32)
        mx = x.max(axis=-1, keepdims=True)
        d = (x - mx).astype(np.float32)
        e = cmath.expf(d)
        s = np.zeros(x.shape[:-1] + (1,), np.float32)
        for c in range(x.shape[-1]):
            s = (s + e[..., c : c + 1]).astype(np.float32)
        return (d - cmath.logf(s)).astype(np.float32)
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    live = diff >= p.diff_min
    q5 = multiply_by_quantized_multiplier(np.where(live, diff, 0), p.input_multiplier, p.input_left_shift)
    e = rescale(exp_on_negative_values(q5, INPUT_INTEGER_BITS), 0, ACCUMULATION_INTEGER_BITS)
    total = wrap_int32(np.where(live, e, 0).sum(axis=-1, keepdims=True))
    log_sum = log_x_ge_1(total, ACCUMULATION_INTEGER_BITS, INPUT_INTEGER_BITS)
    limit = multiply_by_quantized_multiplier(log_sum + INT32_MIN, p.reverse_multiplier, p.reverse_shift)
    adjusted = np.maximum(p.diff_min - 1, limit)
    keep = diff > adjusted
    q5 = multiply_by_quantized_multiplier(np.where(keep, diff, 0), p.input_multiplier, p.input_left_shift)
    out = rounding_divide_by_pot(wrap_int32(q5 - log_sum), 31 - INPUT_INTEGER_BITS - OUTPUT_INTEGER_BITS) + 127
    return np.where(keep, np.clip(out, -128, 127), -128).astype(np.int8)
